//! Answers: what became of an executed request ([`Outcome`]), and the status, headers and
//! body each outcome is sent with, in either media type.

use async_graphql::{ServerError, Value};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::codes::{VALIDATION_FAILED, set_code};
use super::media::MediaType;

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
    let mut http = body_response(StatusCode::OK, media, &Executed(&response));
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

/// An executed response's body: written by [`crate::json`], which copies in the lists the
/// resolvers wrote as JSON already.
struct Executed<'a>(&'a async_graphql::Response);

impl Body for Executed<'_> {
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        crate::json::write_response(self.0, out)
    }

    fn size_hint(&self) -> usize {
        crate::json::size_hint(&self.0.data) + 1024
    }
}

/// What can be written as a JSON body.
pub(super) trait Body {
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;

    /// Bytes to start the buffer with: most answers are small, and starting at 8 KiB spares
    /// the copies of growing from nothing and costs little when the answer is tiny.
    fn size_hint(&self) -> usize {
        8 * 1024
    }
}

impl Body for Refused<'_> {
    fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }
}

/// The body of an answer without `data`.
#[derive(Serialize)]
pub(super) struct Refused<'a> {
    pub(super) errors: &'a [ServerError],
}

/// `body` as JSON in `media`, with `status`.
pub(super) fn body_response(status: StatusCode, media: MediaType, body: &impl Body) -> Response {
    let mut bytes = Vec::with_capacity(body.size_hint());
    match body.write(&mut bytes) {
        Ok(()) => (
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
