//! `keepsake check`: reads the whole database and verifies the soft-delete invariants
//! (docs/DESIGN.md#under-any-interleaving) that every write in the core keeps. An operator runs it on a live database;
//! the race, crash and stress tests run the same code after they are done.
//!
//! Each check is one portable SQL statement (or a GROUP BY per table, compared in Rust), so
//! the cost is a few scans, not a query per row. The folded search columns are read once
//! more, a page of rows at a time, and folded again in Rust ([`super::fold`]). The reporting
//! views, their row-level security and the roles that read them are `reporting_check.rs`'s;
//! the outbox's events (each change has its event) are `events.rs`'s.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DbErr, EntityTrait as _, QueryFilter as _,
    QuerySelect as _, Statement,
};

use super::{
    DEFAULT_EVENT_RETENTION, Db, EntityKind, Handle, events, exec, fold, holds, reporting_check,
};
use crate::entity::deletion;
use crate::ids::{self, Kind};

/// One broken invariant, about one row or one deletion.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Which invariant, as a stable kebab-case name (for `--json` consumers and tests).
    pub kind: &'static str,
    /// What is wrong, for a person, naming the rows by their GraphQL ids.
    pub message: String,
}

/// Every violation found, in a stable order (by check, then id), with events kept for the
/// default [`DEFAULT_EVENT_RETENTION`].
pub async fn check(db: &Db) -> Result<Vec<Violation>, DbErr> {
    check_with(db, DEFAULT_EVENT_RETENTION).await
}

/// [`check`] on a server that keeps events for `event_retention`
/// (`KEEPSAKE_EVENT_RETENTION`): changes older than that are not asked for their event.
pub async fn check_with(db: &Db, event_retention: Duration) -> Result<Vec<Violation>, DbErr> {
    let h = db;
    let mut found = Vec::new();
    live_attachments_under_deleted_users(h, &mut found).await?;
    for table in [Table::Users, Table::Attachments] {
        hidden_rows_without_a_deletion_in_force(h, table, &mut found).await?;
        live_rows_still_stamped(h, table, &mut found).await?;
    }
    deletions_agree_with_their_rows(h, &mut found).await?;
    for (table, text, folded) in FOLDED {
        folded_text_agrees(h, table, text, folded, &mut found).await?;
    }
    for (kind, message) in holds::findings(h).await? {
        found.push(Violation { kind, message });
    }
    for (kind, message) in super::erase_check::findings(h).await? {
        found.push(Violation { kind, message });
    }
    for (kind, message) in events::findings(h, event_retention, super::now()).await? {
        found.push(Violation { kind, message });
    }
    for (kind, message) in reporting_check::findings(db).await? {
        found.push(Violation { kind, message });
    }
    Ok(found)
}

#[derive(Clone, Copy)]
enum Table {
    Users,
    Attachments,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Attachments => "attachments",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Table::Users => EntityKind::User,
            Table::Attachments => EntityKind::Attachment,
        }
        .into()
    }

    fn noun(self) -> &'static str {
        match self {
            Table::Users => "user",
            Table::Attachments => "attachment",
        }
    }
}

fn deletion(id: i64) -> String {
    ids::encode(Kind::Deletion, id)
}

async fn rows(h: &impl Handle, sql: &str) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let conn = exec(h);
    let backend = conn.get_database_backend();
    conn.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
}

