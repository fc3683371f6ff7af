//! The parameters of a GraphQL request, as GET's query string or a JSON body (or a
//! multipart request's `operations` part) carry them, checked one by one, and the request
//! they make: an `async_graphql::Request` with its persisted query's hash.

use axum::extract::Query;
use serde::Deserialize;

use super::persisted::{DocumentHash, document_hash, persisted_query};
use super::refusal::Refusal;

/// What a request body should look like, for messages.
pub(super) const EXAMPLE: &str = r#"{"query": "{ me { id } }"}"#;

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
    pub(super) fn from_uri(uri: &axum::http::Uri) -> Result<Params, Refusal> {
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
