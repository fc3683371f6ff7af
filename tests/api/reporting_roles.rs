//! PostgreSQL roles that read reports, proven with real connections as those roles:
//! `keepsake reporting grant` opens the views and nothing else (idempotently), `revoke` closes
//! them, row-level security keeps a base table granted by mistake to live rows, `keepsake
//! check` names such a role, and a Keepsake user that may not grant prints the SQL instead.
//! Roles are cluster-wide, so each test makes its own, uniquely named, and drops it.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::ConnectionTrait as _;

use crate::helpers::{Backend, TestApp, keepsake, raw_connection, succeeded};

/// A login role of a test's own, dropped (with its privileges in the test's database) when
/// the test ends, passed or not.
struct TempRole {
    name: String,
    db_url: String,
}

impl TempRole {
    async fn create(app: &TestApp, label: &str) -> TempRole {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ks_{label}_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros() % 1_000_000
        );
        app.execute_sql(&[format!("CREATE ROLE {name} LOGIN")])
            .await;
        TempRole {
            name,
            db_url: app.db.url.clone(),
        }
    }

    /// The test database's URL, signing in as this role.
    fn url(&self) -> String {
        let (scheme, rest) = self.db_url.split_once("://").unwrap();
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}@{host}", self.name)
    }

    /// Runs `sql` connected as this role; the error's text when it is refused.
    async fn try_sql(&self, sql: &str) -> Result<Vec<sea_orm::QueryResult>, String> {
        let conn = raw_connection(&self.url())
            .await
            .unwrap_or_else(|err| panic!("{} signs in: {err}", self.name));
        let out = conn
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql.to_owned(),
            ))
            .await
            .map_err(|err| err.to_string());
        conn.close().await.ok();
        out
    }

    /// The one number `sql` (`SELECT COUNT(*) AS n …`) answers, as this role.
    async fn count(&self, sql: &str) -> i64 {
        let rows = self
            .try_sql(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        rows[0].try_get("", "n").unwrap()
    }

    /// Asserts this role is refused `sql`.
    async fn refused(&self, sql: &str) {
        match self.try_sql(sql).await {
            Ok(_) => panic!("{} ran {sql}", self.name),
            Err(err) => assert!(err.contains("permission denied"), "{sql}: {err}"),
        }
    }
}

