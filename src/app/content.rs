//! `PUT` and `GET /attachments/{id}/content`: an attachment's bytes over plain HTTP, with the
//! bearer token and the same visibility as the GraphQL fields (docs/DESIGN.md#attachment-content).
//!
//! Errors are GraphQL-shaped JSON (`{"errors": [{"message", "extensions": {"code"}}]}`) with
//! the matching status: 401, 403, 404 (a deleted attachment, or another member's, exactly like
//! a missing one), 400, 413 (larger than `KEEPSAKE_MAX_UPLOAD`), 416 (a range past the end).

use super::bearer::authorization;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::auth::{Bearer, Viewer};
use crate::error::{Error, error_body};
use crate::ids::{self, Kind};
use crate::service::content::{self, UploadRefused};
use crate::wire::http::{
    Unsatisfiable, byte_range, disposition, if_range_holds, none_match, validators,
};

/// The signed-in viewer and the attachment's row id (a malformed id is as missing as any
/// other), or the error that says why not.
async fn viewer_and_id(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Viewer, i64), Error> {
    let authorization = authorization(headers);
    let viewer = match state
        .services
        .tokens
        .authenticate(&state.db, authorization)
        .await?
    {
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
        Err(err) => return err.into_response(),
    };
    let too_large = |max: u64| {
        error_body(
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
    if length.is_some_and(|n| n > state.services.max_upload) {
        return too_large(state.services.max_upload);
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let uploaded = content::upload(
        &state.db,
        &state.services.storage,
        &viewer,
        id,
        declared,
        body,
        state.services.max_upload,
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
        Err(UploadRefused::Api(err)) => err.into_response(),
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
        Err(err) => return err.into_response(),
    };
    let include_deleted = match query.include_deleted() {
        Ok(include) => include,
        Err(err) => return err.into_response(),
    };
    // A PUT or a purge may erase the blob between reading the row and reading its bytes:
    // then the row is read again, once, and answers for itself (new bytes, or 404).
    let mut attempts = 0;
    let (row, sha256, range, blob) = loop {
        attempts += 1;
        let (row, sha256) = match content::readable(&state.db, &viewer, id, include_deleted).await {
            Ok(found) => found,
            Err(err) => return err.into_response(),
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
            Err(Unsatisfiable) => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response_headers.insert(header::CONTENT_RANGE, value);
                }
                let mut refused = error_body(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "BAD_USER_INPUT",
                    &format!("Range: the content has {size} bytes"),
                );
                refused.headers_mut().extend(response_headers);
                return refused;
            }
        };
        match state.services.storage.read(&sha256, range.clone()).await {
            Ok(blob) => break (row, sha256, range, blob),
            Err(object_store::Error::NotFound { .. }) if attempts == 1 => continue,
            Err(err) => {
                return Error::Internal(anyhow::anyhow!(
                    "attachment {id}: its blob {sha256} cannot be read: {err}"
                ))
                .into_response();
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
