//! The transactional outbox: every delete, restore and purged deletion writes one row of
//! `events` in the transaction of the change itself, so an event exists if and only if its
//! change committed. Other systems read it in id order, following `id > last seen`, up to the
//! greatest id known final (`event_frontier.rs`: on PostgreSQL a smaller id can still commit
//! after a greater one; the reader, not the writer, waits that out, so writers take no lock
//! for the outbox and their commits stay as concurrent as the changes).
//!
//! Readers are woken rather than polling hard: a commit that wrote events wakes this
//! process's readers (`event_feed.rs`) and, on PostgreSQL, a task (`announce`) sends one
//! notification for each burst of such commits, after them and outside them, so the
//! notification queue's lock never joins a writer's commit; every server listens.
//!
//! Old events are dropped by the retention job ([`drop_events_before`]); `keepsake check`
//! asks each change newer than the retention window for its event ([`findings`]).

use std::time::Duration;

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait as _, DbBackend, DbErr, EntityTrait, FromQueryResult as _,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait as _, Set, Statement,
};

use super::event_frontier::final_event_id;
use super::{DeletionFilter, Handle, Tx, exec, to_micros};
use crate::entity::{deletion, erasure, event};
use crate::ids::{self, Kind};

/// What happened, as `events.type` stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A deletion was made (a user with their attachments, or attachments).
    DeletionCreated,
    /// A deletion was undone.
    DeletionRestored,
    /// A deletion's rows were purged: archived, then erased.
    DeletionPurged,
    /// A user's personal data was erased.
    UserErased,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 4] = [
        EventType::DeletionCreated,
        EventType::DeletionRestored,
        EventType::DeletionPurged,
        EventType::UserErased,
    ];

    /// The stored value, which is also what readers are given.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::DeletionCreated => "deletion.created",
            EventType::DeletionRestored => "deletion.restored",
            EventType::DeletionPurged => "deletion.purged",
            EventType::UserErased => "user.erased",
        }
    }

    /// Parses a stored `events.type`.
    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// How long events are kept unless `KEEPSAKE_EVENT_RETENTION` says otherwise: 7 days.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Marks `tx` as a writer of events: its commit wakes the readers (`event_feed.rs`).
fn writes_events(tx: &Tx) {
    tx.wrote_events
        .store(true, std::sync::atomic::Ordering::Relaxed);
}

/// `write`'s values with an event's type and moment appended, and the numbers of their
/// placeholders, for a PostgreSQL statement that wraps `write` and inserts events.
fn with_kind_and_at(
    write: Statement,
    kind: EventType,
    at: DateTimeUtc,
) -> (String, sea_orm::Values, usize, usize) {
    let mut values = write.values.unwrap_or(sea_orm::Values(Vec::new()));
    values.0.push(kind.as_str().into());
    values.0.push(to_micros(at).into());
    let (kind, at) = (values.0.len() - 1, values.0.len());
    (write.sql, values, kind, at)
}

fn row(kind: EventType, deletion: i64, at: DateTimeUtc) -> event::ActiveModel {
    event::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        deletion_id: Set(deletion),
        occurred_at: Set(to_micros(at)),
        ..Default::default()
    }
}

/// Writes event `kind` of deletion `deletion`, at `at` (the change's own moment), in `tx`,
/// after the change's first write.
pub(super) async fn record(
    tx: &Tx,
    kind: EventType,
    deletion: i64,
    at: DateTimeUtc,
) -> Result<(), DbErr> {
    if exec(tx).get_database_backend() == DbBackend::Postgres {
        // The transaction id and the insert in one statement (one round trip): the id is
        // assigned as the subquery's row is made, before the insert draws the event's id.
        writes_events(tx);
        exec(tx)
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO events (\"type\", deletion_id, occurred_at) \
                 SELECT $1, $2, $3 FROM (SELECT pg_current_xact_id()) turn",
                [kind.as_str().into(), deletion.into(), to_micros(at).into()],
            ))
            .await?;
        return Ok(());
    }
    writes_events(tx);
    event::Entity::insert(row(kind, deletion, at))
        .exec_without_returning(&exec(tx))
        .await?;
    Ok(())
}

/// PostgreSQL: `write`, an `INSERT` or `UPDATE` of one row of the deletion log built without
/// `RETURNING`, and event `kind` of that row at `at`, in one statement (one round trip); the
/// row as written, `None` when `write` wrote none. The write gives the transaction its id
/// before the event draws its own (`event_frontier.rs`).
pub(super) async fn write_with_event(
    tx: &Tx,
    write: Statement,
    kind: EventType,
    at: DateTimeUtc,
) -> Result<Option<deletion::Model>, DbErr> {
    writes_events(tx);
    let (write, values, kind, at) = with_kind_and_at(write, kind, at);
    let sql = format!(
        r#"WITH written AS ({write} RETURNING *), logged AS (
INSERT INTO events ("type", deletion_id, occurred_at) SELECT ${kind}, w."id", ${at}
FROM written w, (SELECT pg_current_xact_id()) turn)
SELECT * FROM written"#
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    exec(tx)
        .query_one_raw(statement)
        .await?
        .map(|row| deletion::Model::from_query_result(&row, ""))
        .transpose()
}