impl Drop for TempRole {
    fn drop(&mut self) {
        let (name, db_url) = (self.name.clone(), self.db_url.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(conn) = raw_connection(&db_url).await {
                    let _ = conn
                        .execute_unprepared(&format!("DROP OWNED BY {name}"))
                        .await;
                    let _ = conn
                        .execute_unprepared(&format!("DROP ROLE IF EXISTS {name}"))
                        .await;
                    conn.close().await.ok();
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A database with live and hidden rows: Ada (live, two files, one deleted) and Bob (deleted
/// with his file).
async fn scenario(app: &TestApp) {
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let first = app.attachment(&ada, "a.txt").await;
    app.attachment(&ada, "b.txt").await;
    app.attachment(&bob, "c.txt").await;
    app.admin().delete_attachment(&first, None).await;
    app.admin().delete_user(&bob.id, None).await;
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

macro_rules! postgres_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(
            not(postgres_tests),
            ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
        )]
        async fn $name() {
            body::$name(TestApp::spawn(Backend::postgres()).await).await
        }
    };
}

postgres_test!(on_postgres_a_granted_role_reads_the_views_and_nothing_else);
postgres_test!(on_postgres_a_base_table_granted_by_mistake_shows_only_live_rows);
postgres_test!(on_postgres_a_keepsake_user_that_may_not_grant_prints_the_sql);
postgres_test!(on_postgres_grant_refuses_missing_superuser_and_own_roles);
postgres_test!(on_postgres_a_reader_granted_before_deletion_days_reads_it_after_the_upgrade);

mod body {
    use super::*;

    /// A database from before `deletion_days` (its migration rolled back), a reader granted
    /// the three views it had; the upgrade opens the new view to that reader too.
    pub async fn on_postgres_a_reader_granted_before_deletion_days_reads_it_after_the_upgrade(
        app: TestApp,
    ) {
        use migration::MigratorTrait as _;
        scenario(&app).await;
        let db = raw_connection(&app.db.url).await.unwrap();
        // Down to before deletion_days: its migration and any that came after it.
        let from_newest = migration::Migrator::migrations()
            .iter()
            .rev()
            .position(|m| m.name() == "m20261206_000011_create_deletion_days_view")
            .expect("the deletion_days migration");
        let steps = u32::try_from(from_newest + 1).unwrap();
        migration::Migrator::down(&*db, Some(steps)).await.unwrap();
        let reader = TempRole::create(&app, "early").await;
        app.execute_sql(&[
            format!("GRANT USAGE ON SCHEMA reporting TO {}", reader.name),
            format!(
                "GRANT SELECT ON reporting.users, reporting.attachments, reporting.deletions TO {}",
                reader.name
            ),
        ])
        .await;
        let before = reader
            .try_sql("SELECT COUNT(*) AS n FROM reporting.deletion_days")
            .await;
        assert!(
            before
                .as_ref()
                .is_err_and(|err| err.contains("does not exist")),
            "{before:?}"
        );
        migration::Migrator::up(&*db, None).await.unwrap();
        db.close().await.ok();
        assert_eq!(
            reader
                .count("SELECT CAST(SUM(deletions) AS BIGINT) AS n FROM reporting.deletion_days")
                .await,
            2
        );
        let check = app.run(&["check"]).await;
        succeeded(&check);
    }

    pub async fn on_postgres_a_granted_role_reads_the_views_and_nothing_else(app: TestApp) {
        scenario(&app).await;
        let reader = TempRole::create(&app, "reader").await;
        reader
            .refused("SELECT COUNT(*) AS n FROM reporting.users")
            .await;

        let first = stdout(&app.run(&["reporting", "grant", &reader.name]).await);
        let name = &reader.name;
        for line in [
            format!("granted USAGE on schema reporting to {name}"),
            format!("granted SELECT on reporting.users to {name}"),
            format!("granted SELECT on reporting.attachments to {name}"),
            format!("granted SELECT on reporting.deletions to {name}"),
            format!("granted SELECT on reporting.deletion_days to {name}"),
        ] {
            assert!(first.lines().any(|l| l == line), "{line} in {first}");
        }
        let again = app.run(&["reporting", "grant", name]).await;
        let again = succeeded(&again);
        assert!(
            again.contains(&format!("{name} already had USAGE on schema reporting")),
            "{again}"
        );
        assert!(!again.contains("granted"), "{again}");

        // The admin, Ada; Ada's live file; the two deletions.
        assert_eq!(
            reader
                .count("SELECT COUNT(*) AS n FROM reporting.users")
                .await,
            2
        );
        assert_eq!(
            reader
                .count("SELECT COUNT(*) AS n FROM reporting.attachments")
                .await,
            1
        );
        assert_eq!(
            reader
                .count("SELECT COUNT(*) AS n FROM reporting.deletions")
                .await,
            2
        );
        // Both deletions were made today: one row per entity, no names.
        assert_eq!(
            reader
                .count("SELECT CAST(SUM(deletions) AS BIGINT) AS n FROM reporting.deletion_days")
                .await,
            2
        );
        for table in [
            "users",
            "attachments",
            "deletions",
            "settings",
            "archive",
            "seaql_migrations",
        ] {
            reader
                .refused(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .await;
        }
        for write in [
            "UPDATE reporting.users SET name = 'x'",
            "DELETE FROM reporting.deletions",
            "INSERT INTO reporting.deletions (entity, entity_id, deleted_at) VALUES ('user', 1, now())",
            "UPDATE users SET deleted_at = NULL",
            "DELETE FROM settings",
            "CREATE TABLE reporting.mine (x int)",
            "CREATE TABLE public.mine (x int)",
        ] {
            reader.refused(write).await;
        }
        let check = app.run(&["check"]).await;
        succeeded(&check);

        let revoked = stdout(&app.run(&["reporting", "revoke", name]).await);
        assert!(
            revoked.contains(&format!("revoked USAGE on schema reporting from {name}")),
            "{revoked}"
        );
        assert!(
            revoked.contains(&format!("revoked SELECT on reporting.users from {name}")),
            "{revoked}"
        );
        reader
            .refused("SELECT COUNT(*) AS n FROM reporting.users")
            .await;
        let twice = app.run(&["reporting", "revoke", name]).await;
        let twice = succeeded(&twice);
        assert!(
            twice.contains(&format!("{name} did not hold USAGE on schema reporting")),
            "{twice}"
        );
    }

    pub async fn on_postgres_a_base_table_granted_by_mistake_shows_only_live_rows(app: TestApp) {
        scenario(&app).await;
        let reader = TempRole::create(&app, "mistake").await;
        let name = reader.name.clone();
        succeeded(&app.run(&["reporting", "grant", &name]).await);
        app.execute_sql(&[format!("GRANT SELECT ON users, attachments TO {name}")])
            .await;

        // Row-level security: live rows only, the deleted ones are not there at all.
        assert_eq!(reader.count("SELECT COUNT(*) AS n FROM users").await, 2);
        assert_eq!(
            reader
                .count("SELECT COUNT(*) AS n FROM users WHERE deleted_at IS NOT NULL")
                .await,
            0
        );
        assert_eq!(
            reader.count("SELECT COUNT(*) AS n FROM attachments").await,
            1
        );
        // Keepsake itself (the tables' owner) still sees every row.
        let all = app.execute_sql(&["UPDATE users SET name = name"]).await;
        assert_eq!(all, [3]);

        let warned = stdout(&app.run(&["reporting", "grant", &name]).await);
        assert!(
            warned.contains(&format!("warning: {name} also holds SELECT on users")),
            "{warned}"
        );
        let check = app.run(&["check"]).await;
        let out = stdout(&check);
        assert_eq!(check.status.code(), Some(1), "{out}");
        for table in ["users", "attachments"] {
            assert!(
                out.contains(&format!(
                    "reporting-role-over-privileged: role \"{name}\" is granted reporting but \
                     also holds SELECT on {table}"
                )),
                "{out}"
            );
        }
        // A write on a view counts too.
        app.execute_sql(&[format!("GRANT UPDATE ON reporting.users TO {name}")])
            .await;
        let out = stdout(&app.run(&["check"]).await);
        assert!(
            out.contains("also holds UPDATE on reporting.users"),
            "{out}"
        );

        // Each line says how to take the extra privilege back; run as printed, they do.
        let revokes: Vec<&str> = out
            .lines()
            .filter_map(|line| line.split_once("take it back with ").map(|(_, sql)| sql))
            .collect();
        assert_eq!(revokes.len(), 3, "{out}");
        app.execute_sql(&revokes).await;
        succeeded(&app.run(&["check"]).await);
        // The role still reads the views.
        assert_eq!(
            reader
                .count("SELECT COUNT(*) AS n FROM reporting.users")
                .await,
            2
        );
    }

    pub async fn on_postgres_a_keepsake_user_that_may_not_grant_prints_the_sql(app: TestApp) {
        let limited = TempRole::create(&app, "limited").await;
        let reader = TempRole::create(&app, "viewer").await;
        // Enough to start the CLI (the migrator looks at its table), not to grant.
        app.execute_sql(&[
            format!("GRANT CREATE ON SCHEMA public TO {}", limited.name),
            format!("GRANT SELECT ON seaql_migrations TO {}", limited.name),
        ])
        .await;
        let url = limited.url();
        let name = reader.name.clone();
        let out = tokio::task::spawn_blocking(move || {
            keepsake(&url)
                .args(["reporting", "grant", &name])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let (printed, stderr) = (
            stdout(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(out.status.code(), Some(1), "{printed}{stderr}");
        assert!(
            stderr.contains(&format!(
                "the database user \"{}\" may not grant",
                limited.name
            )),
            "{stderr}"
        );
        let name = &reader.name;
        let sql: Vec<&str> = printed.lines().filter(|l| !l.starts_with("--")).collect();
        assert_eq!(
            sql,
            [
                format!("GRANT USAGE ON SCHEMA reporting TO \"{name}\";"),
                format!(
                    "GRANT SELECT ON reporting.users, reporting.attachments, \
                     reporting.deletions, reporting.deletion_days TO \"{name}\";"
                ),
            ]
        );
        // An administrator runs it as printed, and it works.
        app.execute_sql(&sql).await;
        assert_eq!(
            reader
                .count("SELECT COUNT(*) AS n FROM reporting.users")
                .await,
            1
        );
    }

    pub async fn on_postgres_grant_refuses_missing_superuser_and_own_roles(app: TestApp) {
        let missing = app.run(&["reporting", "grant", "Nobody_Here"]).await;
        let stderr = String::from_utf8_lossy(&missing.stderr);
        assert_eq!(missing.status.code(), Some(1));
        assert!(
            stderr.contains("PostgreSQL has no role named \"Nobody_Here\""),
            "{stderr}"
        );
        let superuser = app.run(&["reporting", "grant", "postgres"]).await;
        let stderr = String::from_utf8_lossy(&superuser.stderr);
        assert_eq!(superuser.status.code(), Some(1));
        assert!(stderr.contains("is a superuser"), "{stderr}");
    }
}
