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
        Error::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
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

/// `?includeDeleted=true` (support and admins). Read as text, so that a value other than
/// `true` or `false` gets this API's JSON error rather than the framework's plain text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContentQuery {
    #[serde(default)]
    include_deleted: Option<String>,
}

impl ContentQuery {
    fn include_deleted(&self) -> Result<bool, Error> {
        match self.include_deleted.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(Error::bad_input(format!(
                "includeDeleted must be true or false, not {other:?}"
            ))),
        }
    }
}

/// A single `Range: bytes=…` over `size` bytes: `Ok(None)` to serve it whole (no range, or
/// several, which a server may ignore), `Err(())` when it starts past the end.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            let (unit, spec) = v.split_once('=')?;
            unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
        })
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
    // Digits only: `u64::from_str` would also take `+5`.
    let number = |text: &str| match text.bytes().all(|b| b.is_ascii_digit()) {
        true => text.parse::<u64>().map_err(|_| ()),
        false => Err(()),
    };
    let range = match (number(start), number(end)) {
        // The last `n` bytes.
        (Err(_), Ok(n)) if start.is_empty() => {
            if n == 0 {
                return Err(());
            }
            size.saturating_sub(n)..size
        }
        (Ok(first), Err(_)) if end.is_empty() => first..size,
        (Ok(first), Ok(last)) if last >= first => first..last.saturating_add(1).min(size),
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
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/') || c == ' ' {
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

/// The headers every answer about the content carries: its `ETag`, ranges, and caching
/// that keeps one viewer's answer from another (`private`, revalidated, varying by token).
fn validators(etag: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    headers
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks of it) or is `*`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Whether a `Range` may be served: always without `If-Range`; with it, only while it names
/// the current content (a strong comparison), so a resumed download never splices two files.
fn if_range_holds(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(value)) => value.trim() == etag,
        Some(Err(_)) => false,
    }
}

/// `GET /attachments/{id}/content`: the bytes, with `ETag` (the SHA-256), `If-None-Match`
/// (304), one `Range` (206) and `If-Range`.
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
    let include_deleted = match query.include_deleted() {
        Ok(include) => include,
        Err(err) => return error_response(err),
    };
    // A PUT or a purge may erase the blob between reading the row and reading its bytes:
    // then the row is read again, once, and answers for itself (new bytes, or 404).
    let mut attempts = 0;
    let (row, sha256, range, blob) = loop {
        attempts += 1;
        let (row, sha256) = match content::readable(&state.db, &viewer, id, include_deleted).await {
            Ok(found) => found,
            Err(err) => return error_response(err),
        };
        let etag = format!("\"{sha256}\"");
        let mut response_headers = validators(&etag);
        if none_match(&headers, &etag) {
            return (StatusCode::NOT_MODIFIED, response_headers).into_response();
        }
        let size = u64::try_from(row.size_bytes).unwrap_or_default();
        let range = match if_range_holds(&headers, &etag) {
            true => byte_range(&headers, size),
            false => Ok(None),
        };
        let range = match range {
            Ok(range) => range,
            Err(()) => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response_headers.insert(header::CONTENT_RANGE, value);
                }
                let mut refused = refusal(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "BAD_USER_INPUT",
                    &format!("Range: the content has {size} bytes"),
                );
                refused.headers_mut().extend(response_headers);
                return refused;
            }
        };
        match state.storage.read(&sha256, range.clone()).await {
            Ok(blob) => break (row, sha256, range, blob),
            Err(object_store::Error::NotFound { .. }) if attempts == 1 => continue,
            Err(err) => {
                return error_response(Error::Internal(anyhow::anyhow!(
                    "attachment {id}: its blob {sha256} cannot be read: {err}"
                )));
            }
        }
    };
    let mut response_headers = validators(&format!("\"{sha256}\""));
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
        assert_eq!(range("Bytes=0-0", 100), Ok(Some(0..1)));
        assert_eq!(range("bytes=0-18446744073709551615", 100), Ok(Some(0..100)));
        assert_eq!(range("bytes=+5-9", 100), Ok(None));
        assert_eq!(range("bytes=-0", 100), Err(()));
        assert_eq!(range("bytes=0-", 0), Err(()));
        assert_eq!(range("bytes=99999999999999999999-", 100), Ok(None));
    }

    fn with(name: header::HeaderName, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists() {
        let etag = "\"abc\"";
        for yes in [
            &["\"abc\""][..],
            &["W/\"abc\""],
            &["\"x\", W/\"abc\""],
            &["\"x\"", "\"abc\""],
            &["*"],
        ] {
            assert!(
                none_match(&with(header::IF_NONE_MATCH, yes), etag),
                "{yes:?}"
            );
        }
        for no in [&[][..], &["\"abcd\""], &["abc"], &["W/\"x\""]] {
            assert!(
                !none_match(&with(header::IF_NONE_MATCH, no), etag),
                "{no:?}"
            );
        }
    }

    #[test]
    fn if_range_lets_a_range_through_only_for_the_current_content() {
        let etag = "\"abc\"";
        assert!(if_range_holds(&HeaderMap::new(), etag));
        assert!(if_range_holds(&with(header::IF_RANGE, &["\"abc\""]), etag));
        assert!(!if_range_holds(
            &with(header::IF_RANGE, &["W/\"abc\""]),
            etag
        ));
        assert!(!if_range_holds(&with(header::IF_RANGE, &["\"old\""]), etag));
        assert!(!if_range_holds(
            &with(header::IF_RANGE, &["Tue, 01 Jan 2030 00:00:00 GMT"]),
            etag
        ));
    }

    #[test]
    fn a_filename_is_quoted_safely() {
        let value = disposition("a \"quoted\"\\name\r\n.txt");
        assert_eq!(
            value.to_str().unwrap(),
            "attachment; filename=\"a _quoted__name__.txt\"; filename*=UTF-8''a%20%22quoted%22%5Cname%0D%0A.txt"
        );
        let value = disposition("../etc/passwd");
        assert!(
            value
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\".._etc_passwd\";")
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
