//! Reading a GraphQL request off HTTP: GET's query string or POST's JSON body (its
//! `Content-Type`, its size however it is sent, each parameter's type), into an
//! `async_graphql::Request`, with a persisted query's document looked up or checked.

use std::pin::Pin;

use axum::body::{Body, HttpBody as _};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};

use super::multipart::read_multipart;
use super::params::{EXAMPLE, Incoming, Params, Reading};
use super::refusal::Refusal;

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
