//! `keepsake migrate` and `keepsake check`: bringing the database's schema up to date, and
//! verifying the soft-delete invariants on its rows.

use std::io::Write as _;

use anyhow::Context as _;

use super::{Target, client_error, redact_url};
use crate::service;
use crate::soft_delete::Db;

/// `keepsake migrate`: applies pending migrations, first creating the PostgreSQL database
/// when `create_database` asks for it.
pub(super) async fn migrate(target: &Target, create_database: bool) -> anyhow::Result<()> {
    let settings = &target.settings;
    if create_database
        && Db::create_database_if_missing(settings.direct_url())
            .await
            .with_context(|| {
                format!(
                    "--create-database: cannot create the database of {}",
                    redact_url(settings.direct_url())
                )
            })?
    {
        println!("created the database");
    }
    target.connect().await?;
    println!("migrations applied");
    Ok(())
}

/// `keepsake check` found violations (already printed).
#[derive(Debug, thiserror::Error)]
#[error("{0} invariant violation(s) found")]
pub struct ChecksFailed(pub usize);

/// `keepsake check`: prints each violation (or a JSON document) and fails when any is found.
pub(super) async fn check(target: &Target, json: bool, fix: bool) -> anyhow::Result<()> {
    let db = target.connect().await?;
    let storage = target.storage()?;
    if fix {
        let (erased, removed) = service::content::remove_orphan_blobs(&db, &storage)
            .await
            .map_err(client_error)?;
        eprintln!(
            "--fix: removed {erased} blob(s) no attachment refers to and {removed} stale upload(s)"
        );
    }
    let event_retention = target.settings.event_retention;
    let mut violations = crate::soft_delete::check::check_with(&db, event_retention)
        .await
        .context("reading the database")?;
    violations.extend(
        service::content::check_blobs(&db, &storage)
            .await
            .map_err(client_error)?,
    );
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({ "ok": violations.is_empty(), "violations": violations });
        writeln!(out, "{doc}")?;
    } else {
        for v in &violations {
            writeln!(out, "{}: {}", v.kind, v.message)?;
        }
        if violations.is_empty() {
            writeln!(out, "ok: every soft-delete invariant holds")?;
        }
    }
    out.flush()?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ChecksFailed(violations.len()).into())
    }
}
