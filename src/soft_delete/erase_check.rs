//! `keepsake check` on erasures: every erased user (a tombstone) holds only placeholders, so
//! do their attachments (and no blob); no archived copy of their rows remains; and every
//! user holding a placeholder email has a tombstone. The blob an erasure left in the store
//! (a crash between its commit and the blob's removal) is the store check's orphan.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, Statement};

use super::erase::{ERASED_CONTENT_TYPE, ERASED_EMAIL_DOMAIN, ERASED_FILENAME, ERASED_NAME};
use super::{Handle, erased_email, exec};
use crate::ids::{self, Kind};

async fn rows(h: &impl Handle, sql: String) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let conn = exec(h);
    let backend = conn.get_database_backend();
    conn.query_all_raw(Statement::from_string(backend, sql))
        .await
}

fn user(id: i64) -> String {
    ids::encode(Kind::User, id)
}

/// `(kind, message)` for each broken rule about erasures.
pub(super) async fn findings(h: &impl Handle) -> Result<Vec<(&'static str, String)>, DbErr> {
    let mut found = Vec::new();
    let sql = "SELECT e.user_id AS id, u.email AS email, u.name AS name, \
                 CASE WHEN u.id IS NULL THEN 0 ELSE 1 END AS present, \
                 CASE WHEN u.deleted_at IS NULL THEN 1 ELSE 0 END AS live \
               FROM erasures e LEFT JOIN users u ON u.id = e.user_id ORDER BY e.user_id";
    for row in rows(h, sql.to_owned()).await? {
        let id: i64 = row.try_get("", "id")?;
        if row.try_get::<i32>("", "present")? == 0 {
            continue; // purged since: the tombstone stays, alone
        }
        let email: String = row.try_get("", "email")?;
        let name: String = row.try_get("", "name")?;
        if email != erased_email(id) || name != ERASED_NAME {
            found.push((
                "erased-user-holds-personal-data",
                format!(
                    "user {} was erased, yet its email or name is not the placeholder",
                    user(id)
                ),
            ));
        }
        if row.try_get::<i32>("", "live")? == 1 {
            found.push((
                "erased-user-is-live",
                format!("user {} was erased, yet it is live", user(id)),
            ));
        }
    }
    let sql = format!(
        "SELECT a.id AS id, a.owner_id AS owner FROM attachments a \
         JOIN erasures e ON e.user_id = a.owner_id \
         WHERE a.filename <> '{ERASED_FILENAME}' OR a.content_type <> '{ERASED_CONTENT_TYPE}' \
            OR a.sha256 IS NOT NULL ORDER BY a.id"
    );
    for row in rows(h, sql).await? {
        let id: i64 = row.try_get("", "id")?;
        let owner: i64 = row.try_get("", "owner")?;
        found.push((
            "erased-attachment-holds-personal-data",
            format!(
                "attachment {} of erased user {} still holds a filename, content type or blob \
                 other than the placeholders",
                ids::encode(Kind::Attachment, id),
                user(owner)
            ),
        ));
    }
    let owner = match exec(h).get_database_backend() {
        DbBackend::Postgres => "CAST((a.row::json)->>'owner_id' AS BIGINT)",
        _ => "CAST(json_extract(a.row, '$.owner_id') AS INTEGER)",
    };
    // Two equi-joins (each a hash join over one scan of the archive), not one join on OR.
    let sql = format!(
        "SELECT id, erased FROM ( \
           SELECT a.id AS id, e.user_id AS erased FROM archive a \
             JOIN erasures e ON a.entity_id = e.user_id WHERE a.entity = 'user' \
           UNION ALL \
           SELECT a.id AS id, e.user_id AS erased FROM \
             (SELECT a.id AS id, {owner} AS owner FROM archive a WHERE a.entity = 'attachment') a \
             JOIN erasures e ON a.owner = e.user_id \
         ) found ORDER BY id"
    );
    for row in rows(h, sql).await? {
        let id: i64 = row.try_get("", "id")?;
        let erased: i64 = row.try_get("", "erased")?;
        found.push((
            "erased-user-archived",
            format!(
                "archive entry {id} is a copy of a row of erased user {}",
                user(erased)
            ),
        ));
    }
    let sql = format!(
        "SELECT u.id AS id FROM users u WHERE u.email LIKE 'erased-%@{ERASED_EMAIL_DOMAIN}' \
         AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.user_id = u.id) ORDER BY u.id"
    );
    for row in rows(h, sql).await? {
        let id: i64 = row.try_get("", "id")?;
        found.push((
            "erasure-without-tombstone",
            format!(
                "user {} holds an erased placeholder email but has no erasure tombstone",
                user(id)
            ),
        ));
    }
    Ok(found)
}

/// Every deletion that hid a row of an erased user: their rows are, by design, not all in
/// the archive.
pub(super) async fn erased_deletions(h: &impl Handle) -> Result<HashSet<i64>, DbErr> {
    let mut found = HashSet::new();
    for row in rows(h, "SELECT deletions FROM erasures".to_owned()).await? {
        let text: String = row.try_get("", "deletions")?;
        let ids: Vec<i64> = serde_json::from_str(&text).unwrap_or_default();
        found.extend(ids);
    }
    Ok(found)
}
