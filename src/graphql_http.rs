//! GraphQL over HTTP, as the GraphQL-over-HTTP spec reads it and the `graphql-http` audit
//! suite checks it: what a request may look like, which media type answers it, which status
//! goes with which outcome, and the `extensions.code` of documents refused before execution.
//!
//! The `/graphql` handler ([`crate::app`]) picks the answer's [`MediaType`] with
//! [`negotiate`], reads the request with [`read_request`], parses it with [`parse_document`],
//! and answers an executed response with [`executed`] or a refused one with [`refused`]
//! ([`classify`] tells them apart). [`PersistedQueries`] keeps documents for Apollo's
//! Automatic Persisted Queries, so a client may send a document's hash instead of it.
//!
//! | outcome | `application/json` | `application/graphql-response+json` |
//! |---|---|---|
//! | executed, field errors and `data: null` included | 200 | 200 |
//! | document refused before execution (parse, validation, variables), no `data` | 200 | 400 |
//! | malformed request: not JSON, no `query`, a parameter of the wrong type | 400 | 400 |
//! | a persisted query's hash that does not match its `query` | 400 | 400 |
//! | a persisted query's hash alone, not held here (`PERSISTED_QUERY_NOT_FOUND`) | 200 | 200 |
//! | a mutation sent with `GET` | 405 | 405 |
//! | `Accept` allows neither media type | 406 | 406 |
//! | body larger than the limit, `Content-Length` or chunked | 413 | 413 |
//! | `POST` without `Content-Type: application/json` | 415 | 415 |

use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use async_graphql::parser::types::{DocumentOperations, OperationDefinition};
use async_graphql::{ServerError, Value};
use axum::body::{Body, HttpBody as _};
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// `extensions.code` of a document that is not GraphQL (SPEC §4).
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document or variables the schema refuses before execution: unknown
/// fields, depth and cost limits, variables of the wrong type (SPEC §4).
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// `extensions.code` of an HTTP request that carries no GraphQL request to run.
const BAD_REQUEST: &str = "BAD_USER_INPUT";
/// `extensions.code` of a persisted query's hash sent alone whose document this server does
/// not hold: the client sends it again with the document (Apollo's APQ protocol).
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

/// What a request body should look like, for messages.
const EXAMPLE: &str = r#"{"query": "{ me { id } }"}"#;

/// The media types a GraphQL response is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: the legacy type; every well-formed request answers 200.
    Json,
    /// `application/graphql-response+json`: a document refused before execution answers 400.
    GraphQLResponseJson,
}

impl MediaType {
    /// The type without parameters.
    pub fn essence(self) -> &'static str {
        match self {
            MediaType::Json => "application/json",
            MediaType::GraphQLResponseJson => "application/graphql-response+json",
        }
    }

    /// The `Content-Type` of a response in this type.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::Json => "application/json; charset=utf-8",
            MediaType::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// A request refused before it reaches the schema. Each variant documents its status; all
