//! Attachment bytes (docs/DESIGN.md#attachment-content): upload, download, and erasing a blob once no row refers to it.
//!
//! The bytes stream into the object store under a temporary name while they are hashed and
//! counted; then one transaction locks the attachment (live, the viewer's to change) and the
//! blob ([`soft_delete::lock_blob`]), gives the bytes their hash's name and points the row at
//! them. An erasure takes the same blob lock, checks that no row (live or deleted) refers to
//! the blob, and erases it before it lets go: an upload of the same bytes waits, then finds
//! the blob gone and writes it again. So a row never points at missing bytes; a crash can only
//! leave a blob no row refers to, which `keepsake check` reports and `--fix` removes.

use std::collections::BTreeSet;

use bytes::Bytes;
use futures_util::Stream;
use sea_orm::Set;

use crate::auth::Viewer;
use crate::entity::attachment;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::permissions::{Action, may};
use crate::soft_delete::check::Violation;
use crate::soft_delete::{self, Db, Scope, Scoped};
use crate::storage::{self, Storage, UploadError};

use super::attachments::{check_content_type, may_see};

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadRefused {
    /// Larger than `KEEPSAKE_MAX_UPLOAD` (HTTP 413, code `BAD_USER_INPUT`).
    #[error("the upload is larger than KEEPSAKE_MAX_UPLOAD ({max} bytes); nothing was stored")]
    TooLarge { max: u64 },
    /// Any other refusal, with its code.
    #[error(transparent)]
    Api(#[from] Error),
}

pub(super) fn not_found(id: i64) -> Error {
    Error::not_found(format!(
        "no attachment with id {}",
        ids::encode(Kind::Attachment, id)
    ))
}

/// The live attachment `id` if `viewer` may replace its bytes: their own, or anyone's as an
/// admin. One they may not see is `NOT_FOUND`, exactly as a missing one; support sees it but
/// may not change it (`FORBIDDEN`).
async fn writable(
    h: &impl soft_delete::Handle,
    viewer: &Viewer,
    id: i64,
    lock: bool,
) -> Result<attachment::Model> {
    let read = Scoped::<attachment::Entity>::live();
    let read = if lock { read.for_update() } else { read };
    let found = read.by_id(h, id).await?.filter(|a| may_see(viewer, a));
    let found = found.ok_or_else(|| not_found(id))?;
    if !may(viewer, Action::CreateAttachments, Some(found.owner_id)) {
        return Err(Error::forbidden(
            "only the owner or an admin may upload an attachment's content",
        ));
    }
    Ok(found)
}

/// The media type of a `Content-Type` header value: `type/subtype`, lower case, without
/// parameters.
pub(super) fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or_default().trim()
}

/// `PUT /attachments/{id}/content`: streams `body` into storage and makes it the
/// attachment's bytes; `sizeBytes` and `sha256` come from the bytes. `declared` is the
/// request's `Content-Type` (else the attachment's `contentType` stands); either must fit
/// what the first bytes show. The attachment's earlier bytes are erased if no row still
/// refers to them.
pub async fn upload<S, E>(
    db: &Db,
    storage: &Storage,
    viewer: &Viewer,
    id: i64,
    declared: Option<&str>,
    body: S,
    max: u64,
) -> Result<attachment::Model, UploadRefused>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    // Checked before a byte is read, and again under the lock below.
    let before = writable(db, viewer, id, false).await?;
    let content_type = match declared.filter(|t| !media_type(t).is_empty()) {
        Some(declared) => check_content_type(declared)?,
        None => before.content_type.clone(),
    };
    let cut_off = |why| {
        Error::bad_input(format!(
            "the upload was cut off ({why}); nothing was stored"
        ))
    };
    let fix = "send the right Content-Type";
    let staged = stage_checked(storage, body, max, &content_type, cut_off, fix).await?;
    let (saved, replaced) = match save(db, storage, viewer, id, &staged, content_type).await {
        Ok(saved) => saved,
        Err(err) => {
            storage.discard(&staged).await;
            // The blob may have been kept before the row's update failed.
            erase_if_unused(db, storage, &staged.sha256).await;
            return Err(err.into());
        }
    };
    tracing::info!(
        attachment = id,
        actor = viewer.id(),
        bytes = staged.size,
        sha256 = %staged.sha256,
        "content uploaded"
    );
    if let Some(old) = replaced.filter(|old| *old != staged.sha256) {
        // Erased off the request's path, right after it: how long the answer took would
        // otherwise tell whether another row holds the same bytes (then nothing is erased).
        let (db, storage) = (db.unbudgeted(), storage.clone());
        tokio::spawn(async move {
            erase_if_unused(&db, &storage, &old).await;
        });
    }
    Ok(saved)
}

