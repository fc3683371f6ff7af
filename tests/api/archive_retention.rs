//! `KEEPSAKE_ARCHIVE_RETENTION`: the retention job erases archived rows archived longer ago
//! than it, in batches, and nothing else; unset, the archive is kept whole; a bad value stops
//! the server naming the setting. `keepsake archive export` and `keepsake check` go on working
//! with what remains.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use keepsake::ids::{self, Kind};
use keepsake::service::purge::{Retention, erase_old_archive, retention_tick};
use keepsake::soft_delete::{ARCHIVE_ERASED_BEFORE, archive_erased_before};
use serde_json::Value;

use crate::crash::number;
use crate::helpers::{Backend, TestApp, TestDb, id_of, keepsake, on_both_backends, succeeded};

on_both_backends!(
    rows_archived_longer_ago_than_the_retention_are_erased_in_batches_and_nothing_else,
    unset_the_archive_is_kept_whole,
    the_server_erases_old_archived_rows_on_its_schedule_and_logs_how_many,
    a_bad_archive_retention_stops_every_command_naming_the_setting,
);

const DAY: i64 = 86_400;
const THIRTY_DAYS: Duration = Duration::from_secs(30 * DAY as u64);

/// What [`fixture`] made: the attachments' ids by what becomes of them.
struct Fixture {
    /// Archived 40 days ago: older than a 30-day retention.
    old: Vec<String>,
    /// Archived 29 days ago: within it.
    recent: String,
    /// Deleted, not purged.
    deleted: String,
    /// Never deleted.
    live: Vec<String>,
}

/// `at` as the test database writes a moment (see `TestApp::move_deletion_to`).
fn moment(app: &TestApp, at: chrono::DateTime<chrono::Utc>) -> String {
    let text =
        keepsake::soft_delete::to_micros(at).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    if app.is_postgres() {
        format!("'{text}'::timestamptz")
    } else {
        format!("'{text}'")
    }
}

/// Moves purged deletion `deletion` `days` into the past, consistently: deleted a day before
/// that, its purge begun and ended, and its rows archived, then.
async fn purged_days_ago(app: &TestApp, deletion: &str, days: i64) {
    let id = ids::decode(Kind::Deletion, deletion).unwrap();
    let now = chrono::Utc::now();
    let purged = moment(app, now - chrono::Duration::seconds(days * DAY));
    let deleted = moment(app, now - chrono::Duration::seconds((days + 1) * DAY));
    let changed = app
        .execute_sql(&[
            format!(
                "UPDATE deletions SET deleted_at = {deleted}, purge_started_at = {purged}, \
                 purged_at = {purged} WHERE id = {id}"
            ),
            format!(
                "UPDATE archive SET deleted_at = {deleted}, archived_at = {purged} \
                 WHERE deletion_id = {id}"
            ),
        ])
        .await;
    assert_eq!(
        changed,
        [1, 1],
        "deletion {deletion}: one entry, one archived row"
    );
}

/// Two attachments purged 40 days ago, one 29 days ago, one deleted and not purged, two live
/// (one of them another member's).
async fn fixture(app: &TestApp) -> Fixture {
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let mut files = Vec::new();
    for name in [
        "old-1.txt",
        "old-2.txt",
        "recent.txt",
        "deleted.txt",
        "live.txt",
    ] {
        files.push(app.attachment(&ada, name).await);
    }
    let mut deletions = Vec::new();
    for file in &files[..3] {
        deletions.push(id_of(&app.by(&ada).delete_attachment(file, None).await));
    }
    let purged = app.admin().purge("0s", false).await;
    assert_eq!(purged["archived"], 3, "{purged}");
    app.by(&ada).delete_attachment(&files[3], None).await;
    purged_days_ago(app, &deletions[0], 40).await;
    purged_days_ago(app, &deletions[1], 40).await;
    purged_days_ago(app, &deletions[2], 29).await;
    Fixture {
        old: files[..2].to_vec(),
        recent: files[2].clone(),
        deleted: files[3].clone(),
        live: vec![files[4].clone(), app.attachment(&bob, "bob.txt").await],
    }
}

