//! `keepsake reporting grant ROLE` and `keepsake reporting revoke ROLE`: read access to the
//! `reporting` views for a PostgreSQL role, given and taken back.
//!
//! What was done goes to stdout, one line per privilege. When the database user running
//! Keepsake may not grant, the exact SQL for an administrator goes to stdout (ready for
//! `psql`) and the command fails. On SQLite, which has no roles, it says so and fails: no
//! access was given, and a script should not go on as if it had been.

use std::io::Write as _;

use super::Target;
use crate::soft_delete::reporting::{self, Refusal};

/// `keepsake reporting grant ROLE`.
pub(super) async fn grant(target: &Target, role: &str) -> anyhow::Result<()> {
    if !is_postgres(target) {
        return Err(Refusal::NoRoles.into());
    }
    let db = target.connect().await?;
    report(reporting::grant(&db, role).await)
}

/// `keepsake reporting revoke ROLE`.
pub(super) async fn revoke(target: &Target, role: &str) -> anyhow::Result<()> {
    if !is_postgres(target) {
        return Err(Refusal::NoRoles.into());
    }
    let db = target.connect().await?;
    report(reporting::revoke(&db, role).await)
}

fn is_postgres(target: &Target) -> bool {
    let url = &target.settings.database_url;
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Prints what was done, or the SQL an administrator can run instead.
fn report(outcome: Result<Vec<String>, Refusal>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(lines) => {
            for line in lines {
                writeln!(out, "{line}")?;
            }
            out.flush()?;
            Ok(())
        }
        Err(refusal @ Refusal::MayNotGrant { .. }) => {
            if let Refusal::MayNotGrant { sql, .. } = &refusal {
                writeln!(
                    out,
                    "-- for an administrator (the owner of schema reporting, or a superuser):"
                )?;
                for statement in sql {
                    writeln!(out, "{statement}")?;
                }
            }
            out.flush()?;
            Err(refusal.into())
        }
        Err(Refusal::Db(err)) => {
            Err(anyhow::Error::new(err).context("changing the reporting role's privileges"))
        }
        Err(other) => Err(other.into()),
    }
}
