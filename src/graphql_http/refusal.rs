//! [`Refusal`]: every way a request is refused before it reaches the schema, with its status,
//! its code and a message that says what to send instead.

use async_graphql::ServerError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::codes::{BAD_REQUEST, PERSISTED_QUERY_NOT_FOUND, set_code};
use super::media::MediaType;
use super::response::{Refused, body_response};

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