/// carry `extensions.code` `BAD_USER_INPUT` and a message that says what to send instead.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 400: the body or the URL is not a GraphQL request (bad JSON, no `query`, a parameter
    /// of the wrong type, a persisted query's hash that is not the document's).
    #[error("{0}")]
    BadRequest(String),
    /// 200 with `extensions.code` `PERSISTED_QUERY_NOT_FOUND` and `Cache-Control: private,
    /// no-cache` (a cache must not keep the miss): a persisted query's hash alone, whose
    /// document this server does not hold. Apollo clients match this exact message and
    /// send the request again with the document.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// 405 with `Allow: POST`: GET may not change anything.
    #[error("mutations must be sent with POST; GET runs queries only")]
    MutationOverGet,
    /// 406: the `Accept` header allows neither media type.
    #[error(
        "this endpoint answers in application/graphql-response+json or application/json, and \
         the Accept header allows neither; accept one of them (open /playground in a browser)"
    )]
    NotAcceptable,
    /// 413: the body is larger than the limit.
    #[error(
        "the request body is larger than the limit of {}; send a shorter document or smaller \
         variables",
        bytes(*limit)
    )]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 415: a POST whose body is not declared `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::PersistedQueryNotFound => StatusCode::OK,
            Refusal::MutationOverGet => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Refusal::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The `extensions.code` of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::PersistedQueryNotFound => PERSISTED_QUERY_NOT_FOUND,
            _ => BAD_REQUEST,
        }
    }

    /// The refusal as `{"errors": [{"message", "extensions": {"code"}}]}` in `media`.
    pub fn into_response(self, media: MediaType) -> Response {
        let mut error = ServerError::new(self.to_string(), None);
        set_code(&mut error, self.code());
        let mut response = body_response(self.status(), media, &Refused { errors: &[error] });
        let headers = response.headers_mut();
        match self {
            Refusal::MutationOverGet => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            Refusal::PersistedQueryNotFound => {
                headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-cache, must-revalidate"),
                );
            }
            _ => {}
        }
        response
    }
}

/// Picks the response's media type from the `Accept` header: the acceptable type with the
/// highest q-value; on a tie the one named more specifically, then the one listed first,
/// then `application/json`. No `Accept`, `*/*` and `application/*` get `application/json`
/// (the spec's choice for clients that predate `application/graphql-response+json`).
pub fn negotiate(headers: &HeaderMap) -> Result<MediaType, Refusal> {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let accept = accept.join(",");
    if accept.trim().is_empty() {
        return Ok(MediaType::Json);
    }
    let ranges: Vec<(String, f32)> = accept.split(',').filter_map(media_range).collect();
    // A type's most specific matching range gives its q (RFC 9110 §12.5.1); the answer is
    // (q, specificity, position of that range), `None` when the type is not acceptable.
    let rank = |media: MediaType| {
        let (top_level, _) = media.essence().split_once('/').unwrap_or_default();
        ranges
            .iter()
            .enumerate()
            .filter_map(|(position, (range, q))| {
                let specificity: u8 = if range == media.essence() {
                    3
                } else if range.strip_suffix("/*") == Some(top_level) {
                    2
                } else if range == "*/*" {
                    1
                } else {
                    return None;
                };
                Some((*q, specificity, position))
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .filter(|(q, _, _)| *q > 0.0)
    };
    // Highest q, then the more specific mention, then the earlier one. `Json` is ranked
    // first and only a strictly better rank displaces it, so a wildcard tie stays with it.
    let mut best: Option<(MediaType, (f32, u8, usize))> = None;
    for media in [MediaType::Json, MediaType::GraphQLResponseJson] {
        let Some((q, specificity, position)) = rank(media) else {
            continue;
        };
        let better = best.is_none_or(|(_, (best_q, best_specificity, best_position))| {
            q > best_q
                || (q == best_q
                    && (specificity > best_specificity
                        || (specificity == best_specificity && position < best_position)))
        });
        if better {
            best = Some((media, (q, specificity, position)));
        }
    }
    best.map(|(media, _)| media).ok_or(Refusal::NotAcceptable)
}

