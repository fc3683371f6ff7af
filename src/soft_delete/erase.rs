//! Erasure: a person's personal data goes for good, while the facts stay. In one
//! transaction: a live user is first soft-deleted with its live attachments (one cascade
//! deletion, which the tombstone hangs on); their email and name become placeholders; each
//! of their attachments gets a placeholder filename, a neutral content type and no blob;
//! every archived copy of their rows is deleted; every free text that names them (the log's
//! reasons, settings, webhook delivery errors) has the email and name replaced by
//! `[erased]`; a tombstone (`erasures`) records who, when, why and how much; and a
//! `user.erased` event joins the outbox. The blobs go after the commit (the caller removes
//! each one no row holds any more), as after a purge.
//!
//! Lock order is a restore's: the user's deletion first, then the user, so an erasure and a
//! restore (or a purge) of the same deletion run one after the other, and a restore that
//! comes second sees the tombstone and is refused.

use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait, ConnectionTrait as _, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use super::erase_scan::{self, Rewrites};
use super::events::{self, EventType};
use super::redact::Needles;
use super::{Db, Handle, Stamp, Tx, delete_user, exec, fold};
use crate::entity::{archive, attachment, erasure, user};

/// The name an erased user holds.
pub const ERASED_NAME: &str = "Erased user";
/// The filename an erased user's attachments hold.
pub const ERASED_FILENAME: &str = "erased";
/// The content type an erased user's attachments hold.
pub const ERASED_CONTENT_TYPE: &str = "application/octet-stream";
/// The domain of every placeholder email: `.invalid` is reserved, so it reaches no one.
pub const ERASED_EMAIL_DOMAIN: &str = "erased.invalid";

/// The placeholder email of erased user `id`: unique, so unique indexes stay happy, and
/// personal to no one.
pub fn erased_email(id: i64) -> String {
    format!("erased-{id}@{ERASED_EMAIL_DOMAIN}")
}

/// How much an erasure takes (or, on a dry run, would).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErasureFigures {
    /// Their attachment rows (live or deleted), whose filename, type and bytes go.
    pub attachments: i64,
    /// Distinct blobs of theirs that no other user's row holds: removed from the store.
    pub blobs: i64,
    /// The bytes of those blobs.
    pub bytes: i64,
    /// Archived copies of their rows, deleted.
    pub archive_entries: i64,
    /// Free-text values that named them, rewritten.
    pub reasons_rewritten: i64,
}

/// Why an erasure did not happen; nothing changed.
#[derive(Debug)]
pub enum EraseRefused {
    /// No user row with this id.
    NotFound,
    /// Erased already: its tombstone.
    AlreadyErased(erasure::Model),
    /// An active legal hold keeps their data: its description.
    Held(String),
}

/// Why [`erase_user`] failed: a refusal or the database.
#[derive(Debug)]
pub enum EraseError {
    /// The erasure may not happen; the caller drops the transaction.
    Refused(EraseRefused),
    /// The database failed.
    Database(DbErr),
}

impl From<DbErr> for EraseError {
    fn from(err: DbErr) -> EraseError {
        EraseError::Database(err)
    }
}

/// What [`erase_user`] did or, on a dry run, would do.
#[derive(Clone, Debug)]
pub struct Erased {
    /// The figures (the same on a dry run as on the real one).
    pub figures: ErasureFigures,
    /// The tombstone written; `None` on a dry run.
    pub tombstone: Option<erasure::Model>,
    /// Every blob their rows held (archived ones included): once the transaction commits,
    /// the caller removes each that no row holds any more.
    pub blobs: Vec<String>,
}

/// Whether an active legal hold keeps user `id`'s data: `Some(description)` names it (when
/// it was placed and why). Read after the user's deletion and row are locked, the order in
/// which placing a hold locks them too, so a hold and an erasure of one user take turns.
pub async fn legal_hold_on(tx: &Tx, id: i64) -> Result<Option<String>, DbErr> {
    Ok(super::holds::active_hold(tx, id).await?.map(|hold| {
        format!(
            "placed at {}: \"{}\"",
            hold.placed_at.to_rfc3339(),
            hold.reason
        )
    }))
}

/// The tombstone of user `id`, if erased.
pub async fn erasure_of(h: &impl Handle, id: i64) -> Result<Option<erasure::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the tombstones are the core's own table
    let select = erasure::Entity::find();
    select
        .filter(erasure::Column::UserId.eq(id))
        .one(&exec(h))
        .await
}

/// The tombstones of users `ids` (those erased), in one statement.
pub async fn erasures_of(h: &impl Handle, ids: &[i64]) -> Result<Vec<erasure::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    #[allow(clippy::disallowed_methods)] // the tombstones are the core's own table
    let select = erasure::Entity::find();
    select
        .filter(erasure::Column::UserId.is_in(ids.iter().copied()))
        .order_by_asc(erasure::Column::UserId)
        .all(&exec(h))
        .await
}

