//! `keepsake events`: the outbox's events as JSON lines, oldest first, for an operator or a
//! script handing them to another system. `--after ID` picks up after the last one seen.

use std::io::Write as _;

use super::{Target, client_error};
use crate::service::events;

/// Events read per statement.
const PAGE: u64 = 500;

/// `keepsake events [--after ID]`: prints every event after `after`, then exits.
pub(super) async fn print(target: &Target, mut after: Option<i64>) -> anyhow::Result<()> {
    let db = target.connect().await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    loop {
        let page = events::for_operator(&db, after, PAGE)
            .await
            .map_err(client_error)?;
        for (event, logged) in &page {
            writeln!(out, "{}", events::to_json(event, logged))?;
        }
        match page.last() {
            Some((last, _)) if page.len() as u64 == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    out.flush()?;
    Ok(())
}
