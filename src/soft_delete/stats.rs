//! The deletion log summed up, in SQL.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr};

use super::{Handle, exec, to_micros};

/// One (day, entity) row of [`deletion_stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    let day = |col: &str| {
        if postgres {
            format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        } else {
            format!("date({col})")
        }
    };
    let statement = |sql: String| {
        sea_orm::Statement::from_sql_and_values(backend, sql, [since.into(), until.into()])
    };
    let mut days: std::collections::BTreeMap<(String, String), DayStats> = Default::default();
    for (column, what) in [
        ("deleted_at", "deletions"),
        ("restored_at", "restores"),
        ("purged_at", "purges"),
    ] {
        let sql = format!(
            "SELECT {d} AS day, entity, COUNT(*) AS n, CAST(COALESCE(SUM(cascade_count), 0) AS BIGINT) AS cascaded \
             FROM deletions WHERE {column} >= {p1} AND {column} < {p2} GROUP BY {d}, entity",
            d = day(column)
        );
        for row in conn.query_all_raw(statement(sql)).await? {
            let key = (
                row.try_get::<String>("", "day")?,
                row.try_get::<String>("", "entity")?,
            );
            let n = row.try_get::<i64>("", "n")?;
            let entry = days.entry(key.clone()).or_insert_with(|| DayStats {
                day: key.0,
                entity: key.1,
                ..Default::default()
            });
            match what {
                "deletions" => {
                    entry.deletions = n;
                    entry.cascaded_rows = row.try_get::<i64>("", "cascaded")?;
                }
                "restores" => entry.restores = n,
                _ => entry.purges = n,
            }
        }
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
        days: days.into_values().collect(),
        top_reasons,
        top_restore_reasons,
        median_seconds_to_restore: median,
    })
}
