//! Which outbox ids are final: the greatest id below which no event can still appear.
//!
//! Readers follow the outbox by `id > last seen`, which is safe only for ids that are final.
//! On PostgreSQL two transactions can draw event ids 5 and 6 and commit 6 first; a reader
//! that saw 6 and moved past it would never look back for 5. Writers take no lock for this
//! (their commits stay as concurrent as the changes themselves); a reader works it out from
//! what it sees and from PostgreSQL's snapshot instead:
//!
//! - It reads, in one statement, how many ids above the last final one `known` it sees, the
//!   greatest of them, and the statement's snapshot (`pg_current_snapshot()`: the
//!   transactions then in progress).
//! - If the ids it sees run without a hole from `known + 1` to the greatest, every id up to
//!   the greatest is final: an id drawn later is greater (ids are drawn in increasing order).
//! - If there is a hole below the greatest id it sees, the missing id was drawn before that
//!   greatest one committed, so before the snapshot: by a transaction that has rolled back
//!   (the hole stays) or by one still in progress in the snapshot. Every writer holds a
//!   transaction id by the time it draws an event id (the event is written after the change,
//!   and the insert asks for one first, [`super::events::record`]), so the writer is in the
//!   snapshot's in-progress list. The reader waits, polling, until every transaction of that
//!   list has ended; then every id up to the greatest it saw is final, there or gone for
//!   good. New writers never wait for a reader.
//!
//! A hole makes a reader wait for every transaction that was then in progress, not only for
//! event writers: a long unrelated transaction delays event readers (never writers). After
//! [`SLOW`] the reader logs which transactions it still waits for.
//!
//! SQLite has one writer at a time, and ids are drawn in commit order: the greatest id is
//! final.

use std::time::Duration;

use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DbBackend, DbErr, EntityTrait, QueryFilter as _,
    QuerySelect, Statement,
};

use super::exec;
use crate::entity::event;

/// How many ids above the last final one a reader looks at in one go.
const WINDOW: i64 = 10_000;

/// After how long a reader waiting for transactions in progress says so in the log.
const SLOW: Duration = Duration::from_secs(5);

/// The greatest event id, at least `known` (an id already final, or one the caller has read
/// past), at or below which every id is final: committed, or gone for good. It looks at most
/// [`WINDOW`] ids past `known` (enough for a read of a page of events; see
/// [`final_event_id_at_head`]). On PostgreSQL it may wait for transactions in progress (see
/// the module's header); it never holds anyone back.
pub async fn final_event_id(db: &super::Db, known: i64) -> Result<i64, DbErr> {
    Ok(step(db, known).await?.0)
}

/// As [`final_event_id`], but as far as the outbox goes, however far behind `known` is (a
/// server's tail catching up with a long outbox): one window after another.
pub async fn final_event_id_at_head(db: &super::Db, mut known: i64) -> Result<i64, DbErr> {
    loop {
        let (at, full) = step(db, known).await?;
        if !full || at <= known {
            return Ok(at);
        }
        known = at;
    }
}

/// One window of [`final_event_id`]: the final id, and whether the window was full (more ids
/// may follow).
async fn step(db: &super::Db, known: i64) -> Result<(i64, bool), DbErr> {
    let conn = exec(db);
    if conn.get_database_backend() != DbBackend::Postgres {
        #[allow(clippy::disallowed_methods)] // the outbox is the core's own table
        let select = event::Entity::find();
        let greatest: Option<Option<i64>> = select
            .select_only()
            .column_as(event::Column::Id.max(), "greatest")
            .filter(event::Column::Id.gt(known))
            .into_tuple()
            .one(&conn)
            .await?;
        return Ok((greatest.flatten().unwrap_or(known).max(known), false));
    }
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS seen, max(id) AS greatest, pg_current_snapshot()::text AS snapshot \
             FROM (SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2) w",
            [known.into(), WINDOW.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("reading the outbox's tail returned no row".into()))?;
    let seen: i64 = row.try_get("", "seen")?;
    let Some(greatest) = row.try_get::<Option<i64>>("", "greatest")? else {
        return Ok((known, false));
    };
    let full = seen >= WINDOW;
    if greatest - known == seen {
        return Ok((greatest, full));
    }
    let snapshot: String = row.try_get("", "snapshot")?;
    wait_for_ended(db, in_progress(&snapshot)?).await?;
    Ok((greatest, full))
}

/// The transactions in progress in a `pg_snapshot`'s text, `xmin:xmax:xip,…`.
fn in_progress(snapshot: &str) -> Result<Vec<u64>, DbErr> {
    let list = snapshot
        .splitn(3, ':')
        .nth(2)
        .ok_or_else(|| DbErr::Custom(format!("unreadable snapshot {snapshot:?}")))?;
    list.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .map_err(|_| DbErr::Custom(format!("unreadable snapshot {snapshot:?}")))
        })
        .collect()
}

/// Waits until none of `xids` is in progress any more.
async fn wait_for_ended(db: &super::Db, mut xids: Vec<u64>) -> Result<(), DbErr> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut warned = false;
    while !xids.is_empty() {
        let row = exec(db)
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_current_snapshot()::text AS snapshot",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("reading a snapshot returned no row".into()))?;
        let now: String = row.try_get("", "snapshot")?;
        let still = in_progress(&now)?;
        // A transaction of the earlier list ended iff it is no longer in progress now.
        xids.retain(|x| still.contains(x));
        if xids.is_empty() {
            break;
        }
        if !warned && started.elapsed() > SLOW {
            warned = true;
            tracing::warn!(
                transactions = ?xids,
                "the outbox's readers wait for transactions still in progress (see \
                 pg_stat_activity's backend_xid): events reach subscribers and webhooks when \
                 they end"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::in_progress;

    #[test]
    fn reads_the_transactions_in_progress_of_a_snapshot() {
        assert_eq!(in_progress("10:20:10,14,15").unwrap(), vec![10, 14, 15]);
        assert_eq!(in_progress("10:10:").unwrap(), Vec::<u64>::new());
        assert!(in_progress("10:20").is_err());
        assert!(in_progress("10:20:x").is_err());
    }
}
