//! The retention purge runs on one server of a fleet at a time: the PostgreSQL advisory
//! lock turns a second server away while the first one purges.

use std::time::Duration;

use keepsake::soft_delete;

use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_a_second_server_skips_the_purge_while_the_first_holds_the_lock() {
    let backend = Backend::postgres();
    let app = TestApp::spawn(backend).await;
    // Two servers against one database: the test's app and a second pool on the same URL.
    let (other, _) = keepsake::app::connect(&keepsake::config::Settings::for_database(&app.db.url))
        .await
        .unwrap();
    let (hold, release) = tokio::sync::oneshot::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel::<()>();
    let db = app.state.db.clone();
    let first = tokio::spawn(async move {
        soft_delete::exclusively(&db, async move {
            started.send(()).unwrap();
            release.await.unwrap();
            "first ran"
        })
        .await
    });
    running.await.unwrap();
    let second = soft_delete::exclusively(&other, async { "second ran" })
        .await
        .unwrap();
    assert_eq!(
        second, None,
        "the lock is held: the second server must skip"
    );
    hold.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap(), Some("first ran"));
    // Released with the first job's transaction: the next tick anywhere gets it.
    let third = soft_delete::exclusively(&other, async { "second ran" })
        .await
        .unwrap();
    assert_eq!(third, Some("second ran"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_the_purge_job_without_a_lock() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ran = soft_delete::exclusively(&app.state.db, async { 7 })
        .await
        .unwrap();
    assert_eq!(ran, Some(7));
    // The retention loop ticks, one purge per tick at most.
    let db = app.state.db.clone();
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = ticks.clone();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let job = tokio::spawn(keepsake::service::purge::retention_loop(
        db,
        app.state.services.storage.clone(),
        keepsake::service::purge::Retention {
            rows: Some(Duration::from_secs(3600)),
            events: Duration::from_secs(3600),
            archive: None,
        },
        Duration::from_millis(50),
        stopping,
        move |outcome| {
            assert!(matches!(outcome, Ok(Some(_))), "{outcome:?}");
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        },
    ));
    for _ in 0..200 {
        if ticks.load(std::sync::atomic::Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ticks.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    // Told to stop (as at SIGTERM), the loop returns by itself.
    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(60), job)
        .await
        .expect("the retention loop stops when told to")
        .unwrap();
}
