//! `keepsake purge` and `keepsake archive export`: the end of a soft-deleted row's life
//! (archived, then erased) and the archive it leaves, as JSON lines.

use std::io::Write as _;

use anyhow::Context as _;

use super::progress::Progress;
use super::{Target, client_error};
use crate::duration;
use crate::entity::archive;
use crate::ids::{self, Kind};
use crate::service;
use crate::soft_delete::{self, ArchiveFilter, EntityKind, Window};

/// `keepsake purge`: archives, then erases, rows deleted longer ago than `older_than`, in
/// transactions of `batch_size` rows (or only counts them on a dry run).
pub(super) async fn purge(
    target: &Target,
    older_than: &str,
    dry_run: bool,
    batch_size: u64,
) -> anyhow::Result<()> {
    let older_than = duration::parse(older_than)
        .map_err(|problem| anyhow::anyhow!("--older-than: {problem}"))?;
    if batch_size == 0 {
        anyhow::bail!("--batch-size: must be at least 1");
    }
    let db = target.connect().await?;
    let storage = target.storage()?;
    let bar = Progress::new("purging", "rows");
    let report = service::purge::purge(
        &db,
        &storage,
        older_than,
        dry_run,
        batch_size,
        |done, total| bar.update(done, total),
    )
    .await
    .map_err(client_error)?;
    bar.finish();
    // Its own line, before the summary (which stays the last line, for scripts).
    println!(
        "held: {} rows {} because their user is under a legal hold",
        report.held,
        if report.dry_run {
            "would be kept"
        } else {
            "kept"
        }
    );
    if report.dry_run {
        println!(
            "dry run: would purge {} users and {} attachments, freeing {} bytes of content (nothing changed)",
            report.users, report.attachments, report.freed_bytes
        );
    } else {
        println!(
            "purged {} users and {} attachments; {} rows archived; {} bytes of content freed",
            report.users, report.attachments, report.archived, report.freed_bytes
        );
    }
    Ok(())
}

/// `keepsake archive export`: prints archived rows as JSON lines, oldest first, from `since`
/// on when given.
pub(super) async fn export_archive(target: &Target, since: Option<&str>) -> anyhow::Result<()> {
    let since = since.map(parse_since).transpose()?;
    let db = target.connect().await?;
    let filter = ArchiveFilter {
        entity: None,
        since,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = None;
    loop {
        let page = filter.page(&db, Window::forward(1_000, after)).await?;
        for record in &page.rows {
            writeln!(out, "{}", archive_line(record)?)?;
        }
        after = page.rows.last().map(|r| r.id);
        if !page.has_more {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

/// `--since`: an RFC 3339 moment, or a duration ago (`30d`).
fn parse_since(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(moment) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(soft_delete::to_micros(moment.with_timezone(&chrono::Utc)));
    }
    let ago = duration::parse(text).map_err(|_| {
        anyhow::anyhow!("--since: '{text}' is neither an RFC 3339 time (2026-01-31T00:00:00Z) nor a duration (30d)")
    })?;
    Ok(soft_delete::now() - chrono::Duration::from_std(ago)?)
}

/// One archived row as a JSON line for compliance hand-offs.
/// Ids and entity names are the API's (`archivedRecords`): opaque ids, `USER`/`ATTACHMENT`;
/// `row` is the row as it was stored.
fn archive_line(record: &archive::Model) -> anyhow::Result<String> {
    let row: serde_json::Value = serde_json::from_str(&record.row)
        .with_context(|| format!("archive row {} holds invalid JSON", record.id))?;
    let Some(kind) = EntityKind::parse(&record.entity) else {
        anyhow::bail!(
            "archive row {} names an unknown entity {:?}",
            record.id,
            record.entity
        )
    };
    Ok(serde_json::json!({
        "archiveId": record.id,
        // The GraphQL enum's value: the stored name in capitals.
        "entity": kind.as_str().to_ascii_uppercase(),
        "entityId": ids::encode(kind.into(), record.entity_id),
        "deletionId": record.deletion_id.map(|d| ids::encode(Kind::Deletion, d)),
        "deletedAt": record.deleted_at,
        "archivedAt": record.archived_at,
        "row": row,
    })
    .to_string())
}
