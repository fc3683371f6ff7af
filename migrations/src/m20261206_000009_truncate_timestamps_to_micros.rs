//! Timestamps at one precision on both databases: microseconds. PostgreSQL's `timestamptz`
//! holds microseconds, but SQLite keeps the text the server wrote, which had nanoseconds
//! until the server truncated every timestamp it writes to microseconds. This migration
//! truncates the SQLite rows written before that (down to the microsecond, never rounding
//! up), re-encoded exactly as the server now writes them, so reading a row back gives the
//! same moment on both databases. On PostgreSQL there is nothing to do.
//!
//! `down` changes nothing: the dropped nanoseconds are gone, and earlier code reads
//! microseconds as well as it read nanoseconds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::rows::rewrite_rows;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every timestamp column, by table.
const TIMESTAMPS: [(&str, &[&str]); 4] = [
    ("users", &["created_at", "updated_at", "deleted_at"]),
    ("attachments", &["created_at", "deleted_at"]),
    (
        "deletions",
        &["deleted_at", "restored_at", "purged_at", "purge_started_at"],
    ),
    ("archive", &["deleted_at", "archived_at"]),
];

/// `stored` truncated to the microsecond and written as the server writes a timestamp to
/// SQLite (RFC 3339, `+00:00`, 0, 3 or 6 digits of fraction); `None` when it needs no change
/// or is not a timestamp this can read (left as it is).
fn truncated(stored: &str) -> Option<String> {
    use chrono::{SecondsFormat, SubsecRound as _, Utc};
    let at = chrono::DateTime::parse_from_rfc3339(stored)
        .ok()?
        .with_timezone(&Utc)
        .trunc_subsecs(6);
    let text = at.to_rfc3339_opts(SecondsFormat::AutoSi, false);
    (text != stored).then_some(text)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        for (table, columns) in TIMESTAMPS {
            rewrite_rows(manager, table, columns, |row| {
                let mut changed = Vec::new();
                for &column in columns {
                    let stored: Option<String> = row.try_get("", column)?;
                    if let Some(text) = stored.as_deref().and_then(truncated) {
                        changed.push((column, Value::from(text)));
                    }
                }
                Ok(changed)
            })
            .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::truncated;

    #[test]
    fn nanoseconds_are_dropped_never_rounded() {
        assert_eq!(
            truncated("2026-11-27T10:00:00.123456789+00:00").as_deref(),
            Some("2026-11-27T10:00:00.123456+00:00")
        );
        assert_eq!(
            truncated("2026-11-27T10:00:00.120000999+00:00").as_deref(),
            Some("2026-11-27T10:00:00.120+00:00")
        );
        assert_eq!(truncated("2026-11-27T10:00:00.123456+00:00"), None);
        assert_eq!(truncated("2026-11-27T10:00:00+00:00"), None);
        assert_eq!(truncated("not a time"), None);
    }
}
