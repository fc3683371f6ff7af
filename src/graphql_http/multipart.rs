//! The GraphQL multipart request spec (`multipart/form-data`): `operations` (the request's
//! JSON, as a POST body would hold it), `map` (which variable each file fills), then the
//! file. Read here rather than by async-graphql, so that:
//!
//! - `operations` and `map` are held to the JSON body limit, not to the file limit;
//! - each file is held to `KEEPSAKE_MAX_UPLOAD` exactly (a file of exactly the limit passes,
//!   whatever the parts around it weigh);
//! - `map` is checked before a byte of any file is read: at most `KEEPSAKE_MAX_FILES`
//!   entries, each naming exactly one variable. A file that filled several variables would
//!   be stored once per variable (one file, two hundred attachments), and every copy would
//!   hold a file descriptor for the whole request;
//! - every refusal says what to send instead.
//!
//! Each file streams to a temporary file of its own, never into memory.

use std::collections::HashMap;

use axum::body::Body;
use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::params::{Incoming, Params, Reading};
use super::refusal::Refusal;

/// The name of a file whose part carries none (`createAttachment` takes it unless the
/// request names the file itself).
pub const DEFAULT_FILENAME: &str = "upload";

/// What a multipart request should look like, for messages.
const SHAPE: &str = "parts operations (the JSON request), map ({\"0\": [\"variables.file\"]}), \
                     then each file part named as in map";

fn malformed(what: impl std::fmt::Display) -> Refusal {
    Refusal::BadRequest(format!(
        "the multipart request does not follow the GraphQL multipart request spec: {what}; send \
         {SHAPE}"
    ))
}

/// Reads a multipart GraphQL request whose `Content-Type` is `content_type`: JSON parts of
/// at most `max_body` bytes each, and at most `max_files` files of at most `max_file` bytes.
pub(super) async fn read_multipart(
    content_type: &str,
    body: Body,
    reading: Reading,
) -> Result<Incoming, Refusal> {
    let mut stream = body.into_data_stream();
    let read = read_parts(content_type, &mut stream, reading).await;
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
    reading: Reading,
) -> Result<Incoming, Refusal> {
    let (limit, max_file, max_files) = (reading.max_body, reading.max_file, reading.max_files);
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| malformed("its Content-Type has no boundary"))?;
    let json_limit = u64::try_from(limit).unwrap_or(u64::MAX);
    let files = u64::try_from(max_files).unwrap_or(u64::MAX);
    // The parts around the files are small; the whole stream may carry the files and them.
    let sizes = multer::SizeLimit::new()
        .whole_stream(
            max_file
                .saturating_add(1024)
                .saturating_mul(files)
                .saturating_add(json_limit.saturating_mul(3)),
        )
        .for_field("operations", json_limit)
        .for_field("map", json_limit);
    let mut multipart = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(sizes),
    );

    let mut incoming: Option<Incoming> = None;
    // Each file part's name, with the one variable it fills.
    let mut map: Option<HashMap<String, String>> = None;
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
                incoming = Some(Params::from_json(&bytes)?.into_request()?);
            }
            "map" if incoming.is_some() && map.is_none() => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|err| read_error(err, limit, max_file))?;
                map = Some(read_map(&bytes, max_files)?);
            }
            "operations" | "map" => {
                return Err(malformed(format!(
                    "the part {name:?} is out of place or sent twice"
                )));
            }
            _ => {
                let (Some(incoming), Some(paths)) = (incoming.as_mut(), map.as_mut()) else {
                    return Err(malformed(format!("the part {name:?} comes before map")));
                };
                // Taken out of the map: a part sent twice finds its name gone.
                let Some(path) = paths.remove(&name) else {
                    return Err(malformed(format!(
                        "the part {name:?} is not named in map, or is sent twice"
                    )));
                };
                // A part sent without a filename (a streamed upload, curl's `-F 0=<file`)
                // is still a file; it is named for what it is.
                let filename = match field.file_name() {
                    Some(name) if !name.trim().is_empty() => name.to_owned(),
                    _ => DEFAULT_FILENAME.to_owned(),
                };
                let content_type = field.content_type().map(ToString::to_string);
                let content = spool(&mut field, max_file).await?;
                let upload = async_graphql::UploadValue {
                    filename,
                    content_type,
                    content,
                };
                incoming.request.set_upload(&path, upload);
            }
        }
    }
    let Some(incoming) = incoming else {
        return Err(malformed("the part operations is missing"));
    };
    let Some(map) = map else {
        return Err(malformed("the part map is missing"));
    };
    if let Some(name) = map.keys().next() {
        return Err(malformed(format!(
            "map names the file part {name:?}, which was not sent"
        )));
    }
    Ok(incoming)
}

/// The `map` part: at most `max_files` file parts, each filling exactly one variable.
/// Checked whole before any file is read.
fn read_map(bytes: &[u8], max_files: usize) -> Result<HashMap<String, String>, Refusal> {
    let map: HashMap<String, Vec<String>> = serde_json::from_slice(bytes).map_err(|err| {
        malformed(format!(
            "map is not a JSON object of arrays of paths ({err})"
        ))
    })?;
    if map.len() > max_files {
        return Err(Refusal::BadRequest(format!(
            "the multipart request maps {} files; at most {max_files} may be sent in one \
             request (KEEPSAKE_MAX_FILES): send the rest in further requests",
            map.len()
        )));
    }
    let mut filled = std::collections::HashSet::new();
    map.into_iter()
        .map(|(name, mut paths)| match paths.len() {
            1 => {
                let path = paths.remove(0);
                if !filled.insert(path.clone()) {
                    return Err(Refusal::BadRequest(format!(
                        "map gives {path:?} more than one file; each variable takes one file"
                    )));
                }
                Ok((name, path))
            }
            n => Err(Refusal::BadRequest(format!(
                "map gives the file part {name:?} {n} variables; each file fills exactly one \
                 variable: send the file once for each variable that needs it"
            ))),
        })
        .collect()
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