/// Streams `body` into storage and checks its first bytes against `content_type`: the staged
/// upload, or the refusal, with nothing left behind. `body_failed` says what a broken body
/// means to the caller; `fix` ends the content-type refusal.
pub(super) async fn stage_checked<S, E>(
    storage: &Storage,
    body: S,
    max: u64,
    content_type: &str,
    body_failed: impl FnOnce(String) -> Error,
    fix: &str,
) -> Result<storage::Staged, UploadRefused>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let staged = match storage.stage(body, max).await {
        Ok(staged) => staged,
        Err(UploadError::TooLarge { max }) => return Err(UploadRefused::TooLarge { max }),
        Err(UploadError::Body(why)) => return Err(body_failed(why).into()),
        Err(UploadError::Store(err)) => return Err(Error::Internal(err.into()).into()),
    };
    if let Some(why) = storage::misfit(media_type(content_type), &staged.head) {
        storage.discard(&staged).await;
        return Err(Error::bad_input(format!(
            "contentType: {why}; {fix}, or application/octet-stream for bytes of any kind"
        ))
        .into());
    }
    Ok(staged)
}

/// In one transaction: the row (locked, still the viewer's), the blob (locked, its bytes
/// under their hash's name), then the row pointed at them. Also the hash the row held
/// before, read under the lock: two uploads racing on one row each replace what the other
/// left, so each erases exactly the blob it replaced.
async fn save(
    db: &Db,
    storage: &Storage,
    viewer: &Viewer,
    id: i64,
    staged: &storage::Staged,
    content_type: String,
) -> Result<(attachment::Model, Option<String>)> {
    // The copy to the blob's name, outside the lock (on S3 it moves the whole file, and on
    // SQLite the lock is the database's one writer); under it, only a look.
    storage
        .place(staged)
        .await
        .map_err(|err| Error::Internal(err.into()))?;
    let tx = db.begin().await?;
    let locked = writable(&tx, viewer, id, true).await?;
    soft_delete::lock_blob(&tx, &staged.sha256).await?;
    storage
        .keep(staged)
        .await
        .map_err(|err| Error::Internal(err.into()))?;
    let size =
        i64::try_from(staged.size).map_err(|_| Error::bad_input("the upload is too large"))?;
    let row = attachment::ActiveModel {
        id: sea_orm::Unchanged(id),
        sha256: Set(Some(staged.sha256.clone())),
        size_bytes: Set(size),
        content_type: Set(content_type),
        ..Default::default()
    };
    let saved = soft_delete::update_live(&tx, row)
        .await?
        .ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok((saved, locked.sha256))
}

/// Erases blob `sha256` unless some row, live or deleted, refers to it; under the blob's lock,
/// so an upload of the same bytes cannot slip in between the check and the erasure. A failure
/// is logged: the blob stays, an orphan `keepsake check` reports. The bytes it erased, if
/// it did.
pub async fn erase_if_unused(db: &Db, storage: &Storage, sha256: &str) -> Option<u64> {
    let erased: Result<Option<u64>> = async {
        let tx = db.begin().await?;
        soft_delete::lock_blob(&tx, sha256).await?;
        let erased = if soft_delete::blob_in_use(&tx, sha256).await? {
            None
        } else {
            Some(
                storage
                    .erase(sha256)
                    .await
                    .map_err(|err| Error::Internal(err.into()))?,
            )
        };
        // Ended here, not left to a drop: the lock goes with the transaction.
        tx.commit().await?;
        Ok(erased)
    }
    .await;
    match erased {
        Ok(Some(bytes)) => {
            tracing::info!(sha256, bytes, "blob erased: no row refers to it");
            Some(bytes)
        }
        Ok(None) => None,
        Err(err) => {
            tracing::warn!(
                sha256,
                error = format!("{:#}", anyhow::Error::from(err)),
                "a blob no row refers to stays behind; keepsake check --fix removes it"
            );
            None
        }
    }
}

/// What `check` found in the store, with the name `--fix` acts on.
enum Finding {
    /// A blob no row refers to: its SHA-256.
    Orphan(String),
    /// Rows whose blob is missing: the SHA-256 they name.
    Missing(String),
    /// An upload staged long ago and never kept: its path in the store.
    Stale(String),
}