/// SQLite (PostgreSQL marks and writes in one statement, [`mark_and_record_purged`]): writes
/// `deletion.purged` for those of `taken` (locked in `tx`) that this batch marked purged at
/// `now` (a deletion purged by an earlier batch carries that batch's moment), in id order, in
/// one statement that reads them from the log.
pub(super) async fn record_purged(tx: &Tx, taken: &[i64], now: DateTimeUtc) -> Result<(), DbErr> {
    if taken.is_empty() {
        return Ok(());
    }
    writes_events(tx);
    let now = to_micros(now);
    let purged = Query::select()
        .expr(Expr::val(EventType::DeletionPurged.as_str()))
        .column(deletion::Column::Id)
        .expr(Expr::val(now))
        .from(deletion::Entity)
        .and_where(deletion::Column::Id.is_in(taken.iter().copied()))
        .and_where(deletion::Column::PurgedAt.eq(now))
        .order_by(deletion::Column::Id, Order::Asc)
        .to_owned();
    let insert = Query::insert()
        .into_table(event::Entity)
        .columns([
            event::Column::Kind,
            event::Column::DeletionId,
            event::Column::OccurredAt,
        ])
        .select_from(purged)
        .map_err(|e| DbErr::Custom(format!("writing purge events: {e}")))?
        .to_owned();
    let conn = exec(tx);
    conn.execute_raw(conn.get_database_backend().build(&insert))
        .await?;
    Ok(())
}

/// PostgreSQL: `mark` (the batch's `UPDATE` of the deletion log) and the `deletion.purged`
/// events of the deletions it marked purged at `now`, in id order, in one statement (the
/// `UPDATE` has given the transaction its id before the insert draws one).
pub(super) async fn mark_and_record_purged(
    tx: &Tx,
    mark: Statement,
    now: DateTimeUtc,
) -> Result<(), DbErr> {
    writes_events(tx);
    let (mark, values, kind, at) = with_kind_and_at(mark, EventType::DeletionPurged, now);
    let sql = format!(
        r#"WITH marked AS ({mark} RETURNING "id", "purged_at")
INSERT INTO events ("type", deletion_id, occurred_at) SELECT ${kind}, m."id", ${at}
FROM marked m
WHERE m."purged_at" = ${at} ORDER BY m."id""#
    );
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    exec(tx).execute_raw(statement).await?;
    Ok(())
}

/// Who reads the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventReader {
    /// Support and admins: every event.
    Everyone,
    /// A member: only events of the deletions they may know of, by the rule
    /// `recentDeletions` and `restore` apply ([`DeletionFilter::only_rows_of`]): made by them,
    /// of their own rows alone.
    Member(i64),
}

/// Up to `limit` events with ids above `after` (all when `None`) that `reader` may see, in id
/// order, only up to an id known final: `upto` when the caller knows one
/// ([`final_event_id`]), else the one worked out now (which may wait for writers in flight,
/// never holding them back).
pub async fn events_after(
    db: &super::Db,
    reader: EventReader,
    after: Option<i64>,
    upto: Option<i64>,
    limit: u64,
) -> Result<Vec<event::Model>, DbErr> {
    let upto = match upto {
        Some(upto) => upto,
        None => final_event_id(db, after.unwrap_or(0)).await?,
    };
    #[allow(clippy::disallowed_methods)] // the outbox is the core's own table
    let mut select = event::Entity::find();
    if let Some(after) = after {
        select = select.filter(event::Column::Id.gt(after));
    }
    if let EventReader::Member(member) = reader {
        let known = DeletionFilter {
            actor: Some(member),
            only_rows_of: Some(member),
            ..Default::default()
        }
        .select()
        .select_only()
        .column(deletion::Column::Id)
        .into_query();
        select = select.filter(event::Column::DeletionId.in_subquery(known));
    }
    select
        .filter(event::Column::Id.lte(upto))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .all(&exec(db))
        .await
}

/// Drops the events that occurred before `cutoff`; returns how many.
pub async fn drop_events_before(h: &impl Handle, cutoff: DateTimeUtc) -> Result<u64, DbErr> {
    #[allow(clippy::disallowed_methods)] // the outbox is the core's own table; never soft-deleted
    let drop = event::Entity::delete_many();
    let done = drop
        .filter(event::Column::OccurredAt.lt(to_micros(cutoff)))
        .exec(&exec(h))
        .await?;
    Ok(done.rows_affected)
}

/// How close to the retention window's edge `keepsake check` stops asking for events: the
/// retention job may run (and drop an event at the edge) while the check reads.
const EDGE: Duration = Duration::from_secs(60);

