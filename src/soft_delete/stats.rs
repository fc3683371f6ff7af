//! The deletion log summed up, in SQL.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr};

use super::{Handle, exec, to_micros};

/// One (day, entity) row of [`deletion_stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayStats {
    /// `YYYY-MM-DD`, in UTC.
    pub day: String,
    pub entity: String,
    /// Deletions made that day.
    pub deletions: i64,
    /// Rows those deletions hid besides the one asked for.
    pub cascaded_rows: i64,
    /// Deletions undone that day.
    pub restores: i64,
    /// Deletions whose rows were purged that day.
    pub purges: i64,
    /// Median seconds from deletion to restore over that day's restores (`None`: none).
    pub median_seconds_to_restore: Option<f64>,
}

/// The deletion log summed up over `[since, until)`, computed in SQL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeletionStats {
    /// By day, then entity.
    pub days: Vec<DayStats>,
    /// The most given reasons (`None`: no reason given) with their counts, most first.
    pub top_reasons: Vec<(Option<String>, i64)>,
    /// The same for restores in the range.
    pub top_restore_reasons: Vec<(Option<String>, i64)>,
    /// Median seconds from deletion to restore, over restores in the range.
    pub median_seconds_to_restore: Option<f64>,
}

/// Aggregates the deletion log over `[since, until)` with GROUP BY queries (the same
/// answers on both databases; only the date arithmetic is spelled per backend).
pub async fn deletion_stats(
    h: &impl Handle,
    since: DateTimeUtc,
    until: DateTimeUtc,
    top: u64,
) -> Result<DeletionStats, DbErr> {
    // Both ends at the precision both databases store (`stored.rs`).
    let (since, until) = (to_micros(since), to_micros(until));
    let conn = exec(h);
    let backend = conn.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let (p1, p2) = if postgres { ("$1", "$2") } else { ("?", "?") };
    let statement = |sql: String| {
        sea_orm::Statement::from_sql_and_values(backend, sql, [since.into(), until.into()])
    };
    // The days as the reporting view `deletion_days` computes them, bounded to the period:
    // one SQL text, so Insights and a report reading the view agree.
    let (bounds, day) = if postgres {
        (("$1", "$2"), "to_char(t.day, 'YYYY-MM-DD')")
    } else {
        (("?1", "?2"), "t.day")
    };
    let sql = format!(
        "SELECT {day} AS day, t.entity, t.deletions, t.cascaded_rows, t.restores, t.purges, \
           t.median_seconds_to_restore FROM ({}) t ORDER BY 1, t.entity",
        migration::reporting::deletion_days_sql(backend, Some(bounds))
    );
    let mut days = Vec::new();
    for row in conn.query_all_raw(statement(sql)).await? {
        days.push(DayStats {
            day: row.try_get("", "day")?,
            entity: row.try_get("", "entity")?,
            deletions: row.try_get("", "deletions")?,
            cascaded_rows: row.try_get("", "cascaded_rows")?,
            restores: row.try_get("", "restores")?,
            purges: row.try_get("", "purges")?,
            median_seconds_to_restore: row.try_get("", "median_seconds_to_restore")?,
        });
    }
    let mut top_reasons = Vec::new();
    let mut top_restore_reasons = Vec::new();
    for (column, moment, out) in [
        ("reason", "deleted_at", &mut top_reasons),
        ("restore_reason", "restored_at", &mut top_restore_reasons),
    ] {
        let sql = format!(
            "SELECT {column} AS reason, COUNT(*) AS n FROM deletions \
             WHERE {moment} >= {p1} AND {moment} < {p2} GROUP BY {column} \
             ORDER BY COUNT(*) DESC, CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} LIMIT {top}"
        );
        for row in conn.query_all_raw(statement(sql)).await? {
            out.push((
                row.try_get::<Option<String>>("", "reason")?,
                row.try_get::<i64>("", "n")?,
            ));
        }
    }
    let seconds = if postgres {
        "EXTRACT(EPOCH FROM (restored_at - deleted_at))"
    } else {
        "(unixepoch(restored_at, 'subsec') - unixepoch(deleted_at, 'subsec'))"
    };
    // The median with window functions, which both databases have.
    let sql = format!(
        "SELECT CAST(AVG(s) AS DOUBLE PRECISION) AS median FROM ( \
           SELECT s, ROW_NUMBER() OVER (ORDER BY s) AS rn, COUNT(*) OVER () AS c FROM ( \
             SELECT CAST({seconds} AS DOUBLE PRECISION) AS s FROM deletions \
             WHERE restored_at IS NOT NULL AND restored_at >= {p1} AND restored_at < {p2}) t) r \
         WHERE rn IN ((c + 1) / 2, (c + 2) / 2)"
    );
    let median = match conn.query_one_raw(statement(sql)).await? {
        Some(row) => row.try_get::<Option<f64>>("", "median")?,
        None => None,
    };
    Ok(DeletionStats {
        days,
        top_reasons,
        top_restore_reasons,
        median_seconds_to_restore: median,
    })
}
