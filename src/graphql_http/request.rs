//! Reading a GraphQL request off HTTP: GET's query string or POST's JSON body (its
//! `Content-Type`, its size however it is sent, each parameter's type), into an
//! `async_graphql::Request`, with a persisted query's document looked up or checked.

use std::pin::Pin;

use axum::body::{Body, HttpBody as _};
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, Method, header};
use serde::Deserialize;

use super::Refusal;
use super::multipart::read_multipart;
use super::persisted::{DocumentHash, document_hash, persisted_query};

/// What a request body should look like, for messages.
const EXAMPLE: &str = r#"{"query": "{ me { id } }"}"#;

/// A GraphQL request read off HTTP.
pub struct Incoming {
    /// The request, its document included unless only its hash came (`lookup`).
    pub request: async_graphql::Request,
    /// The hash to keep the document under once it has been validated and run: the client
    /// sent the document with its hash ([`super::PersistedQueries::insert`]).
    pub register: Option<DocumentHash>,
    /// The hash of a persisted query sent alone: the caller looks its document up among
    /// those of the caller's audience ([`super::PersistedQueries::get`]) and puts it in
    /// `request.query`, which is empty until then.
    pub lookup: Option<DocumentHash>,
}

/// The bounds a request is read within.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    /// The largest JSON body (or multipart JSON part), in bytes.
    pub max_body: usize,
    /// The largest file of a multipart request, in bytes.
    pub max_file: u64,
    /// The most files (and `map` entries) of a multipart request.
    pub max_files: usize,
}

/// Reads a GraphQL request: from the URL's query string for GET, from a JSON body (at most
/// `max_body` bytes, however it is sent) otherwise. A persisted query's hash sent alone is
/// left for the caller to look up (`Incoming::lookup`). A POST of `multipart/form-data`
/// follows the GraphQL multipart request spec (`multipart.rs`): its files, each of at most
/// `max_file` bytes, stream to temporary files, never into memory.
pub async fn read_request(request: Request, reading: Reading) -> Result<Incoming, Refusal> {
    let limit = reading.max_body;
    let (parts, body) = request.into_parts();
    let params = if parts.method == Method::GET {
        Params::from_uri(&parts.uri)?
    } else {
        if let Some(content_type) = multipart(&parts.headers) {
            return read_multipart(&content_type, body, reading).await;
        }
        check_content_type(&parts.headers)?;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(Refusal::PayloadTooLarge { limit });
        }
        Params::from_json(&read_body(body, limit).await?)?
    };
    params.into_request()
}

/// Whether the request is a multipart POST (the GraphQL multipart request spec): one that
/// may carry a file.
pub fn is_multipart(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST && multipart(headers).is_some()
}

/// The `Content-Type` of a multipart POST, if this is one.
fn multipart(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence
        .eq_ignore_ascii_case("multipart/form-data")
        .then(|| value.to_owned())
}

/// A POST body must be JSON in UTF-8.
fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Refusal::UnsupportedMediaType(format!(
            "the request has no Content-Type; send the body as JSON with Content-Type: \
             application/json, such as {EXAMPLE}"
        )));
    };
    let value = value.to_str().unwrap_or_default();
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let utf8 = parts.all(|param| match param.split_once('=') {
        Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => charset
            .trim()
            .trim_matches('"')
            .eq_ignore_ascii_case("utf-8"),
        _ => true,
    });
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Refusal::UnsupportedMediaType(format!(
            "the request body is declared {essence:?}; send it as JSON with Content-Type: \
             application/json, such as {EXAMPLE}"
        )));
    }
    if !utf8 {
        return Err(Refusal::UnsupportedMediaType(
            "the request body must be JSON in UTF-8; send Content-Type: application/json \
             (or application/json; charset=utf-8)"
                .into(),
        ));
    }
    Ok(())
}