/// `keepsake check`'s findings about the outbox: a change with no event, an event with no
/// deletion or of an unknown type.
///
/// Only changes that must still have their event are asked for one: those made after the
/// outbox was created (its migration recorded the moment in `settings`, `events_since`: an
/// upgraded database's older rows never had events) and inside the retention window, less a
/// minute at its edge (older events are dropped on purpose).
pub(super) async fn findings(
    h: &impl Handle,
    retention: Duration,
    now: DateTimeUtc,
) -> Result<Vec<(&'static str, String)>, DbErr> {
    let mut found = Vec::new();
    let since = super::setting(h, migration::EVENTS_SINCE)
        .await?
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(&text).ok())
        .map(|at| at.to_utc());
    let kept = chrono::Duration::from_std(retention.saturating_sub(EDGE))
        .ok()
        .and_then(|window| now.checked_sub_signed(window))
        .unwrap_or(chrono::DateTime::UNIX_EPOCH);
    if let Some(since) = since {
        let bound = to_micros(std::cmp::max(since, kept));
        for (kind, column) in [
            (EventType::DeletionCreated, deletion::Column::DeletedAt),
            (EventType::DeletionRestored, deletion::Column::RestoredAt),
            (EventType::DeletionPurged, deletion::Column::PurgedAt),
        ] {
            for id in changes_without_event(h, kind, column, bound).await? {
                found.push((
                    "change-without-event",
                    format!(
                        "deletion {} has no {} event, yet it changed after the outbox began \
                         and inside the event retention window",
                        ids::encode(Kind::Deletion, id),
                        kind.as_str()
                    ),
                ));
            }
        }
        for user in erasures_without_event(h, bound).await? {
            found.push((
                "erasure-without-event",
                format!(
                    "user {} was erased after the outbox began and inside the event retention \
                     window, yet no user.erased event names its deletion",
                    ids::encode(Kind::User, user)
                ),
            ));
        }
    }
    let sql = "SELECT e.id AS id, e.type AS kind, \
                 CASE WHEN d.id IS NULL THEN 0 ELSE 1 END AS has_deletion \
               FROM events e LEFT JOIN deletions d ON d.id = e.deletion_id \
               WHERE d.id IS NULL OR e.type NOT IN \
                 ('deletion.created', 'deletion.restored', 'deletion.purged', 'user.erased') \
               ORDER BY e.id";
    let conn = exec(h);
    let backend = conn.get_database_backend();
    for row in conn
        .query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await?
    {
        let id: i64 = row.try_get("", "id")?;
        let kind: String = row.try_get("", "kind")?;
        if row.try_get::<i32>("", "has_deletion")? == 0 {
            found.push((
                "event-without-deletion",
                format!("event {id} ({kind}) names a deletion that is not in the log"),
            ));
        } else {
            found.push((
                "event-of-unknown-type",
                format!("event {id} has type {kind:?}, which no writer writes"),
            ));
        }
    }
    Ok(found)
}

/// Deletions whose `column` (a moment) is at or after `bound` and that have no `kind` event.
async fn changes_without_event(
    h: &impl Handle,
    kind: EventType,
    column: deletion::Column,
    bound: DateTimeUtc,
) -> Result<Vec<i64>, DbErr> {
    let e = Alias::new("e");
    let its_event = Query::select()
        .expr(Expr::val(1))
        .from_as(event::Entity, e.clone())
        .and_where(
            Expr::col((e.clone(), event::Column::DeletionId))
                .equals((deletion::Entity, deletion::Column::Id)),
        )
        .and_where(Expr::col((e, event::Column::Kind)).eq(kind.as_str()))
        .to_owned();
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    select
        .select_only()
        .column(deletion::Column::Id)
        .filter(column.gte(bound))
        .filter(Expr::exists(its_event).not())
        .order_by_asc(deletion::Column::Id)
        .into_tuple()
        .all(&exec(h))
        .await
}

/// Erased users (their tombstones at or after `bound`, with a deletion) whose deletion has no
/// `user.erased` event.
async fn erasures_without_event(h: &impl Handle, bound: DateTimeUtc) -> Result<Vec<i64>, DbErr> {
    let e = Alias::new("e");
    let its_event = Query::select()
        .expr(Expr::val(1))
        .from_as(event::Entity, e.clone())
        .and_where(
            Expr::col((e.clone(), event::Column::DeletionId))
                .equals((erasure::Entity, erasure::Column::DeletionId)),
        )
        .and_where(Expr::col((e, event::Column::Kind)).eq(EventType::UserErased.as_str()))
        .to_owned();
    #[allow(clippy::disallowed_methods)] // the tombstones are the core's own table
    let select = erasure::Entity::find();
    select
        .select_only()
        .column(erasure::Column::UserId)
        .filter(erasure::Column::ErasedAt.gte(bound))
        .filter(erasure::Column::DeletionId.is_not_null())
        .filter(Expr::exists(its_event).not())
        .order_by_asc(erasure::Column::UserId)
        .into_tuple()
        .all(&exec(h))
        .await
}
