//! Forced interleavings for race tests (STYLE 20): a [`Gate`] that parks one request inside
//! its transaction, and [`race`], which starts the other while the first waits.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{RawConn, TestApp, raw_connection};

/// A gate that parks a request inside its transaction, so a race test can force an
/// interleaving instead of hoping for it (STYLE 20). On PostgreSQL, a trigger blocks every
/// row change of `table` matching `when` on an advisory lock the test holds, until
/// [`Gate::open`]; the test sees the request parked in `pg_stat_activity`. On SQLite,
/// where one writer runs at a time, nothing can interleave and the gate does nothing:
/// [`race`] then runs the two requests one after the other, in the order the gate forces.
pub struct Gate {
    holder: Option<(RawConn, i64)>,
}

impl Gate {
    /// Installs the gate on PostgreSQL (`timing`: `BEFORE UPDATE`, `AFTER INSERT`, …; `when`:
    /// a trigger condition over `OLD`/`NEW`), closed.
    pub async fn install(app: &TestApp, timing: &str, table: &str, when: &str) -> Gate {
        if !app.is_postgres() {
            return Gate { holder: None };
        }
        static KEYS: AtomicU32 = AtomicU32::new(1);
        // Advisory keys are server-wide: one per gate and process keeps parallel tests apart.
        let key = i64::from(std::process::id()) * 10_000
            + i64::from(KEYS.fetch_add(1, Ordering::Relaxed));
        let holder = raw_connection(&app.db.url).await.expect("gate connection");
        sea_orm::ConnectionTrait::execute_unprepared(
            &*holder,
            &format!("SELECT pg_advisory_lock({key})"),
        )
        .await
        .expect("gate lock");
        let function = format!("keepsake_test_gate_{key}");
        app.execute_sql(&[
            format!(
                "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN PERFORM pg_advisory_xact_lock({key}); RETURN COALESCE(NEW, OLD); END $$"
            ),
            format!(
                "CREATE TRIGGER gate_{key} {timing} ON {table} FOR EACH ROW WHEN ({when}) \
                 EXECUTE FUNCTION {function}()"
            ),
        ])
        .await;
        Gate {
            holder: Some((holder, key)),
        }
    }

    /// Waits (up to 20 s) until at least `n` sessions of this test's database wait on a lock;
    /// `false` on time-out. Always `true` on SQLite.
    pub async fn waiting(&self, app: &TestApp, n: i64) -> bool {
        let Some((holder, _)) = &self.holder else {
            return true;
        };
        let sql = "SELECT COUNT(*) AS n FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let _ = app;
        for _ in 0..400 {
            let row = sea_orm::ConnectionTrait::query_one_raw(
                &**holder,
                sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql),
            )
            .await
            .expect("pg_stat_activity")
            .expect("a count");
            if row.try_get::<i64>("", "n").expect("n") >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Lets parked requests go on; later matching changes pass at once.
    pub async fn open(&mut self) {
        if let Some((holder, key)) = self.holder.take() {
            sea_orm::ConnectionTrait::execute_unprepared(
                &*holder,
                &format!("SELECT pg_advisory_unlock({key})"),
            )
            .await
            .expect("gate unlock");
            holder.close().await.ok();
        }
    }
}

/// What [`race`] saw.
pub struct Raced<A, B> {
    /// The parked request's answer.
    pub first: A,
    /// The other request's answer.
    pub second: B,
    /// Whether the second request was seen waiting on a lock while the first was parked
    /// (always `false` on SQLite, where the two run one after the other).
    pub second_waited: bool,
}

/// Runs `first` until it parks at `gate`, then starts `second` and lets it run until it
/// waits on a lock too (or finishes), then opens the gate. On SQLite: `first`, then `second`.
pub async fn race<A, B>(
    app: &TestApp,
    mut gate: Gate,
    first: impl std::future::Future<Output = A>,
    second: impl std::future::Future<Output = B>,
) -> Raced<A, B> {
    if gate.holder.is_none() {
        let first = first.await;
        let second = second.await;
        return Raced {
            first,
            second,
            second_waited: false,
        };
    }
    let driver = async {
        assert!(
            gate.waiting(app, 1).await,
            "the first request never reached the gate"
        );
        let mut second = std::pin::pin!(second);
        let (second_out, waited) = tokio::select! {
            out = &mut second => (Some(out), false),
            waited = gate.waiting(app, 2) => (None, waited),
        };
        gate.open().await;
        let out = match second_out {
            Some(out) => out,
            None => second.await,
        };
        (out, waited)
    };
    let (first, (second, second_waited)) = tokio::join!(first, driver);
    Raced {
        first,
        second,
        second_waited,
    }
}