/// User `id`, any state, locked after its deletion (a restore's order): `None` if missing.
async fn lock_user(tx: &Tx, id: i64) -> Result<Option<user::Model>, DbErr> {
    for _ in 0..3 {
        #[allow(clippy::disallowed_methods)] // an erasure takes the row in any state
        let seen = user::Entity::find_by_id(id).one(&exec(tx)).await?;
        let Some(seen) = seen else {
            return Ok(None);
        };
        if let Some(deletion) = seen.deletion_id {
            super::deletion_for_update(tx, deletion).await?;
        }
        #[allow(clippy::disallowed_methods)] // an erasure takes the row in any state
        let locked = user::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&exec(tx))
            .await?;
        match locked {
            // Unchanged meanwhile: the deletion (if any) and the row are both held.
            Some(row) if row.deletion_id == seen.deletion_id => return Ok(Some(row)),
            Some(_) => continue,
            None => return Ok(None),
        }
    }
    Err(DbErr::Custom(format!(
        "user {id} kept changing while an erasure tried to lock it"
    )))
}

/// Erases user `id` in `tx` (see the module's header), stamped with `stamp` (the eraser, the
/// erasure's reason, now); on a dry run only measures, writing nothing (the caller rolls
/// back). Refusals change nothing.
pub async fn erase_user(
    tx: &Tx,
    id: i64,
    stamp: &Stamp,
    dry_run: bool,
) -> Result<Erased, EraseError> {
    // The user's row, or, once purged, their archived copy (which still holds their data).
    let row = match lock_user(tx, id).await? {
        Some(row) => erase_scan::Subject {
            email: row.email,
            name: row.name,
            deletion: row.deletion_id,
            live: row.deleted_at.is_none(),
        },
        None => match erase_scan::archived_user(tx, id).await? {
            Some(subject) => {
                if let Some(deletion) = subject.deletion {
                    super::deletion_for_update(tx, deletion).await?;
                }
                subject
            }
            None => return Err(EraseError::Refused(EraseRefused::NotFound)),
        },
    };
    if let Some(tombstone) = erasure_of(tx, id).await? {
        return Err(EraseError::Refused(EraseRefused::AlreadyErased(tombstone)));
    }
    if let Some(hold) = legal_hold_on(tx, id).await? {
        return Err(EraseError::Refused(EraseRefused::Held(hold)));
    }
    // Their attachment rows, locked before they are read: an upload pointing one at new
    // bytes either commits first (and its blob is seen) or waits, then finds it deleted.
    #[allow(clippy::disallowed_methods)] // an erasure takes every row of theirs, any state
    let select = attachment::Entity::find();
    let _: Vec<i64> = select
        .select_only()
        .column(attachment::Column::Id)
        .filter(attachment::Column::OwnerId.eq(id))
        .order_by_asc(attachment::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(&exec(tx))
        .await?;
    let needles = Needles::new(&row.email, &row.name);
    // The erasure's own reason never keeps what it erases.
    let reason = stamp.reason.as_deref().unwrap_or_default();
    let reason = needles.redact(reason).unwrap_or_else(|| reason.to_owned());
    let stamp = Stamp {
        reason: Some(reason.clone()),
        ..stamp.clone()
    };
    let blobs = erase_scan::blobs_of(tx, id).await?;
    let archived = erase_scan::archived_of(tx, id).await?;
    let rewrites = erase_scan::rewrites(tx, &needles).await?;
    let figures = ErasureFigures {
        attachments: blobs.attachments,
        blobs: blobs.unshared.len() as i64,
        bytes: blobs.unshared_bytes,
        archive_entries: archived.ids.len() as i64,
        reasons_rewritten: rewrites.count(),
    };
    let mut every_blob = blobs.all.clone();
    every_blob.extend(archived.blobs);
    every_blob.sort_unstable();
    every_blob.dedup();
    if dry_run {
        return Ok(Erased {
            figures,
            tombstone: None,
            blobs: every_blob,
        });
    }
    let deletion_id = if row.live {
        let logged = delete_user(tx, id, &stamp)
            .await?
            .ok_or_else(|| DbErr::Custom(format!("user {id} was not live to delete")))?;
        Some(logged.id)
    } else {
        row.deletion
    };
    let mut deletions = blobs.deletions;
    deletions.extend(archived.deletions);
    deletions.extend(deletion_id);
    deletions.sort_unstable();
    deletions.dedup();
    replace_personal_data(tx, id, stamp.at).await?;
    super::identities::forget_identities(tx, id).await?;
    delete_archived(tx, &archived.ids).await?;
    write_rewrites(tx, &rewrites).await?;
    let tombstone = erasure::ActiveModel {
        user_id: Set(id),
        deletion_id: Set(deletion_id),
        erased_at: Set(stamp.at),
        erased_by: Set(stamp.actor),
        reason: Set(reason),
        attachments: Set(figures.attachments),
        blobs: Set(figures.blobs),
        bytes: Set(figures.bytes),
        archive_entries: Set(figures.archive_entries),
        reasons_rewritten: Set(figures.reasons_rewritten),
        deletions: Set(serde_json::to_string(&deletions).unwrap_or_else(|_| "[]".into())),
        ..Default::default()
    };
    let tombstone = tombstone.insert(&exec(tx)).await?;
    // Last, right before the caller commits: see `events.rs`.
    if let Some(deletion) = deletion_id {
        events::record(tx, EventType::UserErased, deletion, stamp.at).await?;
    }
    Ok(Erased {
        figures,
        tombstone: Some(tombstone),
        blobs: every_blob,
    })
}

/// The placeholders: the user's email and name, each attachment's filename and content
/// type, and no blob. Two statements.
async fn replace_personal_data(
    tx: &Tx,
    id: i64,
    at: sea_orm::prelude::DateTimeUtc,
) -> Result<(), DbErr> {
    let email = erased_email(id);
    #[allow(clippy::disallowed_methods)] // the erasure: the core's own write, any state
    let users = user::Entity::update_many();
    users
        .col_expr(user::Column::EmailFolded, Expr::val(fold(&email)))
        .col_expr(user::Column::Email, Expr::val(email))
        .col_expr(user::Column::Name, Expr::val(ERASED_NAME))
        .col_expr(user::Column::NameFolded, Expr::val(fold(ERASED_NAME)))
        .col_expr(user::Column::UpdatedAt, Expr::val(super::to_micros(at)))
        .filter(user::Column::Id.eq(id))
        .exec(&exec(tx))
        .await?;
    #[allow(clippy::disallowed_methods)] // the erasure: the core's own write, any state
    let attachments = attachment::Entity::update_many();
    attachments
        .col_expr(attachment::Column::Filename, Expr::val(ERASED_FILENAME))
        .col_expr(
            attachment::Column::FilenameFolded,
            Expr::val(fold(ERASED_FILENAME)),
        )
        .col_expr(
            attachment::Column::ContentType,
            Expr::val(ERASED_CONTENT_TYPE),
        )
        .col_expr(
            attachment::Column::Sha256,
            Expr::val(Option::<String>::None),
        )
        .filter(attachment::Column::OwnerId.eq(id))
        .exec(&exec(tx))
        .await?;
    Ok(())
}

/// Deletes the archive rows `ids`.
async fn delete_archived(tx: &Tx, ids: &[i64]) -> Result<(), DbErr> {
    for chunk in ids.chunks(500) {
        #[allow(clippy::disallowed_methods)] // the archive is the core's own table
        let delete = archive::Entity::delete_many();
        delete
            .filter(archive::Column::Id.is_in(chunk.iter().copied()))
            .exec(&exec(tx))
            .await?;
    }
    Ok(())
}

/// Writes each rewritten free text back.
async fn write_rewrites(tx: &Tx, rewrites: &Rewrites) -> Result<(), DbErr> {
    let conn = exec(tx);
    let backend = conn.get_database_backend();
    for (table, key_column, column, folded, key, text) in rewrites.statements() {
        let mut update = Query::update();
        update
            .table(sea_orm::sea_query::Alias::new(table))
            .value(sea_orm::sea_query::Alias::new(column), text.clone());
        if let Some(folded) = folded {
            update.value(sea_orm::sea_query::Alias::new(folded), fold(&text));
        }
        update.and_where(Expr::col(sea_orm::sea_query::Alias::new(key_column)).eq(key));
        conn.execute_raw(backend.build(&update)).await?;
    }
    Ok(())
}

/// SQLite: copies the write-ahead log into the database file and truncates it to nothing,
/// so the old page images it held (an erased email among them) are gone too. A reader in
/// the middle of a read holds the log back: tried a few times, a moment apart; `false` when
/// it could not finish (the next checkpoint does). PostgreSQL: nothing to do (`true`).
pub async fn truncate_log(db: &Db) -> Result<bool, DbErr> {
    let conn = exec(db);
    if conn.get_database_backend() != DbBackend::Sqlite {
        return Ok(true);
    }
    for attempt in 0..5u64 {
        let row = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await?;
        let busy = match row {
            Some(row) => row.try_get_by_index::<i32>(0)?,
            None => 0,
        };
        if busy == 0 {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
    }
    Ok(false)
}
