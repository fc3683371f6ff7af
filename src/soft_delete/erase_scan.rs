//! What an erasure finds before it writes anything (so a dry run and the real run measure
//! alike): the blobs a user's attachments hold, the archived copies of their rows, and every
//! free text that names them.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
use sea_orm::{ConnectionTrait as _, DbErr, QueryResult};

use super::redact::Needles;
use super::{Handle, exec};
use crate::entity::{archive, attachment, deletion};

/// Whose data an erasure takes: the user's row, or their archived copy once purged.
#[derive(Debug)]
pub struct Subject {
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// The deletion hiding them (for a purged user: the one whose purge archived them).
    pub deletion: Option<i64>,
    /// Whether the row is live (it is then deleted first).
    pub live: bool,
}

/// The latest archived copy of user `id`, once a purge erased their row.
pub async fn archived_user(h: &impl Handle, id: i64) -> Result<Option<Subject>, DbErr> {
    let query = Query::select()
        .columns([archive::Column::Row, archive::Column::DeletionId])
        .from(archive::Entity)
        .and_where(Expr::col(archive::Column::Entity).eq("user"))
        .and_where(Expr::col(archive::Column::EntityId).eq(id))
        .order_by(archive::Column::Id, sea_orm::Order::Desc)
        .limit(1)
        .to_owned();
    let Some(row) = all_rows(h, &query).await?.into_iter().next() else {
        return Ok(None);
    };
    let text: String = row.try_get("", "row")?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    Ok(Some(Subject {
        email: json["email"].as_str().unwrap_or_default().to_owned(),
        name: json["name"].as_str().unwrap_or_default().to_owned(),
        deletion: row.try_get("", "deletion_id")?,
        live: false,
    }))
}

/// The blobs of one user's attachment rows.
#[derive(Debug, Default)]
pub struct Blobs {
    /// Their attachment rows, live or deleted.
    pub attachments: i64,
    /// Every distinct blob their rows hold.
    pub all: Vec<String>,
    /// Those no other user's row holds: they leave the store.
    pub unshared: Vec<String>,
    /// The bytes of `unshared`, each blob once.
    pub unshared_bytes: i64,
    /// The deletions hiding their attachment rows.
    pub deletions: Vec<i64>,
}

async fn all_rows(
    h: &impl Handle,
    query: &sea_orm::sea_query::SelectStatement,
) -> Result<Vec<QueryResult>, DbErr> {
    let conn = exec(h);
    conn.query_all_raw(conn.get_database_backend().build(query))
        .await
}

/// The attachment rows of user `owner` and their blobs, in one statement.
pub async fn blobs_of(h: &impl Handle, owner: i64) -> Result<Blobs, DbErr> {
    let other = Alias::new("other");
    let shared = Query::select()
        .expr(Expr::val(1))
        .from_as(attachment::Entity, other.clone())
        .and_where(
            Expr::col((other.clone(), attachment::Column::Sha256))
                .equals((attachment::Entity, attachment::Column::Sha256)),
        )
        .and_where(Expr::col((other, attachment::Column::OwnerId)).ne(owner))
        .to_owned();
    let query = Query::select()
        .column((attachment::Entity, attachment::Column::Sha256))
        .column((attachment::Entity, attachment::Column::SizeBytes))
        .column((attachment::Entity, attachment::Column::DeletionId))
        .expr_as(
            Expr::case(Expr::exists(shared), 1).finally(0),
            Alias::new("shared"),
        )
        .from(attachment::Entity)
        .and_where(Expr::col((attachment::Entity, attachment::Column::OwnerId)).eq(owner))
        .to_owned();
    let mut found = Blobs::default();
    // Each blob once, with the largest size a row gives it and whether another user holds it.
    let mut blobs: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for row in all_rows(h, &query).await? {
        found.attachments += 1;
        if let Some(deletion) = row.try_get::<Option<i64>>("", "deletion_id")? {
            found.deletions.push(deletion);
        }
        let Some(sha256) = row.try_get::<Option<String>>("", "sha256")? else {
            continue;
        };
        let size: i64 = row.try_get("", "size_bytes")?;
        let shared = row.try_get::<i32>("", "shared")? != 0;
        let entry = blobs.entry(sha256).or_insert((0, shared));
        entry.0 = std::cmp::max(entry.0, size);
    }
    for (sha256, (size, shared)) in blobs {
        if !shared {
            found.unshared.push(sha256.clone());
            found.unshared_bytes = found.unshared_bytes.saturating_add(size);
        }
        found.all.push(sha256);
    }
    Ok(found)
}

