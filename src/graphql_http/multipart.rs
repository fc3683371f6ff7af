//! The GraphQL multipart request spec (`multipart/form-data`): `operations` (the request's
//! JSON, as a POST body would hold it), `map` (which variable each file fills), then the
//! file. Read here rather than by async-graphql, so that:
//!
//! - `operations` and `map` are held to the JSON body limit, not to the file limit;
//! - the file is held to `KEEPSAKE_MAX_UPLOAD` exactly (a file of exactly the limit passes,
//!   whatever the parts around it weigh), and one file is all a request may carry;
//! - every refusal says what to send instead.
//!
//! The file streams to a temporary file, never into memory.

use std::collections::HashMap;

use axum::body::Body;
use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::Refusal;
use super::persisted::PersistedQueries;
use super::request::{Incoming, Params};

/// What a multipart request should look like, for messages.
const SHAPE: &str = "parts operations (the JSON request), map ({\"0\": [\"variables.file\"]}), \
                     then one file part named as in map";

fn malformed(what: impl std::fmt::Display) -> Refusal {
    Refusal::BadRequest(format!(
        "the multipart request does not follow the GraphQL multipart request spec: {what}; send \
         {SHAPE}"
    ))
}

/// Reads a multipart GraphQL request whose `Content-Type` is `content_type`: JSON parts of
/// at most `limit` bytes each, and one file of at most `max_file` bytes.
pub(super) async fn read_multipart(
    content_type: &str,
    body: Body,
    limit: usize,
    max_file: u64,
    persisted: &PersistedQueries,
) -> Result<Incoming, Refusal> {
    let mut stream = body.into_data_stream();
    let read = read_parts(content_type, &mut stream, limit, max_file, persisted).await;
    if read.is_err() {
        drain_stream(&mut stream).await;
    }
    read
}

/// Reads and drops up to 1 MiB of what is left of a body that will not be read, so that a
/// client still sending sees the answer rather than a broken pipe; larger remainders are not
/// worth reading, and such a client sees the connection close.
pub async fn drain(body: Body) {
    drain_stream(&mut body.into_data_stream()).await;
}

async fn drain_stream(stream: &mut axum::body::BodyDataStream) {
    let mut drained = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        drained += chunk.len();
        if drained > 1024 * 1024 {
            break;
        }
    }
}

async fn read_parts(
    content_type: &str,
    stream: &mut axum::body::BodyDataStream,
    limit: usize,
    max_file: u64,
    persisted: &PersistedQueries,
) -> Result<Incoming, Refusal> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| malformed("its Content-Type has no boundary"))?;
    let json_limit = u64::try_from(limit).unwrap_or(u64::MAX);
    // The parts around the file are small; the whole stream may carry the file and them.
    let sizes = multer::SizeLimit::new()
        .whole_stream(max_file.saturating_add(json_limit.saturating_mul(3)))
        .for_field("operations", json_limit)
        .for_field("map", json_limit);
    let mut multipart = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(sizes),
    );

    let mut incoming: Option<Incoming> = None;
    let mut map: Option<HashMap<String, Vec<String>>> = None;
    let mut file: Option<(String, async_graphql::UploadValue)> = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|err| read_error(err, limit, max_file))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "operations" if incoming.is_none() => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|err| read_error(err, limit, max_file))?;
                incoming = Some(Params::from_json(&bytes)?.into_request(persisted)?);
            }
            "map" if incoming.is_some() && map.is_none() => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|err| read_error(err, limit, max_file))?;
                map = Some(serde_json::from_slice(&bytes).map_err(|err| {
                    malformed(format!(
                        "map is not a JSON object of arrays of paths ({err})"
                    ))
                })?);
            }
            "operations" | "map" => {
                return Err(malformed(format!(
                    "the part {name:?} is out of place or sent twice"
                )));
            }
            _ => {
                let Some(paths) = map.as_ref() else {
                    return Err(malformed(format!("the part {name:?} comes before map")));
                };
                if !paths.contains_key(&name) {
                    return Err(malformed(format!("the part {name:?} is not named in map")));
                }
                if file.is_some() {
                    return Err(malformed("a request carries one file"));
                }
                let filename = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(ToString::to_string);
                let content = spool(&mut field, max_file).await?;
                let upload = async_graphql::UploadValue {
                    filename,
                    content_type,
                    content,
                };
                file = Some((name, upload));
            }
        }
    }
    let Some(mut incoming) = incoming else {
        return Err(malformed("the part operations is missing"));
    };
    let Some(map) = map else {
        return Err(malformed("the part map is missing"));
    };
    for (name, paths) in map {
        let Some((_, upload)) = file.as_ref().filter(|(sent, _)| *sent == name) else {
            return Err(malformed(format!(
                "map names the file part {name:?}, which was not sent"
            )));
        };
        for path in paths {
            let copy = upload.try_clone().map_err(|err| {
                Refusal::BadRequest(format!(
                    "the uploaded file cannot be read back ({err}); send it again"
                ))
            })?;
            incoming.request.set_upload(&path, copy);
        }
    }
    Ok(incoming)
}

/// The file part, written to a temporary file as it arrives; refused past `max_file` bytes.
async fn spool(field: &mut multer::Field<'_>, max_file: u64) -> Result<std::fs::File, Refusal> {
    let io = |err: std::io::Error| {
        tracing::error!(%err, "cannot write an upload to a temporary file");
        Refusal::BadRequest("the upload could not be stored for reading; send it again".into())
    };
    let mut spooled = tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?);
    let mut written: u64 = 0;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|err| read_error(err, 0, max_file))?
    {
        written += chunk.len() as u64;
        if written > max_file {
            return Err(Refusal::UploadTooLarge { limit: max_file });
        }
        spooled.write_all(&chunk).await.map_err(io)?;
    }
    spooled.flush().await.map_err(io)?;
    let mut file = spooled.into_std().await;
    std::io::Seek::rewind(&mut file).map_err(io)?;
    Ok(file)
}

/// A multipart reading error as a refusal: a JSON part over `limit` is 413, and so is a body
/// that outgrew the file's limit and the parts around it.
fn read_error(err: multer::Error, limit: usize, max_file: u64) -> Refusal {
    match err {
        multer::Error::FieldSizeExceeded { .. } => Refusal::PayloadTooLarge { limit },
        multer::Error::StreamSizeExceeded { .. } => Refusal::UploadTooLarge { limit: max_file },
        other => malformed(other),
    }
}