/// The opaque ids of the archive's rows, oldest first, as `keepsake archive export` prints
/// them.
async fn exported(app: &TestApp) -> Vec<String> {
    succeeded(&app.run(&["archive", "export"]).await)
        .lines()
        .map(|line| {
            let object: Value = serde_json::from_str(line).unwrap();
            object["entityId"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Everything but the archive, as counts: rows, log entries, purged entries, events.
async fn everything_else(app: &TestApp) -> [i64; 5] {
    [
        number(app, "SELECT COUNT(*) AS n FROM users").await,
        number(app, "SELECT COUNT(*) AS n FROM attachments").await,
        number(app, "SELECT COUNT(*) AS n FROM deletions").await,
        number(
            app,
            "SELECT COUNT(*) AS n FROM deletions WHERE purged_at IS NOT NULL",
        )
        .await,
        number(app, "SELECT COUNT(*) AS n FROM events").await,
    ]
}

async fn rows_archived_longer_ago_than_the_retention_are_erased_in_batches_and_nothing_else(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let made = fixture(&app).await;
    let mut all = made.old.clone();
    all.push(made.recent.clone());
    assert_eq!(exported(&app).await, all);
    let before = everything_else(&app).await;

    // An erasure long ago left its cutoff; this one raises it to its own.
    app.execute_sql(&[format!(
        "INSERT INTO settings (key, value) VALUES ('{ARCHIVE_ERASED_BEFORE}', \
         '2001-01-01T00:00:00.000000Z')"
    )])
    .await;
    // One row a batch: two batches erase a row each, a third finds none.
    let started = chrono::Utc::now();
    let erased = erase_old_archive(&app.state.db, THIRTY_DAYS, 1)
        .await
        .unwrap();
    assert_eq!(erased, 2);
    let cutoff = archive_erased_before(&app.state.db).await.unwrap().unwrap();
    let thirty_days = chrono::Duration::seconds(30 * DAY);
    assert!(
        cutoff >= keepsake::soft_delete::to_micros(started - thirty_days)
            && cutoff <= chrono::Utc::now() - thirty_days,
        "the recorded cutoff {cutoff} is not this erasure's"
    );
    assert_eq!(exported(&app).await, std::slice::from_ref(&made.recent));
    assert_eq!(
        everything_else(&app).await,
        before,
        "only the archive changed"
    );
    for file in &made.live {
        assert!(app.admin().attachment_is_live(file).await, "{file}");
    }
    let deleted = app.admin().attachment_with_deleted(&made.deleted).await;
    assert!(deleted["deletedAt"].is_string(), "{deleted}");
    // A second pass finds nothing more to erase.
    let again = erase_old_archive(&app.state.db, THIRTY_DAYS, 500)
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(exported(&app).await, std::slice::from_ref(&made.recent));

    // `keepsake check` knows the archive was thinned before its cutoff...
    succeeded(&app.run(&["check"]).await);
    app.assert_invariants().await;
    // ...and still asks a deletion purged after it for every archived row.
    let recent = ids::decode(Kind::Attachment, &made.recent).unwrap();
    app.execute_sql(&[format!(
        "DELETE FROM archive WHERE entity = 'attachment' AND entity_id = {recent}"
    )])
    .await;
    let violations = keepsake::soft_delete::check::check(&app.state.db)
        .await
        .unwrap();
    let kinds: Vec<&str> = violations.iter().map(|v| v.kind).collect();
    assert_eq!(kinds, ["purged-deletion-not-archived"], "{violations:#?}");
}

async fn unset_the_archive_is_kept_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let made = fixture(&app).await;
    let before = everything_else(&app).await;
    let tick = |archive| {
        retention_tick(
            &app.state.db,
            &app.state.services.storage,
            Retention {
                rows: None,
                events: Duration::from_secs(7 * DAY as u64),
                archive,
            },
        )
    };
    let report = tick(None).await.unwrap().expect("no other server ticks");
    assert_eq!(report.archive_erased, 0);
    // A retention longer than any row's age erases nothing either.
    let longer = Some(Duration::from_secs(41 * DAY as u64));
    let report = tick(longer).await.unwrap().expect("no other server ticks");
    assert_eq!(report.archive_erased, 0);
    let mut all = made.old.clone();
    all.push(made.recent.clone());
    assert_eq!(exported(&app).await, all);
    assert_eq!(everything_else(&app).await, before);
    assert_eq!(archive_erased_before(&app.state.db).await.unwrap(), None);
    // Nothing erased, nothing excused: the check still wants every archived row.
    let old = ids::decode(Kind::Attachment, &made.old[0]).unwrap();
    app.execute_sql(&[format!(
        "DELETE FROM archive WHERE entity = 'attachment' AND entity_id = {old}"
    )])
    .await;
    let violations = keepsake::soft_delete::check::check(&app.state.db)
        .await
        .unwrap();
    let kinds: Vec<&str> = violations.iter().map(|v| v.kind).collect();
    assert_eq!(kinds, ["purged-deletion-not-archived"], "{violations:#?}");
}

async fn the_server_erases_old_archived_rows_on_its_schedule_and_logs_how_many(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let made = fixture(&app).await;
    let mut server = keepsake(&app.db.url)
        .env(
            "KEEPSAKE_STORAGE",
            format!("file://{}", app.blobs.path().display()),
        )
        .env("KEEPSAKE_ARCHIVE_RETENTION", "30d")
        .env("KEEPSAKE_RETENTION_INTERVAL", "1s")
        .env("KEEPSAKE_LOG_FORMAT", "json")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keepsake serve starts");
    let stderr = server.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The line that says how many rows were erased; a minute at most, against a hang.
    let logged = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            let Ok(object) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if object["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("archived rows erased"))
            {
                return object;
            }
            seen.push(line);
        }
        panic!("the server never logged an erasure: {seen:#?}");
    })
    .await
    .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(logged["fields"]["erased"], 2, "{logged}");
    assert_eq!(exported(&app).await, [made.recent]);
    app.assert_invariants().await;
}

async fn a_bad_archive_retention_stops_every_command_naming_the_setting(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        for value in ["0s", "soon", "30", "-5d", "1y"] {
            for args in [
                &["serve", "--bind", "127.0.0.1:0"][..],
                &["migrate"],
                &["check"],
            ] {
                let output = keepsake(&url)
                    .env("KEEPSAKE_ARCHIVE_RETENTION", value)
                    .args(args)
                    .output()
                    .unwrap();
                assert!(!output.status.success(), "{args:?} must fail for {value}");
                let stderr = String::from_utf8_lossy(&output.stderr);
                let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
                assert_eq!(lines.len(), 1, "{args:?} {value}: one line, got: {stderr}");
                assert!(
                    lines[0].contains("KEEPSAKE_ARCHIVE_RETENTION (--archive-retention)"),
                    "{args:?} {value}: the setting not named in: {stderr}"
                );
            }
        }
        // The flag is checked the same way.
        let output = keepsake(&url)
            .args([
                "serve",
                "--archive-retention",
                "soon",
                "--bind",
                "127.0.0.1:0",
            ])
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("KEEPSAKE_ARCHIVE_RETENTION"));
    })
    .await
    .unwrap();
}
