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
//! | `POST` without `Content-Type: application/json` (or multipart with a file) | 415 | 415 |
//! | multipart (a file) without a valid bearer token, before the body is read | 401 | 401 |
//! | a multipart request's file larger than `KEEPSAKE_MAX_UPLOAD` | 413 | 413 |
//!
//! This file holds the codes, the media types and [`Refusal`] (every status a request can be
//! refused with); the steps live beside it: `negotiate` (the `Accept` header), `request`
//! (reading GET and POST), `persisted` (APQ), `document` (parsing and the checks before
//! execution) and `response` (status and body of an answer).

mod document;
mod multipart;
mod negotiate;
mod persisted;
mod request;
mod response;
mod tokens;

use async_graphql::ServerError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use response::{Refused, body_response};

pub use document::{
    ParsedDocuments, check_required_variables, is_mutation, parse_document, repeats_object_keys,
};
pub use multipart::drain;
pub use negotiate::negotiate;
pub use persisted::{Audience, DocumentHash, PersistedQueries, document_hash};
pub use request::{Incoming, Reading, is_multipart, read_request};
pub use response::{Outcome, classify, executed, refused};
pub use tokens::count_tokens;

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
    /// 413: a multipart request's file is larger than `KEEPSAKE_MAX_UPLOAD`.
    #[error(
        "the file is larger than KEEPSAKE_MAX_UPLOAD ({limit} bytes); nothing was stored. Send \
         a smaller file, or ask the operator to raise the limit"
    )]
    UploadTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// 401: a multipart request (one that carries a file) without a valid bearer token. Only
    /// a signed-in user may upload, so the file is not read at all.
    #[error("{0}")]
    Unauthenticated(String),
    /// 415: a POST whose body is not declared `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After` and code `LIMIT_EXCEEDED`: the viewer (or the address, without
    /// a token) already has as many requests in flight as one may.
    #[error(
        "too many requests at once: {limit} are already in flight for this {who} \
         (KEEPSAKE_MAX_CONCURRENT); wait for one to finish, then send this again"
    )]
    TooManyRequests {
        /// The limit.
        limit: u32,
        /// "user" or "address".
        who: &'static str,
    },
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::PersistedQueryNotFound => StatusCode::OK,
            Refusal::MutationOverGet => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Refusal::PayloadTooLarge { .. } | Refusal::UploadTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Refusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `extensions.code` of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::PersistedQueryNotFound => PERSISTED_QUERY_NOT_FOUND,
            Refusal::Unauthenticated(_) => "UNAUTHENTICATED",
            Refusal::TooManyRequests { .. } => "LIMIT_EXCEEDED",
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
            Refusal::TooManyRequests { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
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

/// Sets `extensions.code` unless the error has one.
fn set_code(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}