/// One `Accept` entry as (lower-case range, q); `None` for an empty or malformed one.
fn media_range(entry: &str) -> Option<(String, f32)> {
    let mut parts = entry.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    if !range.contains('/') {
        return None;
    }
    let mut q = 1.0;
    for param in parts {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            q = value
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some((range, q))
}

/// A GraphQL request read off HTTP.
pub struct Incoming {
    /// The request, its document included (a persisted one when only its hash came).
    pub request: async_graphql::Request,
    /// The hash to keep the document under once it has been validated and run: the client
    /// sent the document with its hash ([`PersistedQueries::insert`]).
    pub register: Option<DocumentHash>,
}

/// Reads a GraphQL request: from the URL's query string for GET, from a JSON body (at most
/// `limit` bytes, however it is sent) otherwise. A persisted query's hash sent alone is
/// looked up in `persisted`.
pub async fn read_request(
    request: Request,
    limit: usize,
    persisted: &PersistedQueries,
) -> Result<Incoming, Refusal> {
    let (parts, body) = request.into_parts();
    let params = if parts.method == Method::GET {
        Params::from_uri(&parts.uri)?
    } else {
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
    params.into_request(persisted)
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
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Params {
    /// From a POST body: one JSON object.
    fn from_json(body: &[u8]) -> Result<Params, Refusal> {
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

    fn into_request(self, persisted: &PersistedQueries) -> Result<Incoming, Refusal> {
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
        let (query, register) = match (query, hash) {
            (Some(query), None) => (query, None),
            (Some(query), Some(hash)) => {
                if document_hash(&query) != hash {
                    return Err(Refusal::BadRequest(
                        "the persisted query's sha256Hash is not the SHA-256 of \"query\"; send \
                         the lower-case hex SHA-256 of the exact document text"
                            .into(),
                    ));
                }
                (query, Some(hash))
            }
            (None, Some(hash)) => match persisted.get(&hash) {
                Some(query) => (query, None),
                None => return Err(Refusal::PersistedQueryNotFound),
            },
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
        Ok(Incoming { request, register })
    }
}

/// The SHA-256 of a GraphQL document's text, which names it in Automatic Persisted Queries.
pub type DocumentHash = [u8; 32];

/// The hash of `document`.
pub fn document_hash(document: &str) -> DocumentHash {
    use sha2::Digest as _;
    sha2::Sha256::digest(document.as_bytes()).into()
}

/// `extensions.persistedQuery` (`{"version": 1, "sha256Hash": "<64 hex digits>"}`), if any.
fn persisted_query(
    extensions: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<DocumentHash>, Refusal> {
    const SHAPE: &str = r#"{"persistedQuery": {"version": 1, "sha256Hash": "<64 hex digits>"}}"#;
    let Some(persisted) = extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let serde_json::Value::Object(persisted) = persisted else {
        return Err(Refusal::BadRequest(format!(
            "\"extensions.persistedQuery\" must be an object, as in {SHAPE}"
        )));
    };
    if persisted.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(Refusal::BadRequest(format!(
            "unsupported persisted query version; this server speaks version 1: {SHAPE}"
        )));
    }
    persisted
        .get("sha256Hash")
        .and_then(serde_json::Value::as_str)
        .and_then(parse_hex_hash)
        .map(Some)
        .ok_or_else(|| {
            Refusal::BadRequest(format!(
                "\"sha256Hash\" must be the SHA-256 of the document as 64 hex digits: {SHAPE}"
            ))
        })
}

/// 64 hex digits (either case) as the 32 bytes they spell.
fn parse_hex_hash(hex: &str) -> Option<DocumentHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |b: u8| char::from(b).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? << 4 | digit(pair[1])?).ok()?;
    }
    Some(hash)
}

/// The documents of Automatic Persisted Queries, by hash: in memory, per server, the least
/// recently used forgotten first past [`PersistedQueries::MAX_DOCUMENTS`] documents or
/// [`PersistedQueries::MAX_BYTES`] bytes of text. Servers share nothing and forget all at a
/// restart: a miss only asks the client to send the document once more.
pub struct PersistedQueries {
    cache: Mutex<Documents>,
    max_documents: usize,
    max_bytes: usize,
}

struct Documents {
    by_hash: lru::LruCache<DocumentHash, String>,
    bytes: usize,
}

impl Default for PersistedQueries {
    fn default() -> PersistedQueries {
        PersistedQueries::new(Self::MAX_DOCUMENTS, Self::MAX_BYTES)
    }
}

impl PersistedQueries {
    /// How many documents a server keeps.
    pub const MAX_DOCUMENTS: usize = 1_000;
    /// How much document text a server keeps: a bound on memory whatever the documents'
    /// sizes (each may be as large as a request body).
    pub const MAX_BYTES: usize = 16 * 1024 * 1024;

    /// A store of at most `max_documents` documents and `max_bytes` bytes of text.
    pub fn new(max_documents: usize, max_bytes: usize) -> PersistedQueries {
        PersistedQueries {
            cache: Mutex::new(Documents {
                by_hash: lru::LruCache::unbounded(),
                bytes: 0,
            }),
            max_documents,
            max_bytes,
        }
    }

    /// The document under `hash`, if held (it becomes the most recently used).
    pub fn get(&self, hash: &DocumentHash) -> Option<String> {
        self.lock().by_hash.get(hash).cloned()
    }

    /// Keeps `document` under its hash, forgetting the least recently used documents past
    /// the bounds.
    pub fn insert(&self, hash: DocumentHash, document: String) {
        if document.len() > self.max_bytes || self.max_documents == 0 {
            return;
        }
        let mut cache = self.lock();
        cache.bytes += document.len();
        if let Some(old) = cache.by_hash.put(hash, document) {
            cache.bytes -= old.len();
        }
        while cache.by_hash.len() > self.max_documents || cache.bytes > self.max_bytes {
            let Some((_, old)) = cache.by_hash.pop_lru() else {
                break;
            };
            cache.bytes -= old.len();
        }
    }

    /// How many documents are held.
    pub fn len(&self) -> usize {
        self.lock().by_hash.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Documents> {
        // A panic while holding the lock leaves the map consistent: use it anyway.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
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

/// A size for messages: "1 MiB", "512 KiB", "100 bytes".
fn bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
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

/// Parses the request's document ahead of execution (the schema reuses it), so a syntax
/// error is answered as one, with `GRAPHQL_PARSE_FAILED`, before any database work.
/// Document-level rules the parser enforces (one anonymous operation, unique names, the
/// nesting limit) are validation errors.
pub fn parse_document(request: &mut async_graphql::Request) -> Result<(), ServerError> {
    use async_graphql::parser::Error;
    let err = match async_graphql::parser::parse_query(&request.query) {
        Ok(document) => {
            request.set_parsed_query(document);
            return Ok(());
        }
        Err(err) => err,
    };
    let (message, code) = match &err {
        Error::Syntax { message, start, .. } => (
            format!(
                "syntax error at line {}, column {}: {}",
                start.line,
                start.column,
                syntax_reason(message)
            ),
            PARSE_FAILED,
        ),
        Error::RecursionLimitExceeded => (
            "the query is nested too deep to be read".to_owned(),
            VALIDATION_FAILED,
        ),
        Error::MissingOperation => (
            "the document holds no operation; send a query such as { me { id } }".to_owned(),
            VALIDATION_FAILED,
        ),
        other => (
            format!("the document cannot run: {other}"),
            VALIDATION_FAILED,
        ),
    };
    let mut error = ServerError::new(message, None);
    error.locations = err.positions().collect();
    set_code(&mut error, code);
    Err(error)
}

/// The reason in a pest error (its last `= …` line), without the drawing above it.
fn syntax_reason(message: &str) -> &str {
    message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("= "))
        .unwrap_or(message.trim())
}

/// Checks what the schema's validation leaves to execution: a non-null variable without a
/// default must be given, and not as `null` (the spec's variable coercion). Async-graphql
/// would otherwise run the operation and fail the field that uses it.
pub fn check_required_variables(request: &mut async_graphql::Request) -> Vec<ServerError> {
    let variables = request.variables.clone();
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return Vec::new();
    };
    let Some(operation) = selected_operation(&document.operations, name.as_deref()) else {
        return Vec::new(); // execution names the missing operation
    };
    operation
        .variable_definitions
        .iter()
        .filter(|definition| {
            let definition = &definition.node;
            !definition.var_type.node.nullable
                && definition.default_value.is_none()
                && variables
                    .get(definition.name.node.as_str())
                    .is_none_or(|value| *value == Value::Null)
        })
        .map(|definition| {
            let (name, ty) = (&definition.node.name.node, &definition.node.var_type.node);
            let given = variables.get(name.as_str()).is_some();
            let mut error = ServerError::new(
                if given {
                    format!("variable \"${name}\" of non-null type \"{ty}\" must not be null")
                } else {
                    format!("variable \"${name}\" of required type \"{ty}\" was not provided")
                },
                Some(definition.pos),
            );
            set_code(&mut error, VALIDATION_FAILED);
            error
        })
        .collect()
}

/// The operation a request names, or its only one.
fn selected_operation<'a>(
    operations: &'a DocumentOperations,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// What became of a request the schema was asked to run.
pub enum Outcome {
    /// Resolvers ran (errors, if any, are field errors with a path).
    Executed(async_graphql::Response),
    /// The schema refused the document before running anything: validation, depth, cost,
    /// variables, the operation to run. The errors carry `GRAPHQL_VALIDATION_FAILED` unless
    /// they had a code already.
    Refused(Vec<ServerError>),
}

/// Tells a refusal before execution from an execution. Async-graphql reports both as a
/// `Response`; a refusal is the one without `data` whose errors point at no field: every
/// resolver error carries the path of its field.
pub fn classify(response: async_graphql::Response) -> Outcome {
    let refused = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty());
    if !refused {
        return Outcome::Executed(response);
    }
    let mut errors = response.errors;
    for error in &mut errors {
        set_code(error, VALIDATION_FAILED);
    }
    Outcome::Refused(errors)
}

/// An executed response: 200 in either media type, `data` always present.
pub fn executed(media: MediaType, response: async_graphql::Response) -> Response {
    let mut http = body_response(StatusCode::OK, media, &response);
    if response.errors.is_empty()
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        http.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    http.headers_mut().extend(response.http_headers);
    http
}

/// A document refused before execution: no `data`; 400 in
/// `application/graphql-response+json`, 200 in `application/json` (as the spec says).
pub fn refused(media: MediaType, errors: &[ServerError]) -> Response {
    let status = match media {
        MediaType::Json => StatusCode::OK,
        MediaType::GraphQLResponseJson => StatusCode::BAD_REQUEST,
    };
    body_response(status, media, &Refused { errors })
}

/// The body of an answer without `data`.
#[derive(Serialize)]
struct Refused<'a> {
    errors: &'a [ServerError],
}

/// `body` as JSON in `media`, with `status`.
fn body_response(status: StatusCode, media: MediaType, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, media.content_type())],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(%err, "cannot serialize a GraphQL response");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, media.content_type())],
                r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#,
            )
                .into_response()
        }
    }
}

