//! `createAttachment` with its file (the GraphQL multipart request spec): the attachment and
//! its bytes at once, or nothing; and without one, the older metadata-only form.

use bytes::Bytes;
use futures_util::Stream;

use crate::auth::Viewer;
use crate::entity::attachment;
use crate::error::{Error, Result};
use crate::soft_delete::{self, Db};
use crate::storage::Storage;

use super::attachments::check_content_type;
use super::content::{UploadRefused, erase_if_unused, media_type, stage_checked};

/// A file a client uploaded with `createAttachment` (GraphQL multipart request spec), already
/// in a temporary file: what it was called and declared as, and its bytes.
#[derive(Debug)]
pub struct UploadedFile {
    pub filename: String,
    pub content_type: Option<String>,
    pub file: std::fs::File,
}

/// The bytes of `file`, as a stream of chunks read off the disk.
fn chunks(file: std::fs::File) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    use tokio::io::AsyncReadExt as _;
    futures_util::stream::unfold(Some(tokio::fs::File::from_std(file)), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(err) => Some((Err(err), None)),
        }
    })
}

/// What `createAttachment` was given: the file, or (the older way) its metadata alone.
#[derive(Debug)]
pub struct NewAttachment {
    pub owner_id: i64,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub file: Option<UploadedFile>,
}

/// `createAttachment`: with a file, the attachment and its bytes at once
/// ([`create_with_file`]); without, its metadata, every field required.
pub async fn create(
    db: &Db,
    storage: &Storage,
    viewer: &Viewer,
    new: NewAttachment,
    max: u64,
) -> Result<attachment::Model> {
    let Some(file) = new.file else {
        let missing =
            |field: &str| Error::bad_input(format!("{field}: required unless a file is uploaded"));
        let new = super::attachments::NewAttachment {
            owner_id: new.owner_id,
            filename: new.filename.ok_or_else(|| missing("filename"))?,
            content_type: new.content_type.ok_or_else(|| missing("contentType"))?,
            size_bytes: new.size_bytes.ok_or_else(|| missing("sizeBytes"))?,
            sha256: None,
        };
        return super::attachments::create(db, viewer, new).await;
    };
    let uploaded = create_with_file(
        db,
        storage,
        viewer,
        new.owner_id,
        new.filename,
        new.content_type,
        file,
        max,
    );
    uploaded.await.map_err(|refused| match refused {
        UploadRefused::TooLarge { max } => Error::bad_input(format!(
            "file: larger than KEEPSAKE_MAX_UPLOAD ({max} bytes); nothing was stored"
        )),
        UploadRefused::Api(err) => err,
    })
}

/// `createAttachment(input: { ownerId, file })`: the attachment and its bytes at once. The
/// name and type are the input's, else the file's (else `application/octet-stream`); the
/// size and hash are the bytes'. No row unless the bytes are stored.
#[allow(clippy::too_many_arguments)] // the input's fields, each optional
async fn create_with_file(
    db: &Db,
    storage: &Storage,
    viewer: &Viewer,
    owner_id: i64,
    filename: Option<String>,
    content_type: Option<String>,
    upload: UploadedFile,
    max: u64,
) -> Result<attachment::Model, UploadRefused> {
    super::attachments::may_create(viewer, owner_id)?;
    let declared = content_type
        .or(upload.content_type)
        .map(|t| media_type(&t).to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let content_type = check_content_type(&declared)?;
    // The part is a temporary file of our own by now: failing to read it is ours.
    let unreadable = |why| Error::Internal(anyhow::anyhow!("reading the uploaded file: {why}"));
    let fix = "give the file's real type";
    // The name is checked before a byte is staged (insert checks it again).
    let filename = filename.unwrap_or(upload.filename);
    super::required_text("filename", &filename, 255)?;
    let file = chunks(upload.file);
    let staged = stage_checked(storage, file, max, &content_type, unreadable, fix).await?;
    let new = super::attachments::NewAttachment {
        owner_id,
        filename,
        content_type,
        size_bytes: i64::try_from(staged.size).unwrap_or(i64::MAX),
        sha256: Some(staged.sha256.clone()),
    };
    let created: Result<attachment::Model> = async {
        // The copy to the blob's name, outside the lock; under it, only a look.
        storage
            .place(&staged)
            .await
            .map_err(|err| Error::Internal(err.into()))?;
        let tx = db.begin().await?;
        super::attachments::lock_live_owner(&tx, owner_id).await?;
        soft_delete::lock_blob(&tx, &staged.sha256).await?;
        storage
            .keep(&staged)
            .await
            .map_err(|err| Error::Internal(err.into()))?;
        let created = super::attachments::insert(&tx, new).await?;
        tx.commit().await?;
        Ok(created)
    }
    .await;
    match created {
        Ok(created) => {
            tracing::info!(
                attachment = created.id,
                actor = viewer.id(),
                bytes = staged.size,
                "attachment uploaded"
            );
            Ok(created)
        }
        Err(err) => {
            storage.discard(&staged).await;
            // Kept under its hash before the row failed: gone again unless a row uses it.
            erase_if_unused(db, storage, &staged.sha256).await;
            Err(err.into())
        }
    }
}