/// Archived copies of one user's rows.
#[derive(Debug, Default)]
pub struct Archived {
    /// The archive rows: the user's own, and each of their attachments'.
    pub ids: Vec<i64>,
    /// The blobs the archived attachments held.
    pub blobs: Vec<String>,
    /// The deletions of the archived rows.
    pub deletions: Vec<i64>,
}

/// The archived copies of user `owner`'s rows: entity `user` with their id, and entity
/// `attachment` whose row names them as owner. The JSON is matched as the purge writes it
/// (`"owner_id":N,`), then read to be sure.
pub async fn archived_of(h: &impl Handle, owner: i64) -> Result<Archived, DbErr> {
    let query = Query::select()
        .columns([
            archive::Column::Id,
            archive::Column::Entity,
            archive::Column::EntityId,
            archive::Column::Row,
            archive::Column::DeletionId,
        ])
        .from(archive::Entity)
        .cond_where(
            Expr::col(archive::Column::Entity)
                .eq("user")
                .and(Expr::col(archive::Column::EntityId).eq(owner))
                .or(Expr::col(archive::Column::Entity)
                    .eq("attachment")
                    .and(Expr::col(archive::Column::Row).like(format!("%\"owner_id\":{owner},%")))),
        )
        .to_owned();
    let mut found = Archived::default();
    for row in all_rows(h, &query).await? {
        let id: i64 = row.try_get("", "id")?;
        let entity: String = row.try_get("", "entity")?;
        let deletion: Option<i64> = row.try_get("", "deletion_id")?;
        if entity == "user" {
            found.ids.push(id);
            found.deletions.extend(deletion);
            continue;
        }
        let text: String = row.try_get("", "row")?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if json["owner_id"].as_i64() == Some(owner) {
            found.ids.push(id);
            found.deletions.extend(deletion);
            if let Some(sha256) = json["sha256"].as_str() {
                found.blobs.push(sha256.to_owned());
            }
        }
    }
    Ok(found)
}

/// One free text rewritten: its table, key column, text column, folded column (if any), the
/// row's key and the new text.
pub type Rewrite = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    sea_orm::Value,
    String,
);

/// Every free text that names the person, rewritten.
#[derive(Debug, Default)]
pub struct Rewrites {
    /// Rows changed: a deletion whose reason and restore reason both named them counts once.
    rows: i64,
    texts: Vec<Rewrite>,
}

impl Rewrites {
    /// How many rows change.
    pub fn count(&self) -> i64 {
        self.rows
    }

    /// The updates to run.
    pub fn statements(&self) -> impl Iterator<Item = Rewrite> + '_ {
        self.texts.iter().cloned()
    }
}

/// Finds every free text naming the person: the log's reasons (a `LIKE` over the folded
/// column narrows them first) and restore reasons, the settings' values, the webhook
/// deliveries' last errors. Compared in Rust with [`Needles`], which fold as search does.
pub async fn rewrites(h: &impl Handle, needles: &Needles) -> Result<Rewrites, DbErr> {
    let mut found = Rewrites::default();
    let mut names_them = Expr::col(deletion::Column::RestoreReason).is_not_null();
    for needle in needles.folded() {
        names_them =
            names_them.or(Expr::col(deletion::Column::ReasonFolded).like(format!("%{needle}%")));
    }
    let query = Query::select()
        .columns([
            deletion::Column::Id,
            deletion::Column::Reason,
            deletion::Column::RestoreReason,
        ])
        .from(deletion::Entity)
        .cond_where(names_them)
        .to_owned();
    for row in all_rows(h, &query).await? {
        let id: i64 = row.try_get("", "id")?;
        let mut changed = false;
        for (column, folded) in [("reason", Some("reason_folded")), ("restore_reason", None)] {
            let text: Option<String> = row.try_get("", column)?;
            if let Some(new) = text.and_then(|t| needles.redact(&t)) {
                found
                    .texts
                    .push(("deletions", "id", column, folded, id.into(), new));
                changed = true;
            }
        }
        found.rows += i64::from(changed);
    }
    for (table, key, column) in [
        ("settings", "key", "value"),
        ("webhook_deliveries", "event_id", "last_status"),
    ] {
        let query = Query::select()
            .expr_as(Expr::col(Alias::new(key)), Alias::new("k"))
            .expr_as(Expr::col(Alias::new(column)), Alias::new("t"))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new(column)).is_not_null())
            .to_owned();
        for row in all_rows(h, &query).await? {
            let text: Option<String> = row.try_get("", "t")?;
            let Some(new) = text.and_then(|t| needles.redact(&t)) else {
                continue;
            };
            let key_value: sea_orm::Value = if table == "settings" {
                row.try_get::<String>("", "k")?.into()
            } else {
                row.try_get::<i64>("", "k")?.into()
            };
            found.texts.push((table, key, column, None, key_value, new));
            found.rows += 1;
        }
    }
    Ok(found)
}