/// No live attachment sits under a deleted user: the live scope relies on it.
async fn live_attachments_under_deleted_users(
    h: &impl Handle,
    found: &mut Vec<Violation>,
) -> Result<(), DbErr> {
    let sql = "SELECT a.id AS id, a.owner_id AS owner, u.deletion_id AS deletion \
               FROM attachments a JOIN users u ON u.id = a.owner_id \
               WHERE a.deleted_at IS NULL AND u.deleted_at IS NOT NULL ORDER BY a.id";
    for row in rows(h, sql).await? {
        let id: i64 = row.try_get("", "id")?;
        let owner: i64 = row.try_get("", "owner")?;
        let by: Option<i64> = row.try_get("", "deletion")?;
        found.push(Violation {
            kind: "live-attachment-under-deleted-user",
            message: format!(
                "attachment {} is live but its owner, user {}, is deleted{}",
                ids::encode(Kind::Attachment, id),
                ids::encode(Kind::User, owner),
                by.map(|d| format!(" (deletion {})", deletion(d)))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Every hidden row carries a deletion that exists and is neither restored nor purged.
async fn hidden_rows_without_a_deletion_in_force(
    h: &impl Handle,
    table: Table,
    found: &mut Vec<Violation>,
) -> Result<(), DbErr> {
    let sql = format!(
        "SELECT id, deletion, state FROM ( \
           SELECT t.id AS id, t.deletion_id AS deletion, \
             CASE WHEN t.deletion_id IS NULL THEN 'none' \
                  WHEN d.id IS NULL THEN 'missing' \
                  WHEN d.purged_at IS NOT NULL THEN 'purged' \
                  WHEN d.restored_at IS NOT NULL THEN 'restored' \
                  ELSE 'ok' END AS state \
           FROM {t} t LEFT JOIN deletions d ON d.id = t.deletion_id \
           WHERE t.deleted_at IS NOT NULL) x \
         WHERE state <> 'ok' ORDER BY id",
        t = table.name()
    );
    for row in rows(h, &sql).await? {
        let id: i64 = row.try_get("", "id")?;
        let by: Option<i64> = row.try_get("", "deletion")?;
        let state: String = row.try_get("", "state")?;
        let what = format!("{} {}", table.noun(), ids::encode(table.kind(), id));
        let (kind, message) = match (state.as_str(), by) {
            ("none", _) | (_, None) => (
                "hidden-row-without-deletion",
                format!("{what} is deleted but names no deletion"),
            ),
            ("missing", Some(d)) => (
                "hidden-row-without-deletion",
                format!(
                    "{what} is hidden by deletion {}, which is not in the log",
                    deletion(d)
                ),
            ),
            ("purged", Some(d)) => (
                "purged-deletion-left-a-row",
                format!(
                    "{what} is still there, yet its deletion {} is marked purged",
                    deletion(d)
                ),
            ),
            (_, Some(d)) => (
                "restored-deletion-still-hides-a-row",
                format!(
                    "{what} is still hidden, yet its deletion {} is marked restored",
                    deletion(d)
                ),
            ),
        };
        found.push(Violation { kind, message });
    }
    Ok(())
}

/// A live row carries no deletion stamp (a half-restored row would).
async fn live_rows_still_stamped(
    h: &impl Handle,
    table: Table,
    found: &mut Vec<Violation>,
) -> Result<(), DbErr> {
    let sql = format!(
        "SELECT id, deletion_id AS deletion FROM {} \
         WHERE deleted_at IS NULL AND (deletion_id IS NOT NULL OR deleted_by IS NOT NULL) \
         ORDER BY id",
        table.name()
    );
    for row in rows(h, &sql).await? {
        let id: i64 = row.try_get("", "id")?;
        let by: Option<i64> = row.try_get("", "deletion")?;
        found.push(Violation {
            kind: "live-row-still-stamped",
            message: format!(
                "{} {} is live but still carries deletion stamps{}",
                table.noun(),
                ids::encode(table.kind(), id),
                by.map(|d| format!(" (deletion {})", deletion(d)))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Counts of rows per deletion id in `table` (`users`, `attachments` or `archive`).
async fn per_deletion(h: &impl Handle, table: &str) -> Result<HashMap<i64, i64>, DbErr> {
    let sql = format!(
        "SELECT deletion_id AS d, COUNT(*) AS n FROM {table} \
         WHERE deletion_id IS NOT NULL GROUP BY deletion_id"
    );
    let mut counts = HashMap::new();
    for row in rows(h, &sql).await? {
        counts.insert(row.try_get::<i64>("", "d")?, row.try_get::<i64>("", "n")?);
    }
    Ok(counts)
}

/// The deletions whose archived rows the archive's retention may have erased: those whose
/// purge began before the latest cutoff it erased by (`archive_retention.rs`).
async fn archive_may_lack(h: &impl Handle) -> Result<HashSet<i64>, DbErr> {
    let Some(cutoff) = super::archive_erased_before(h).await? else {
        return Ok(HashSet::new());
    };
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    let ids: Vec<i64> = select
        .select_only()
        .column(deletion::Column::Id)
        .filter(deletion::Column::PurgeStartedAt.lt(cutoff))
        .into_tuple()
        .all(&exec(h))
        .await?;
    Ok(ids.into_iter().collect())
}

/// Each log entry agrees with the rows: a deletion in force hides its row and exactly
/// `1 + cascade_count` rows; a restored one hides none and names its restorer; a purged one
/// leaves no row and has every row in the archive; one whose purge began accounts for every
/// row between the tables and the archive. Where the archive's retention may have erased a
/// deletion's archived rows ([`archive_may_lack`]), the archive may hold fewer, never more.
async fn deletions_agree_with_their_rows(
    h: &impl Handle,
    found: &mut Vec<Violation>,
) -> Result<(), DbErr> {
    let users = per_deletion(h, "users").await?;
    let attachments = per_deletion(h, "attachments").await?;
    let archived = per_deletion(h, "archive").await?;
    let thinned = archive_may_lack(h).await?;
    // An erasure deletes its user's archived copies, and a purge archives none of theirs.
    let erased = super::erase_check::erased_deletions(h).await?;
    let sql = "SELECT d.id AS id, d.entity AS entity, d.cascade_count AS cascade, \
                 CASE WHEN d.restored_at IS NULL THEN 0 ELSE 1 END AS restored, \
                 CASE WHEN d.restored_by IS NULL THEN 0 ELSE 1 END AS has_restorer, \
                 CASE WHEN d.purge_started_at IS NULL THEN 0 ELSE 1 END AS purging, \
                 CASE WHEN d.purged_at IS NULL THEN 0 ELSE 1 END AS purged, \
                 CASE WHEN d.entity = 'user' THEN \
                   (SELECT COUNT(*) FROM users u WHERE u.id = d.entity_id AND u.deletion_id = d.id) \
                 ELSE \
                   (SELECT COUNT(*) FROM attachments a WHERE a.id = d.entity_id AND a.deletion_id = d.id) \
                 END AS hides_its_row \
               FROM deletions d ORDER BY d.id";
    for row in rows(h, sql).await? {
        let id: i64 = row.try_get("", "id")?;
        let cascade: i64 = row.try_get("", "cascade")?;
        let flag = |name: &str| row.try_get::<i32>("", name).map(|v| v != 0);
        let (restored, has_restorer) = (flag("restored")?, flag("has_restorer")?);
        let (purging, purged) = (flag("purging")?, flag("purged")?);
        let hides_its_row = row.try_get::<i64>("", "hides_its_row")? > 0;
        let hidden =
            users.get(&id).copied().unwrap_or(0) + attachments.get(&id).copied().unwrap_or(0);
        let in_archive = archived.get(&id).copied().unwrap_or(0);
        let expected = cascade.saturating_add(1);
        // The archive's retention may have erased some or all of its archived rows; an
        // erasure all of its user's.
        let fewer_allowed = thinned.contains(&id) || erased.contains(&id);
        let accounted = |n: i64| n == expected || (fewer_allowed && n < expected);
        let name = deletion(id);
        let mut flag_it =
            |kind: &'static str, message: String| found.push(Violation { kind, message });
        if restored && (purging || purged) {
            flag_it(
                "deletion-restored-and-purged",
                format!("deletion {name} is marked both restored and purged"),
            );
        } else if restored {
            if !has_restorer {
                flag_it(
                    "restore-without-restorer",
                    format!("deletion {name} is marked restored but names no restorer"),
                );
            }
            // Rows still hidden by it are reported per row above.
        } else if purged {
            if hidden == 0 && !accounted(in_archive) {
                flag_it(
                    "purged-deletion-not-archived",
                    format!(
                        "deletion {name} is marked purged but the archive holds {in_archive} of its {expected} rows"
                    ),
                );
            }
        } else if purging {
            if !accounted(hidden + in_archive) {
                flag_it(
                    "cascade-count-disagrees",
                    format!(
                        "deletion {name} (being purged) accounts for {} rows ({hidden} hidden, {in_archive} archived) but its cascade count says {expected}",
                        hidden + in_archive
                    ),
                );
            }
        } else {
            if !hides_its_row {
                flag_it(
                    "deletion-does-not-hide-its-row",
                    format!(
                        "deletion {name} is in force but its {} is not hidden by it",
                        row.try_get::<String>("", "entity")?
                    ),
                );
            }
            if hidden != expected {
                flag_it(
                    "cascade-count-disagrees",
                    format!(
                        "deletion {name} hides {hidden} rows but its cascade count says {expected}"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// Each searched text and the column holding its folding, with the kind of the table's ids.
const FOLDED: [(&str, &str, &str); 4] = [
    ("users", "email", "email_folded"),
    ("users", "name", "name_folded"),
    ("attachments", "filename", "filename_folded"),
    ("deletions", "reason", "reason_folded"),
];

/// Rows read per statement by [`folded_text_agrees`].
const FOLDED_PAGE: u64 = 1_000;

/// Every `*_folded` column holds the folding of the text beside it (a search looks there
/// only, so a row whose folding is stale is one no search finds). Rows are read a page at a
/// time, by id, so memory stays flat on a large table.
async fn folded_text_agrees(
    h: &impl Handle,
    table: &str,
    text: &str,
    folded: &str,
    found: &mut Vec<Violation>,
) -> Result<(), DbErr> {
    let (kind, noun) = match table {
        "users" => (Kind::User, "user"),
        "attachments" => (Kind::Attachment, "attachment"),
        _ => (Kind::Deletion, "deletion"),
    };
    // Ids start at 1.
    let mut after = 0i64;
    loop {
        let sql = format!(
            "SELECT id, {text} AS t, {folded} AS f FROM {table} \
             WHERE id > {after} ORDER BY id LIMIT {FOLDED_PAGE}"
        );
        let page = rows(h, &sql).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.try_get("", "id")?;
        for row in &page {
            let stored: Option<String> = row.try_get("", "t")?;
            let held: Option<String> = row.try_get("", "f")?;
            if stored.as_deref().map(fold) != held {
                let id: i64 = row.try_get("", "id")?;
                found.push(Violation {
                    kind: "folded-text-disagrees",
                    message: format!(
                        "{noun} {}: {folded} does not hold the folding of its {text}, so a \
                         search misses it (fold it again from {text})",
                        ids::encode(kind, id)
                    ),
                });
            }
        }
    }
}