impl Finding {
    fn violation(&self, storage: &Storage) -> Violation {
        match self {
            Finding::Orphan(sha256) => Violation {
                kind: "orphan-blob",
                message: format!(
                    "blob {sha256} is in the store but no attachment refers to it; keepsake check --fix removes it"
                ),
            },
            Finding::Missing(sha256) => Violation {
                kind: "missing-blob",
                message: format!(
                    "attachments with sha256 {sha256} have no blob in the store ({})",
                    storage.label()
                ),
            },
            Finding::Stale(path) => Violation {
                kind: "stale-upload",
                message: format!(
                    "{path} was uploaded over an hour ago and never kept; keepsake check --fix removes it"
                ),
            },
        }
    }
}

/// `keepsake check`'s half about the store: blobs no row refers to (what a crash between a
/// purge's commit and its erasure leaves; `--fix` removes them), rows whose blob is missing
/// (which must never happen), and uploads left staged. The rows and the store are listed
/// at different moments, so an upload or an erasure committing in between could look like
/// either; each candidate is confirmed under its blob's lock before it is reported, so a
/// check of a busy server reports only what is really wrong.
pub async fn check_blobs(db: &Db, storage: &Storage) -> Result<Vec<Violation>> {
    let found = findings(db, storage).await?;
    Ok(found.iter().map(|f| f.violation(storage)).collect())
}

async fn findings(db: &Db, storage: &Storage) -> Result<Vec<Finding>> {
    let internal = |err: object_store::Error| Error::Internal(err.into());
    let in_use: BTreeSet<String> = soft_delete::blobs_in_use(db).await?.into_iter().collect();
    let stored: BTreeSet<String> = storage
        .blobs()
        .await
        .map_err(internal)?
        .into_iter()
        .collect();
    let mut found = Vec::new();
    for sha256 in stored.difference(&in_use) {
        if confirmed(db, storage, sha256, false).await? {
            found.push(Finding::Orphan(sha256.clone()));
        }
    }
    for sha256 in in_use.difference(&stored) {
        if confirmed(db, storage, sha256, true).await? {
            found.push(Finding::Missing(sha256.clone()));
        }
    }
    let stale = storage
        .stale_uploads(STALE_UPLOAD)
        .await
        .map_err(internal)?;
    found.extend(stale.into_iter().map(Finding::Stale));
    Ok(found)
}

/// Whether blob `sha256` is still, under its lock, what the listing suggested: in use and
/// missing from the store (`in_use`), or held and used by no row.
async fn confirmed(db: &Db, storage: &Storage, sha256: &str, in_use: bool) -> Result<bool> {
    let tx = db.begin().await?;
    soft_delete::lock_blob(&tx, sha256).await?;
    let used = soft_delete::blob_in_use(&tx, sha256).await?;
    let held = storage
        .holds(sha256)
        .await
        .map_err(|err| Error::Internal(err.into()))?;
    tx.commit().await?;
    Ok(used == in_use && held != in_use)
}

/// How old a staged upload must be before `check` calls it left behind.
const STALE_UPLOAD: std::time::Duration = std::time::Duration::from_secs(3600);

/// `keepsake check --fix`: erases the blobs no row refers to and the stale uploads; how many
/// of each.
pub async fn remove_orphan_blobs(db: &Db, storage: &Storage) -> Result<(u64, u64)> {
    let (mut erased, mut removed) = (0, 0);
    for found in findings(db, storage).await? {
        match found {
            Finding::Orphan(sha256) => {
                erased += u64::from(erase_if_unused(db, storage, &sha256).await.is_some());
            }
            Finding::Stale(path) => {
                storage
                    .remove_upload(&path)
                    .await
                    .map_err(|err| Error::Internal(err.into()))?;
                removed += 1;
            }
            Finding::Missing(_) => {}
        }
    }
    Ok((erased, removed))
}

/// What `GET /attachments/{id}/content` serves: the row (for its name and type) and the blob.
pub async fn readable(
    db: &Db,
    viewer: &Viewer,
    id: i64,
    include_deleted: bool,
) -> Result<(attachment::Model, String)> {
    let scope: Scope = viewer.scope(include_deleted, false)?;
    let found = Scoped::<attachment::Entity>::new(scope)
        .by_id(db, id)
        .await?
        .filter(|a| may_see(viewer, a))
        .ok_or_else(|| not_found(id))?;
    let sha256 = found.sha256.clone().ok_or_else(|| {
        Error::not_found(format!(
            "attachment {} holds no content yet; PUT it to /attachments/{{id}}/content",
            ids::encode(Kind::Attachment, id)
        ))
    })?;
    Ok((found, sha256))
}
