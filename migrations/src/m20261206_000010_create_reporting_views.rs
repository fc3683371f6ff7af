//! Views for readers outside the API (BI tools, `psql`, spreadsheets): they show what the API
//! shows, and nothing secret.
//!
//! - PostgreSQL: schema `reporting` with views `users`, `attachments` (live rows under live
//!   owners) and `deletions` (the log). `keepsake reporting grant ROLE` gives a role read
//!   access to this schema and nothing else. The views are `security_barrier`: a reader's own
//!   function in a `WHERE` cannot run on hidden rows before the view's filter does.
//!   Row-level security on `users` and `attachments` is defence in depth: any role that is
//!   neither the tables' owner nor a member of it sees live rows only, should it ever be
//!   granted a base table. The owner (Keepsake itself) is not subject to it (no `FORCE ROW
//!   LEVEL SECURITY`), so Keepsake's own statements and plans are unchanged.
//! - SQLite has no schemas or roles: views `reporting_users`, `reporting_attachments` and
//!   `reporting_deletions`, with the same columns.
//!
//! The live views carry no soft-delete column (`deleted_at`, `deleted_by`, `deletion_id`) and
//! none of the internal search columns (`*_folded`). A future soft-deletable table gets its
//! view in the migration that creates it. `keepsake check` compares each view with [`VIEWS`];
//! a migration that redefines one exports its own list, and the crate root points at it.
//!
//! The backend branch is raw SQL because SeaQuery has no DDL for views, schemas or policies.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One reporting view: where it lives on each database, its columns, and its query.
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// Its name on PostgreSQL, in schema `reporting`.
    pub name: &'static str,
    /// Its name on SQLite (which has no schemas).
    pub sqlite_name: &'static str,
    /// Its columns, in order.
    pub columns: &'static [&'static str],
    /// The query behind it on a database (for the first views, the same text on both).
    pub query: fn(DbBackend) -> String,
}

/// The schema holding the views on PostgreSQL.
pub const SCHEMA: &str = "reporting";

/// The tables row-level security keeps to live rows for every role but their owner.
pub const POLICY_TABLES: [&str; 2] = ["users", "attachments"];

/// The name of the row-level security policy on each of [`POLICY_TABLES`].
pub const POLICY: &str = "keepsake_live_rows_only";

/// The reporting views.
pub const VIEWS: [View; 3] = [
    View {
        name: "users",
        sqlite_name: "reporting_users",
        columns: &["id", "email", "name", "role", "created_at", "updated_at"],
        query: |_| {
            String::from(
                "SELECT u.id, u.email, u.name, u.role, u.created_at, u.updated_at \
                FROM users u WHERE u.deleted_at IS NULL",
            )
        },
    },
    View {
        name: "attachments",
        sqlite_name: "reporting_attachments",
        columns: &[
            "id",
            "owner_id",
            "filename",
            "content_type",
            "size_bytes",
            "created_at",
            "sha256",
        ],
        query: |_| {
            String::from(
                "SELECT a.id, a.owner_id, a.filename, a.content_type, a.size_bytes, \
                a.created_at, a.sha256 \
                FROM attachments a JOIN users u ON u.id = a.owner_id \
                WHERE a.deleted_at IS NULL AND u.deleted_at IS NULL",
            )
        },
    },
    View {
        name: "deletions",
        sqlite_name: "reporting_deletions",
        columns: &[
            "id",
            "entity",
            "entity_id",
            "actor_id",
            "reason",
            "deleted_at",
            "cascade_count",
            "restored_at",
            "restored_by",
            "restore_reason",
            "purge_started_at",
            "purged_at",
        ],
        query: |_| {
            String::from(
                "SELECT d.id, d.entity, d.entity_id, d.actor_id, d.reason, d.deleted_at, \
                d.cascade_count, d.restored_at, d.restored_by, d.restore_reason, \
                d.purge_started_at, d.purged_at FROM deletions d",
            )
        },
    },
];

impl View {
    /// The statement that creates it on `backend`; `qualified` overrides the PostgreSQL name
    /// (`keepsake check` builds a twin under another name to compare definitions).
    pub fn create_sql(&self, backend: DbBackend, qualified: Option<&str>) -> String {
        match backend {
            DbBackend::Postgres => {
                let name =
                    qualified.map_or_else(|| format!("{SCHEMA}.{}", self.name), str::to_owned);
                format!(
                    "CREATE VIEW {name} WITH (security_barrier) AS {}",
                    (self.query)(backend)
                )
            }
            _ => format!(
                "CREATE VIEW {} AS {}",
                self.sqlite_name,
                (self.query)(backend)
            ),
        }
    }
}

/// The row-level security policy on `table`: live rows, unless the reader is the table's
/// owner or a member of it (looked up, so a change of owner carries over). It is created on
/// `on` (`table` itself; `keepsake check` puts a twin on a temporary table to compare).
pub fn policy_sql(table: &str, on: &str) -> String {
    format!(
        "CREATE POLICY {POLICY} ON {on} FOR ALL USING (deleted_at IS NULL OR \
         pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = '{table}'::regclass), 'MEMBER'))"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        if backend == DbBackend::Postgres {
            // A new schema grants nothing to PUBLIC: only `keepsake reporting grant` opens it.
            db.execute_unprepared(&format!("CREATE SCHEMA {SCHEMA}"))
                .await?;
        }
        for view in VIEWS {
            db.execute_unprepared(&view.create_sql(backend, None))
                .await?;
        }
        if backend == DbBackend::Postgres {
            for table in POLICY_TABLES {
                db.execute_unprepared(&format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
                    .await?;
                db.execute_unprepared(&policy_sql(table, table)).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for table in POLICY_TABLES {
                    db.execute_unprepared(&format!("DROP POLICY IF EXISTS {POLICY} ON {table}"))
                        .await?;
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"
                    ))
                    .await?;
                }
                for view in VIEWS {
                    db.execute_unprepared(&format!("DROP VIEW IF EXISTS {SCHEMA}.{}", view.name))
                        .await?;
                }
                // Without CASCADE: whatever else an operator keeps there stays, and says so.
                db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {SCHEMA}"))
                    .await?;
            }
            _ => {
                for view in VIEWS {
                    db.execute_unprepared(&format!("DROP VIEW IF EXISTS {}", view.sqlite_name))
                        .await?;
                }
            }
        }
        Ok(())
    }
}
