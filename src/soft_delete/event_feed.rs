//! How readers of the outbox learn there may be something new: this process's commits that
//! wrote events ([`committed`], called by `Tx::commit`), and on PostgreSQL every server's,
//! notified on [`CHANNEL`] ([`announce`] sends, [`listen`] hears). A wake-up only says "look
//! again": the outbox is the source of truth.

use std::time::Duration;

/// The statement [`announce`] sends. A notification takes a transaction id, so its commit
/// writes a commit record; nothing is kept by it (a lost one is caught up from the table), so
/// that commit does not wait for the WAL to reach the disk (`synchronous_commit` off for it
/// alone), and the writers' own commits do not share a flush with it.
const NOTIFY: &str =
    "SELECT set_config('synchronous_commit', 'off', true), pg_notify('keepsake_events', '')";

/// The PostgreSQL channel on which a commit that wrote events notifies every server.
pub const CHANNEL: &str = "keepsake_events";

/// This process's wake-up signal for readers of the outbox: a counter bumped after each
/// commit that wrote events here, and (on PostgreSQL) on each notification from any server.
/// A wake-up says only "look again": the outbox is the source of truth, so a missed or
/// merged one loses nothing, and one from another database costs a read that finds nothing.
static FEED: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::Sender::new(0));

/// Bumped by this process's own commits that wrote events (not by notifications), for
/// [`announce`].
static OWN: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::Sender::new(0));

/// A commit here wrote events: wakes this process's readers and has [`announce`] tell the
/// other servers.
pub(crate) fn committed() {
    OWN.send_modify(|n| *n = n.wrapping_add(1));
    woken();
}

/// Wakes this process's readers of the outbox.
fn woken() {
    FEED.send_modify(|n| *n = n.wrapping_add(1));
}

/// The least time between two notifications from one process. Commits made meanwhile share
/// the next one: under a stream of writes a server notifies a few dozen times a second, not
/// once for nearly every commit (each notification is a transaction of its own, with a commit
/// record, and a message to every listening server). The first commit after a quiet spell is
/// announced at once; the readers it wakes gather commits for longer than this anyway
/// (`service::events::Tail`).
const ANNOUNCE_GAP: Duration = Duration::from_millis(20);

/// Tells every server listening on the database `url` names (itself included) that events
/// were committed here: one notification for each burst of this process's commits (at most
/// one each [`ANNOUNCE_GAP`]), sent after them on a connection of its own (outside the pool,
/// so it is no request's statement and takes no request's connection), until the process
/// ends. A failed one is logged and the connection opened again; the readers'
/// once-a-second look catches up meanwhile.
pub async fn announce(url: String) {
    use sea_orm::sqlx::{Connection as _, Executor as _, PgConnection};
    let url = super::connect::without_loopback_tls(&url);
    let mut own = OWN.subscribe();
    let mut conn: Option<PgConnection> = None;
    while own.changed().await.is_ok() {
        own.borrow_and_update();
        if conn.is_none() {
            match PgConnection::connect(&url).await {
                Ok(opened) => conn = Some(opened),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot notify the other servers of new events");
                    continue;
                }
            }
        }
        if let Some(open) = conn.as_mut()
            && let Err(err) = open.execute(NOTIFY).await
        {
            tracing::warn!(error = %err, "could not notify the other servers of new events");
            conn = None;
        }
        // Commits during the pause mark `own` changed: the next notification follows it.
        tokio::time::sleep(ANNOUNCE_GAP).await;
    }
}

/// A receiver that wakes when events may have been committed.
pub fn wakeups() -> tokio::sync::watch::Receiver<u64> {
    FEED.subscribe()
}

/// Listens on PostgreSQL for events committed by any server on the database `url` names,
/// waking this process's readers for each, until the process ends. A lost connection is
/// logged and opened again after a second, with a wake-up, since notifications sent while
/// it was down are lost (the readers then catch up from the table).
pub async fn listen(url: String) {
    use sea_orm::sqlx::postgres::PgListener;
    let url = super::connect::without_loopback_tls(&url);
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for events; trying again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for events; trying again in 1 s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        tracing::debug!(channel = CHANNEL, "listening for events");
        woken();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => woken(),
                Ok(None) => {
                    tracing::warn!("the event listener's connection was lost; listening again");
                    woken();
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the event listener failed; listening again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
