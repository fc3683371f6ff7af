//! `PUT` and `GET /attachments/{id}/content`: an attachment's bytes over plain HTTP, with the
//! bearer token and the same visibility as the GraphQL fields (SPEC §10).
//!
//! Errors are GraphQL-shaped JSON (`{"errors": [{"message", "extensions": {"code"}}]}`) with
//! the matching status: 401, 403, 404 (a deleted attachment, or another member's, exactly like
//! a missing one), 400, 413 (larger than `KEEPSAKE_MAX_UPLOAD`), 416 (a range past the end).

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::auth::{Bearer, Viewer};
use crate::error::Error;
use crate::ids::{self, Kind};
use crate::service::content::{self, UploadRefused};

/// An error as the content routes answer it.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// A service error as a response; internal ones are logged and say nothing more.
fn error_response(err: Error) -> Response {
    let status = match &err {
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::BadUserInput(_) => StatusCode::BAD_REQUEST,
        Error::Conflict(_) | Error::ParentDeleted(_) => StatusCode::CONFLICT,
        Error::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "content request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    refusal(status, err.code(), &err.to_string())
}

/// The signed-in viewer and the attachment's row id (a malformed id is as missing as any
/// other), or the error that says why not.
async fn viewer_and_id(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Viewer, i64), Error> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    let viewer = match state.tokens.authenticate(&state.db, authorization).await? {
        Bearer::Viewer(viewer) => viewer,
        Bearer::Undo(_) => {
            return Err(Error::forbidden(
                "this token is an undo credential: it can only restore its deletion",
            ));
        }
    };
    let id = ids::decode(Kind::Attachment, id)
        .map_err(|_| Error::not_found(format!("no attachment with id {id}")))?;
    Ok((viewer, id))
}

/// How much of a refused upload's body is read and dropped before the answer: a client still
/// sending when the server answers and closes sees a broken pipe instead of the answer.
/// Larger remainders are not worth reading; such clients see the connection close.
const DRAIN_BYTES: usize = 1024 * 1024;

/// `PUT /attachments/{id}/content`: the body becomes the attachment's bytes, streamed to the
/// store; answers the attachment's new metadata.
pub(super) async fn put_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let mut body = body.into_data_stream();
    let response = put(&state, &parts.headers, &id, &mut body).await;
    if !response.status().is_success() {
        let mut drained = 0;
        while let Some(Ok(chunk)) = body.next().await {
            drained += chunk.len();
            if drained > DRAIN_BYTES {
                break;
            }
        }
    }
    response
}

async fn put(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: &mut axum::body::BodyDataStream,
) -> Response {
    let (viewer, id) = match viewer_and_id(state, headers, id).await {
        Ok(found) => found,
        Err(err) => return error_response(err),
    };
    let too_large = |max: u64| {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_USER_INPUT",
            &format!(
                "the upload is larger than KEEPSAKE_MAX_UPLOAD ({max} bytes); nothing was stored"
            ),
        )
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|n| n > state.max_upload) {
        return too_large(state.max_upload);
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let uploaded = content::upload(
        &state.db,
        &state.storage,
        &viewer,
        id,
        declared,
        body,
        state.max_upload,
    )
    .await;
    match uploaded {
        Ok(row) => axum::Json(json!({
            "id": ids::encode(Kind::Attachment, row.id),
            "filename": row.filename,
            "contentType": row.content_type,
            "sizeBytes": row.size_bytes,
            "sha256": row.sha256,
        }))
        .into_response(),
        Err(UploadRefused::TooLarge { max }) => too_large(max),
        Err(UploadRefused::Api(err)) => error_response(err),
    }
}

/// `?includeDeleted=true` (support and admins).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContentQuery {
    #[serde(default)]
    include_deleted: bool,
}

/// A single `Range: bytes=…` over `size` bytes: `Ok(None)` to serve it whole (no range, or
/// several, which a server may ignore), `Err(())` when it starts past the end.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.parse::<u64>(), end.parse::<u64>()) {
        // The last `n` bytes.
        (Err(_), Ok(n)) if start.is_empty() => {
            if n == 0 {
                return Err(());
            }
            size.saturating_sub(n)..size
        }
        (Ok(first), Err(_)) if end.is_empty() => first..size,
        (Ok(first), Ok(last)) if last >= first => first..(last + 1).min(size),
        _ => return Ok(None),
    };
    if range.start >= size {
        return Err(());
    }
    Ok(Some(range))
}

/// A `Content-Disposition` that names the file safely: an ASCII fallback with anything
/// unsafe replaced, and the exact name percent-encoded (RFC 6266, RFC 8187).
fn disposition(filename: &str) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `GET /attachments/{id}/content`: the bytes, with `ETag` (the SHA-256), `If-None-Match`
/// (304) and one `Range` (206).
pub(super) async fn get_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ContentQuery>,
    headers: HeaderMap,
) -> Response {
    let (viewer, id) = match viewer_and_id(&state, &headers, &id).await {
        Ok(found) => found,
        Err(err) => return error_response(err),
    };
    let (row, sha256) = match content::readable(&state.db, &viewer, id, query.include_deleted).await
    {
        Ok(found) => found,
        Err(err) => return error_response(err),
    };
    let etag = format!("\"{sha256}\"");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    if matches {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    let size = u64::try_from(row.size_bytes).unwrap_or_default();
    let range = match byte_range(&headers, size) {
        Ok(range) => range,
        Err(()) => {
            response_headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("digits"),
            );
            let mut refused = refusal(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BAD_USER_INPUT",
                &format!("Range: the content has {size} bytes"),
            );
            refused.headers_mut().extend(response_headers);
            return refused;
        }
    };
    let blob = match state.storage.read(&sha256, range.clone()).await {
        Ok(blob) => blob,
        Err(err) => {
            return error_response(Error::Internal(anyhow::anyhow!(
                "attachment {id}: its blob {sha256} cannot be read: {err}"
            )));
        }
    };
    let content_type = HeaderValue::from_str(&row.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response_headers.insert(header::CONTENT_TYPE, content_type);
    response_headers.insert(header::CONTENT_DISPOSITION, disposition(&row.filename));
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Sent as stored: compression would break ranges and gains nothing on most files.
    response_headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    response_headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(blob.range.end - blob.range.start),
    );
    let status = if range.is_some() {
        response_headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!(
                "bytes {}-{}/{}",
                blob.range.start,
                blob.range.end.saturating_sub(1),
                blob.size
            ))
            .expect("digits"),
        );
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, response_headers, Body::from_stream(blob.bytes)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&headers, size)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-500", 100), Ok(Some(0..100)));
        assert_eq!(range("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("bytes=9-3", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn a_filename_is_quoted_safely() {
        let value = disposition("a \"quoted\"\\name\r\n.txt");
        assert_eq!(
            value.to_str().unwrap(),
            "attachment; filename=\"a _quoted__name__.txt\"; filename*=UTF-8''a%20%22quoted%22%5Cname%0D%0A.txt"
        );
        let value = disposition("résumé.pdf");
        assert!(
            value
                .to_str()
                .unwrap()
                .contains("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
        );
    }
}
