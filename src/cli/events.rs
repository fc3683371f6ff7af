//! `keepsake events`: the outbox's events as JSON lines, oldest first, for an operator or a
//! script handing them to another system. `--after ID` picks up after the last one seen.

use std::io::Write as _;

use super::{Target, client_error};
use crate::service::events;
use crate::soft_delete;

/// Events read per statement.
const PAGE: u64 = 500;

/// How long `--follow` waits without a notification before it looks again.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// `keepsake events [--after ID] [--follow]`: prints every event after `after`, then exits,
/// or with `follow` keeps printing new ones as they are committed, until interrupted.
pub(super) async fn print(
    target: &Target,
    mut after: Option<i64>,
    follow: bool,
) -> anyhow::Result<()> {
    let db = target.connect().await?;
    let mut wake = soft_delete::wakeups();
    // Not through a transaction pooler, which would hand the listening connection on: there
    // the once-a-second look below finds new events.
    let settings = &target.settings;
    let through_pooler = settings.transaction_pooler && settings.direct_database_url.is_none();
    if follow && db.backend() == sea_orm::DbBackend::Postgres && !through_pooler {
        tokio::spawn(soft_delete::listen(settings.direct_url().to_owned()));
    }
    loop {
        wake.borrow_and_update();
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        loop {
            let page = events::for_operator(&db, after, PAGE)
                .await
                .map_err(client_error)?;
            for (event, logged) in &page {
                writeln!(out, "{}", events::to_json(event, logged))?;
            }
            if let Some((last, _)) = page.last() {
                after = Some(last.id);
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        out.flush()?;
        drop(out);
        if !follow {
            return Ok(());
        }
        let _ = tokio::time::timeout(LOOK_AGAIN, wake.changed()).await;
    }
}
