//! A reporting view of the deletion log summed up per day: `reporting.deletion_days` on
//! PostgreSQL, `reporting_deletion_days` on SQLite. One row per UTC day and entity with the
//! deletions made that day, the rows they hid besides the ones asked for, the restores and
//! purges done that day, and the median seconds from deletion to restore over that day's
//! restores. Counts and durations only: no id, name, email, filename or reason, so an
//! analyst may read it without reading anyone's data.
//!
//! The API's `deletionStats` computes its days with the same SQL ([`deletion_days_sql`],
//! bounded to its period), so the trash page's Insights and a BI tool reading this view
//! agree to the last row.
//!
//! Roles already granted the reporting schema are granted this view too, so a reader set up
//! before this migration sees it without a second `keepsake reporting grant`.
//!
//! The backend branch is raw SQL: SeaQuery has no DDL for views, and the day and the
//! duration are spelled differently on each database.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261206_000010_create_reporting_views as first;
pub use first::{POLICY, POLICY_TABLES, SCHEMA, View, policy_sql};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The view this migration adds.
pub const DELETION_DAYS: View = View {
    name: "deletion_days",
    sqlite_name: "reporting_deletion_days",
    columns: &[
        "day",
        "entity",
        "deletions",
        "cascaded_rows",
        "restores",
        "purges",
        "median_seconds_to_restore",
    ],
    query: |backend| deletion_days_sql(backend, None),
};

/// The reporting views after this migration.
pub const VIEWS: [View; 4] = [
    first::VIEWS[0],
    first::VIEWS[1],
    first::VIEWS[2],
    DELETION_DAYS,
];

/// The deletion log per UTC day and entity. With `range`, two placeholders `(since, until)`,
/// each moment counts only inside `[since, until)` (what `deletionStats` asks); without, the
/// whole log (the view). On PostgreSQL `day` is a `date`, on SQLite `YYYY-MM-DD` text.
pub fn deletion_days_sql(backend: DbBackend, range: Option<(&str, &str)>) -> String {
    let postgres = backend == DbBackend::Postgres;
    let day = |column: &str| {
        if postgres {
            format!("CAST(({column} AT TIME ZONE 'UTC') AS DATE)")
        } else {
            format!("date({column})")
        }
    };
    let within = |column: &str| match range {
        Some((since, until)) => format!(" AND {column} >= {since} AND {column} < {until}"),
        None => String::new(),
    };
    let seconds = if postgres {
        "EXTRACT(EPOCH FROM (restored_at - deleted_at))"
    } else {
        "(unixepoch(restored_at, 'subsec') - unixepoch(deleted_at, 'subsec'))"
    };
    let (deleted, restored, purged) = (day("deleted_at"), day("restored_at"), day("purged_at"));
    let (in_deleted, in_restored, in_purged) = (
        within("deleted_at"),
        within("restored_at"),
        within("purged_at"),
    );
    // The median with window functions, which both databases have (SQLite has no
    // percentile_cont): the middle row, or the mean of the middle two.
    format!(
        "WITH moments AS ( \
           SELECT {deleted} AS day, entity, 1 AS deletions, \
             COALESCE(cascade_count, 0) AS cascaded_rows, 0 AS restores, 0 AS purges \
           FROM deletions WHERE deleted_at IS NOT NULL{in_deleted} \
           UNION ALL SELECT {restored}, entity, 0, 0, 1, 0 \
           FROM deletions WHERE restored_at IS NOT NULL{in_restored} \
           UNION ALL SELECT {purged}, entity, 0, 0, 0, 1 \
           FROM deletions WHERE purged_at IS NOT NULL{in_purged}), \
         waits AS ( \
           SELECT {restored} AS day, entity, CAST({seconds} AS DOUBLE PRECISION) AS s, \
             ROW_NUMBER() OVER (PARTITION BY {restored}, entity ORDER BY {seconds}) AS rn, \
             COUNT(*) OVER (PARTITION BY {restored}, entity) AS c \
           FROM deletions WHERE restored_at IS NOT NULL{in_restored}), \
         medians AS ( \
           SELECT day, entity, AVG(s) AS median FROM waits \
           WHERE rn IN ((c + 1) / 2, (c + 2) / 2) GROUP BY day, entity) \
         SELECT m.day, m.entity, CAST(SUM(m.deletions) AS BIGINT) AS deletions, \
           CAST(SUM(m.cascaded_rows) AS BIGINT) AS cascaded_rows, \
           CAST(SUM(m.restores) AS BIGINT) AS restores, \
           CAST(SUM(m.purges) AS BIGINT) AS purges, \
           CAST(MAX(w.median) AS DOUBLE PRECISION) AS median_seconds_to_restore \
         FROM moments m LEFT JOIN medians w ON w.day = m.day AND w.entity = m.entity \
         GROUP BY m.day, m.entity"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        db.execute_unprepared(&DELETION_DAYS.create_sql(backend, None))
            .await?;
        if backend == DbBackend::Postgres {
            // Every role the schema was opened to (its owner and PUBLIC aside) reads the
            // new view as it reads the others.
            let grants = db
                .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
                    backend,
                    format!(
                        "SELECT DISTINCT format('GRANT SELECT ON {SCHEMA}.{} TO %I', r.rolname) AS sql \
                         FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a \
                         JOIN pg_roles r ON r.oid = a.grantee \
                         WHERE n.nspname = '{SCHEMA}' AND a.privilege_type = 'USAGE' \
                           AND a.grantee <> n.nspowner",
                        DELETION_DAYS.name
                    ),
                ))
                .await?;
            for row in grants {
                let sql: String = row.try_get("", "sql")?;
                db.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let name = match manager.get_database_backend() {
            DbBackend::Postgres => format!("{SCHEMA}.{}", DELETION_DAYS.name),
            _ => DELETION_DAYS.sqlite_name.to_owned(),
        };
        db.execute_unprepared(&format!("DROP VIEW IF EXISTS {name}"))
            .await?;
        Ok(())
    }
}