/// Sets `extensions.code` unless the error has one.
fn set_code(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Pos;

    use super::*;

    fn pick(accept: Option<&str>) -> Result<MediaType, ()> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        negotiate(&headers).map_err(|_| ())
    }

    #[test]
    fn accept_negotiation_follows_the_spec() {
        use MediaType::*;
        assert_eq!(pick(None), Ok(Json));
        assert_eq!(pick(Some("")), Ok(Json));
        assert_eq!(pick(Some("*/*")), Ok(Json));
        assert_eq!(pick(Some("application/*")), Ok(Json));
        assert_eq!(pick(Some("application/json")), Ok(Json));
        assert_eq!(
            pick(Some("application/graphql-response+json")),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some(
                "application/json;q=0.9, application/graphql-response+json"
            )),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some("application/json, application/graphql-response+json")),
            Ok(Json)
        );
        assert_eq!(
            pick(Some("application/graphql-response+json, */*;q=0.1")),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some("*/*, application/json;q=0")),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(pick(Some("APPLICATION/JSON; charset=utf-8")), Ok(Json));
        assert_eq!(pick(Some("text/html")), Err(()));
        assert_eq!(pick(Some("application/json;q=0")), Err(()));
        assert_eq!(pick(Some("application/xml, text/*")), Err(()));
    }

    #[test]
    fn document_hashes_are_sha256_in_hex() {
        // sha256("{ __typename }"), as `printf '{ __typename }' | sha256sum` prints it.
        let hex = "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b";
        assert_eq!(parse_hex_hash(hex), Some(document_hash("{ __typename }")));
        assert_eq!(
            parse_hex_hash(&hex.to_ascii_uppercase()),
            parse_hex_hash(hex)
        );
        assert_eq!(parse_hex_hash(&hex[1..]), None);
        assert_eq!(parse_hex_hash(&format!("{}zz", &hex[2..])), None);
        assert_eq!(parse_hex_hash(&format!("+{}", &hex[1..])), None);
    }

    #[test]
    fn persisted_queries_forget_the_least_recently_used_past_either_bound() {
        let store = PersistedQueries::new(2, 10);
        let put = |doc: &str| store.insert(document_hash(doc), doc.to_owned());
        let held = |doc: &str| store.get(&document_hash(doc)).is_some();
        put("{ a }");
        put("{ b }");
        assert!(held("{ a }")); // now the most recently used
        put("{ c }");
        assert!(held("{ a }") && held("{ c }") && !held("{ b }"));
        put("{ aaaaa }"); // 9 bytes: only it fits in 10
        assert_eq!(store.len(), 1);
        assert!(held("{ aaaaa }"));
        put("{ much too long }"); // larger than the whole budget: not kept
        assert!(held("{ aaaaa }") && !held("{ much too long }"));
        put("{ aaaaa }"); // again: counted once
        assert_eq!(store.lock().bytes, 9);
    }

    #[test]
    fn syntax_errors_keep_only_the_reason() {
        let mut request = async_graphql::Request::new("{");
        let error = parse_document(&mut request).unwrap_err();
        assert!(
            error
                .message
                .starts_with("syntax error at line 1, column 2: ")
        );
        assert!(!error.message.contains('\n'), "{}", error.message);
        assert_eq!(error.locations, vec![Pos { line: 1, column: 2 }]);
    }
}