/// The whole body, refused as soon as it grows past `limit` (a chunked body declares no
/// length up front).
async fn read_body(mut body: Body, limit: usize) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|err| {
            tracing::debug!(%err, "cannot read a request body");
            Refusal::BadRequest(
                "the request body could not be read to its end; send it again".into(),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(Refusal::PayloadTooLarge { limit });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// The parameters of a GraphQL-over-HTTP request, checked.
pub(super) struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Params {
    /// From a POST body: one JSON object.
    pub(super) fn from_json(body: &[u8]) -> Result<Params, Refusal> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::BadRequest(format!(
                "the request body is empty; send a JSON object such as {EXAMPLE}"
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|err| {
            Refusal::BadRequest(format!(
                "the request body is not valid JSON ({err}); send a JSON object such as {EXAMPLE}"
            ))
        })?;
        let mut object = match value {
            serde_json::Value::Object(object) => object,
            serde_json::Value::Array(_) => {
                return Err(Refusal::BadRequest(format!(
                    "batched requests (a JSON array) are not supported; send one JSON object \
                     per request, such as {EXAMPLE}"
                )));
            }
            other => {
                return Err(Refusal::BadRequest(format!(
                    "the request body must be a JSON object such as {EXAMPLE}, not {}",
                    kind(&other)
                )));
            }
        };
        Ok(Params {
            query: string_param(&mut object, "query")?,
            operation_name: string_param(&mut object, "operationName")?,
            variables: map_param(object.remove("variables"), "variables")?,
            extensions: map_param(object.remove("extensions"), "extensions")?,
        })
    }

    /// From a GET's query string: `query` and `operationName` as they are, `variables` and
    /// `extensions` as URL-encoded JSON.
    fn from_uri(uri: &axum::http::Uri) -> Result<Params, Refusal> {
        #[derive(Deserialize)]
        struct Raw {
            query: Option<String>,
            #[serde(rename = "operationName")]
            operation_name: Option<String>,
            variables: Option<String>,
            extensions: Option<String>,
        }
        let Query(raw) = Query::<Raw>::try_from_uri(uri).map_err(|err| {
            Refusal::BadRequest(format!(
                "the URL's query string cannot be read ({}); send ?query=… once, with \
                 URL-encoded values",
                err.body_text()
            ))
        })?;
        let json = |text: Option<String>, name: &str| -> Result<_, Refusal> {
            let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
                return Ok(None);
            };
            let value = serde_json::from_str(&text).map_err(|err| {
                Refusal::BadRequest(format!(
                    "the {name:?} parameter is not valid JSON ({err}); send a URL-encoded JSON \
                     object"
                ))
            })?;
            map_param(Some(value), name)
        };
        Ok(Params {
            variables: json(raw.variables, "variables")?,
            extensions: json(raw.extensions, "extensions")?,
            query: raw.query,
            operation_name: raw.operation_name.filter(|name| !name.is_empty()),
        })
    }

    pub(super) fn into_request(self) -> Result<Incoming, Refusal> {
        let hash = self
            .extensions
            .as_ref()
            .map(persisted_query)
            .transpose()?
            .flatten();
        // An empty `query` beside a hash is the hash alone (some clients send `query=`).
        let query = self
            .query
            .filter(|query| hash.is_none() || !query.is_empty());
        let (query, register, lookup) = match (query, hash) {
            (Some(query), None) => (query, None, None),
            (Some(query), Some(hash)) => {
                if document_hash(&query) != hash {
                    return Err(Refusal::BadRequest(
                        "the persisted query's sha256Hash is not the SHA-256 of \"query\"; send \
                         the lower-case hex SHA-256 of the exact document text"
                            .into(),
                    ));
                }
                (query, Some(hash), None)
            }
            (None, Some(hash)) => (String::new(), None, Some(hash)),
            (None, None) => {
                return Err(Refusal::BadRequest(format!(
                    "the request has no \"query\": send the GraphQL document as {EXAMPLE} in a \
                     POST body, or as ?query=… with GET"
                )));
            }
        };
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            request = request.variables(async_graphql::Variables::from_json(
                serde_json::Value::Object(variables),
            ));
        }
        if let Some(extensions) = self.extensions {
            request.extensions = serde_json::from_value(serde_json::Value::Object(extensions))
                .map_err(|err| {
                    Refusal::BadRequest(format!("\"extensions\" cannot be read: {err}"))
                })?;
        }
        Ok(Incoming {
            request,
            register,
            lookup,
        })
    }
}

/// A string (or null) parameter of a JSON body.
fn string_param(
    object: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<String>, Refusal> {
    match object.remove(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(Refusal::BadRequest(format!(
            "{name:?} must be a string, not {}; send a body such as {EXAMPLE}",
            kind(&other)
        ))),
    }
}

/// A map (or null) parameter: `variables` or `extensions`.
fn map_param(
    value: Option<serde_json::Value>,
    name: &str,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, Refusal> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(Refusal::BadRequest(format!(
            "{name:?} must be a JSON object mapping names to values, not {}",
            kind(&other)
        ))),
    }
}

/// "a string", "an array", … for messages.
fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
