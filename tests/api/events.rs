//! The transactional outbox: every delete, restore and purged deletion writes one event in
//! its own transaction, ids grow in commit order, readers see what they may know of, old
//! events are dropped by the retention job, `keepsake check` asks each change for its event,
//! and `keepsake events` prints them as JSON lines.

use std::time::Duration;

use keepsake::auth::Bearer;
use keepsake::ids::{self, Kind};
use keepsake::service::purge::{Retention, retention_tick};
use serde_json::{Value, json};

use crate::helpers::{Backend, Gate, TestApp, assert_error, id_of, on_both_backends, succeeded};

on_both_backends!(
    deleting_attachments_writes_one_deletion_created_event_per_deletion,
    a_cascading_user_delete_writes_one_event_for_its_one_deletion,
    restoring_writes_deletion_restored,
    purging_writes_deletion_purged_once_for_each_purged_deletion,
    a_restore_refused_with_conflict_writes_no_event_and_changes_nothing,
    event_ids_increase_in_the_order_of_the_changes,
    a_member_sees_only_the_events_of_their_own_deletions,
    the_retention_job_drops_events_older_than_its_setting,
    keepsake_check_names_a_change_without_its_event_and_passes_when_clean,
    keepsake_check_names_an_event_without_a_deletion_or_of_an_unknown_type,
    keepsake_events_prints_each_event_as_a_json_line,
);

/// One event as a test compares it: its id, its type, its deletion's GraphQL id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    id: i64,
    kind: String,
    deletion: String,
    occurred_at: chrono::DateTime<chrono::Utc>,
}

/// The events the holder of `token` may see, oldest first, read in process through
/// `service::events::after` (the read a subscription will use).
async fn events_seen_with(app: &TestApp, token: &str) -> Vec<Seen> {
    let header = format!("Bearer {token}");
    let bearer = app
        .state
        .services
        .tokens
        .authenticate(&app.state.db, Some(&header))
        .await
        .expect("a valid token");
    let Bearer::Viewer(viewer) = bearer else {
        panic!("a signed-in user's token")
    };
    keepsake::service::events::after(&app.state.db, &viewer, None, None, 1_000)
        .await
        .expect("events read")
        .into_iter()
        .map(|e| Seen {
            id: e.id,
            kind: e.kind,
            deletion: ids::encode(Kind::Deletion, e.deletion_id),
            occurred_at: e.occurred_at,
        })
        .collect()
}

/// Every event, as the admin sees them.
async fn all_events(app: &TestApp) -> Vec<Seen> {
    events_seen_with(app, &app.admin_token).await
}

/// `(type, deletion)` of each event.
fn kinds(events: &[Seen]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.kind.clone(), e.deletion.clone()))
        .collect()
}

fn pair(kind: &str, deletion: &str) -> (String, String) {
    (kind.to_owned(), deletion.to_owned())
}

/// A GraphQL `DateTime` as a moment.
fn moment(value: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("no moment: {value}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .to_utc()
}

async fn deleting_attachments_writes_one_deletion_created_event_per_deletion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let one = app.attachment(&ada, "one.txt").await;
    let two = app.attachment(&ada, "two.txt").await;
    let three = app.attachment(&ada, "three.txt").await;
    assert!(
        all_events(&app).await.is_empty(),
        "creating writes no event"
    );

    let single = app.by(&ada).delete_attachment(&one, Some("typo")).await;
    let bulk = app.admin().delete_attachments(&[&two, &three], None).await;

    let events = all_events(&app).await;
    assert_eq!(
        kinds(&events),
        [
            pair("deletion.created", &id_of(&single)),
            pair("deletion.created", &id_of(&bulk)),
        ]
    );
    // An event occurs at the moment of its change, to the microsecond.
    assert_eq!(events[0].occurred_at, moment(&single["deletedAt"]));
    assert_eq!(events[1].occurred_at, moment(&bulk["deletedAt"]));
    app.assert_invariants().await;
}

async fn a_cascading_user_delete_writes_one_event_for_its_one_deletion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    for name in ["a.txt", "b.txt", "c.txt"] {
        app.attachment(&ada, name).await;
    }
    let deletion = app.admin().delete_user(&ada.id, Some("asked")).await;
    assert_eq!(deletion["cascadeCount"], 3, "{deletion}");

    assert_eq!(
        kinds(&all_events(&app).await),
        [pair("deletion.created", &id_of(&deletion))]
    );
    app.assert_invariants().await;
}

async fn restoring_writes_deletion_restored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "kept.txt").await;
    let by_user = id_of(&app.admin().delete_user(&ada.id, None).await);
    let restored = app.admin().restore(&by_user, Some("by mistake")).await;
    // The other ways to restore write the same event.
    let by_file = id_of(&app.admin().delete_attachment(&file, None).await);
    app.admin().restore_attachment(&file, None).await;

    let events = all_events(&app).await;
    assert_eq!(
        kinds(&events),
        [
            pair("deletion.created", &by_user),
            pair("deletion.restored", &by_user),
            pair("deletion.created", &by_file),
            pair("deletion.restored", &by_file),
        ]
    );
    assert_eq!(events[1].occurred_at, moment(&restored["restoredAt"]));
    app.assert_invariants().await;
}

async fn purging_writes_deletion_purged_once_for_each_purged_deletion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "a.txt").await;
    app.attachment(&ada, "b.txt").await;
    let bob = app.member("bob@example.com").await;
    let bobs = app.attachment(&bob, "bob.txt").await;
    let kept = app.attachment(&bob, "kept.txt").await;
    let of_ada = id_of(&app.admin().delete_user(&ada.id, None).await);
    let of_bobs = id_of(&app.admin().delete_attachment(&bobs, None).await);
    let restored = id_of(&app.admin().delete_attachment(&kept, None).await);
    app.admin().restore(&restored, None).await;

    let report = app.admin().purge("0s", false).await;
    assert_eq!(report["archived"], 4, "{report}");
    let purged = app.admin().deletion(&of_ada).await;
    let events = all_events(&app).await;
    let purges: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "deletion.purged")
        .collect();
    let mut purged_deletions: Vec<&str> = purges.iter().map(|e| e.deletion.as_str()).collect();
    purged_deletions.sort_unstable();
    let mut expected = vec![of_ada.as_str(), of_bobs.as_str()];
    expected.sort_unstable();
    assert_eq!(purged_deletions, expected, "{events:?}");
    let ada_purged = purges.iter().find(|e| e.deletion == of_ada).unwrap();
    assert_eq!(ada_purged.occurred_at, moment(&purged["purgedAt"]));

    // Nothing left to purge: no event.
    app.admin().purge("0s", false).await;
    assert_eq!(all_events(&app).await, events);
    app.assert_invariants().await;
}

async fn a_restore_refused_with_conflict_writes_no_event_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.member("a@x.com").await;
    app.attachment(&first, "kept.txt").await;
    let deletion = id_of(&app.admin().delete_user(&first.id, None).await);
    let second = app.member("a@x.com").await;
    let before = all_events(&app).await;
    assert_eq!(kinds(&before), [pair("deletion.created", &deletion)]);

    for body in [
        app.admin().try_restore(&deletion, None).await,
        app.admin().try_restore_user(&first.id, None).await,
    ] {
        assert_error(&body, "CONFLICT");
        assert_eq!(
            all_events(&app).await,
            before,
            "a refused restore writes no event"
        );
        let logged = app.admin().deletion(&deletion).await;
        assert_eq!(logged["restoredAt"], Value::Null, "{logged}");
        assert!(!app.admin().user_is_live(&first.id).await);
        assert!(app.admin().user_is_live(&second.id).await);
    }
    app.assert_invariants().await;
}

async fn event_ids_increase_in_the_order_of_the_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut expected = Vec::new();
    for round in 0..3 {
        let file = app.attachment(&ada, &format!("{round}.txt")).await;
        let deletion = id_of(&app.admin().delete_attachment(&file, None).await);
        expected.push(pair("deletion.created", &deletion));
        app.admin().restore(&deletion, None).await;
        expected.push(pair("deletion.restored", &deletion));
    }
    let events = all_events(&app).await;
    assert_eq!(kinds(&events), expected);
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "ids increase: {events:?}"
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0].occurred_at <= w[1].occurred_at),
        "{events:?}"
    );
    // Reading on after the last id seen gives the rest, and nothing twice.
    let admin = app
        .state
        .services
        .tokens
        .authenticate(&app.state.db, Some(&format!("Bearer {}", app.admin_token)))
        .await
        .unwrap();
    let Bearer::Viewer(admin) = admin else {
        panic!("the admin signs in")
    };
    let rest = keepsake::service::events::after(&app.state.db, &admin, Some(events[2].id), None, 2)
        .await
        .unwrap();
    let rest: Vec<i64> = rest.iter().map(|e| e.id).collect();
    assert_eq!(rest, [events[3].id, events[4].id]);
    let refused = keepsake::service::events::after(&app.state.db, &admin, None, None, 0).await;
    assert!(refused.is_err(), "a read of nothing is refused");
}

async fn a_member_sees_only_the_events_of_their_own_deletions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let support = app.user("support@example.com", "SUPPORT").await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let adas = app.attachment(&ada, "ada.txt").await;
    let adas_other = app.attachment(&ada, "other.txt").await;
    let bobs = app.attachment(&bob, "bob.txt").await;

    let by_ada = id_of(&app.by(&ada).delete_attachment(&adas, None).await);
    app.by(&ada).restore(&by_ada, None).await;
    let by_bob = id_of(&app.by(&bob).delete_attachment(&bobs, None).await);
    // Ada's row, but the admin's deletion: not one Ada may know of (the log's rule).
    let by_admin = id_of(&app.admin().delete_attachment(&adas_other, None).await);

    let everything = kinds(&all_events(&app).await);
    assert_eq!(everything.len(), 4, "{everything:?}");
    assert_eq!(
        kinds(&events_seen_with(&app, &support.token).await),
        everything
    );
    assert_eq!(
        kinds(&events_seen_with(&app, &ada.token).await),
        [
            pair("deletion.created", &by_ada),
            pair("deletion.restored", &by_ada)
        ]
    );
    assert_eq!(
        kinds(&events_seen_with(&app, &bob.token).await),
        [pair("deletion.created", &by_bob)]
    );
    assert!(everything.contains(&pair("deletion.created", &by_admin)));
}

async fn the_retention_job_drops_events_older_than_its_setting(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.event_retention = Duration::from_secs(3600);
        settings.retention_interval = Duration::from_millis(100);
    })
    .await;
    let ada = app.member("ada@example.com").await;
    let old = app.attachment(&ada, "old.txt").await;
    let new = app.attachment(&ada, "new.txt").await;
    let old_deletion = id_of(&app.admin().delete_attachment(&old, None).await);
    let new_deletion = id_of(&app.admin().delete_attachment(&new, None).await);
    // The old deletion and its event two hours back, as if made then.
    app.backdate(&old_deletion, 2 * 3600).await;
    let old_row = ids::decode(Kind::Deletion, &old_deletion).unwrap();
    let two_hours_ago =
        keepsake::soft_delete::to_micros(chrono::Utc::now() - chrono::Duration::hours(2))
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let then = if app.is_postgres() {
        format!("'{two_hours_ago}'::timestamptz")
    } else {
        format!("'{two_hours_ago}'")
    };
    let moved = app
        .execute_sql(&[format!(
            "UPDATE events SET occurred_at = {then} WHERE deletion_id = {old_row}"
        )])
        .await;
    assert_eq!(moved, [1]);

    // The server's own retention job (every 100 ms here) drops it.
    let mut left = all_events(&app).await;
    for _ in 0..200 {
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = all_events(&app).await;
    }
    assert_eq!(kinds(&left), [pair("deletion.created", &new_deletion)]);

    // A tick drops nothing newer than its setting.
    let tick = retention_tick(
        &app.state.db,
        &app.state.services.storage,
        Retention {
            rows: None,
            events: Duration::from_secs(3600),
            archive: None,
        },
    )
    .await
    .unwrap()
    .expect("no other server holds the lock");
    assert_eq!(tick.events_dropped, 0);
    assert_eq!(tick.purge, None, "no row retention set: nothing purged");
    assert_eq!(all_events(&app).await.len(), 1);
    // The check, told the same retention, excuses the dropped event.
    let violations =
        keepsake::soft_delete::check::check_with(&app.state.db, Duration::from_secs(3600))
            .await
            .unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
}

async fn keepsake_check_names_a_change_without_its_event_and_passes_when_clean(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    let deletion = id_of(&app.admin().delete_attachment(&file, None).await);
    app.admin().restore(&deletion, None).await;
    let clean = succeeded(&app.run(&["check"]).await);
    assert!(clean.contains("ok:"), "{clean}");

    let row = ids::decode(Kind::Deletion, &deletion).unwrap();
    let removed = app
        .execute_sql(&[format!(
            "DELETE FROM events WHERE deletion_id = {row} AND type = 'deletion.restored'"
        )])
        .await;
    assert_eq!(removed, [1]);
    let found = app.run(&["check"]).await;
    assert_eq!(found.status.code(), Some(1), "{found:?}");
    let stdout = String::from_utf8_lossy(&found.stdout).to_string();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("change-without-event: ")
            && stdout.contains(&deletion)
            && stdout.contains("deletion.restored"),
        "{stdout}"
    );
    // Move the change an hour back, and the outbox's start two days back (else the change
    // would be older than the outbox, and excused for that).
    let moment_ago = |seconds: i64| {
        let text = keepsake::soft_delete::to_micros(
            chrono::Utc::now() - chrono::Duration::seconds(seconds),
        )
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        if app.is_postgres() {
            format!("'{text}'::timestamptz")
        } else {
            format!("'{text}'")
        }
    };
    let two_days_ago =
        keepsake::soft_delete::to_micros(chrono::Utc::now() - chrono::Duration::days(2))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    app.execute_sql(&[
        format!(
            "UPDATE deletions SET deleted_at = {}, restored_at = {} WHERE id = {row}",
            moment_ago(3700),
            moment_ago(3600)
        ),
        format!("UPDATE settings SET value = '{two_days_ago}' WHERE key = 'events_since'"),
    ])
    .await;
    // Told that events are kept two minutes, the check asks nothing of an hour-old change...
    let excused = app.run(&["check", "--event-retention", "2m"]).await;
    assert!(excused.status.success(), "{excused:?}");
    // ... while the default week still asks.
    let asked = app.run(&["check"]).await;
    assert_eq!(asked.status.code(), Some(1), "{asked:?}");
}

async fn keepsake_check_names_an_event_without_a_deletion_or_of_an_unknown_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    let deletion = id_of(&app.admin().delete_attachment(&file, None).await);
    let row = ids::decode(Kind::Deletion, &deletion).unwrap();
    let now = if app.is_postgres() {
        "now()"
    } else {
        "'2026-12-06T00:00:00+00:00'"
    };
    let dangling = format!(
        "INSERT INTO events (type, deletion_id, occurred_at) VALUES ('deletion.created', 999999, {now})"
    );
    // PostgreSQL takes it as it is: since migration 18 no foreign key checks an event's
    // deletion there (each cost a lookup and a logged row lock; this insert fails if one comes
    // back). SQLite's key would refuse it: plant it with the key's check off, in one statement
    // (the raw connection is a pool).
    let planted = if app.is_postgres() {
        dangling
    } else {
        format!("PRAGMA foreign_keys = OFF; {dangling}; PRAGMA foreign_keys = ON")
    };
    app.execute_sql(&[
        planted,
        format!(
            "INSERT INTO events (type, deletion_id, occurred_at) VALUES ('deletion.exploded', {row}, {now})"
        ),
    ])
    .await;
    let found = app.run(&["check", "--json"]).await;
    assert_eq!(found.status.code(), Some(1), "{found:?}");
    let doc: Value = serde_json::from_slice(&found.stdout).expect("one JSON document");
    let kinds: Vec<&str> = doc["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["event-without-deletion", "event-of-unknown-type"],
        "{doc}"
    );
}

async fn keepsake_events_prints_each_event_as_a_json_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "a.txt").await;
    app.attachment(&ada, "b.txt").await;
    let deletion = app.admin().delete_user(&ada.id, Some("closing")).await;
    app.admin().restore(&id_of(&deletion), None).await;

    let printed = succeeded(&app.run(&["events"]).await);
    let lines: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|err| panic!("{err}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{printed}");
    let expected_deletion = json!({
        "id": id_of(&deletion),
        "entity": "USER",
        "entityId": ada.id,
        "cascadeCount": 2,
        "actorId": app.admin_id,
        "reason": "closing",
    });
    let events = all_events(&app).await;
    for (line, (event, kind)) in lines
        .iter()
        .zip(events.iter().zip(["deletion.created", "deletion.restored"]))
    {
        assert_eq!(line["id"], event.id.to_string(), "{line}");
        assert_eq!(line["type"], kind, "{line}");
        assert_eq!(moment(&line["occurredAt"]), event.occurred_at, "{line}");
        assert_eq!(line["deletion"], expected_deletion, "{line}");
        assert_eq!(line.as_object().unwrap().len(), 4, "{line}");
    }
    // Written as the API writes a moment, to the byte.
    assert_eq!(lines[0]["occurredAt"], deletion["deletedAt"]);

    let after_first = lines[0]["id"].as_str().unwrap();
    let rest = succeeded(&app.run(&["events", "--after", after_first]).await);
    assert_eq!(rest.lines().count(), 1, "{rest}");
    let rest: Value = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(rest, lines[1]);
    let after_last = lines[1]["id"].as_str().unwrap();
    let none = succeeded(&app.run(&["events", "--after", after_last]).await);
    assert_eq!(none, "");
}

/// On PostgreSQL two transactions could take event ids 5 and 6 and commit 6 first, and a
/// reader past 6 would never see 5. The first delete is parked right after inserting its
/// event (its id taken, not committed). A second delete does not wait for it; a reader that
/// sees the second's event waits for the parked writer before it answers, and while it waits
/// a third writer still commits (readers hold no writer back). The reader then prints the
/// parked event before the second's, in id order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_a_reader_waits_for_event_writers_in_flight_and_writers_do_not_wait() {
    let app = TestApp::spawn(Backend::postgres()).await;
    let ada = app.member("ada@example.com").await;
    let warm = app.attachment(&ada, "warm.txt").await;
    let first_file = app.attachment(&ada, "first.txt").await;
    let second_file = app.attachment(&ada, "second.txt").await;
    let third_file = app.attachment(&ada, "third.txt").await;
    app.admin().delete_attachment(&warm, None).await;
    let next_id = all_events(&app).await.last().unwrap().id + 1;

    let mut gate = Gate::install(
        &app,
        "AFTER INSERT",
        "events",
        &format!("NEW.id = {next_id}"),
    )
    .await;
    let before = (next_id - 1).to_string();
    let parked = app.admin().delete_attachment(&first_file, None);
    let others = async {
        assert!(
            gate.waiting(&app, 1).await,
            "the first delete never reached the gate"
        );
        // A second writer commits while the first is parked.
        let second = tokio::time::timeout(
            Duration::from_secs(20),
            app.admin().delete_attachment(&second_file, None),
        )
        .await
        .expect("a second writer must not wait for the first");
        let args = ["events", "--after", &before];
        let reader = app.run(&args);
        let third = async {
            // Let the reader reach its wait (if it has not, the test proves less, not wrong).
            tokio::time::sleep(Duration::from_millis(500)).await;
            let third = tokio::time::timeout(
                Duration::from_secs(20),
                app.admin().delete_attachment(&third_file, None),
            )
            .await
            .expect("a writer must not wait for a reader");
            gate.open().await;
            third
        };
        let (printed, third) = tokio::join!(reader, third);
        (second, third, printed)
    };
    let (first, (second, third, printed)) = tokio::join!(parked, others);
    let printed = succeeded(&printed);
    let lines: Vec<Value> = printed
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 2, "{printed}");
    assert_eq!(lines[0]["id"], next_id.to_string(), "{printed}");
    assert_eq!(lines[0]["deletion"]["id"], first["id"], "{printed}");
    assert_eq!(lines[1]["id"], (next_id + 1).to_string(), "{printed}");
    assert_eq!(lines[1]["deletion"]["id"], second["id"], "{printed}");
    let events = all_events(&app).await;
    let of = |d: &str| events.iter().find(|e| e.deletion == d).unwrap().id;
    assert_eq!(of(&id_of(&first)), next_id);
    assert_eq!(of(&id_of(&second)), next_id + 1);
    assert_eq!(of(&id_of(&third)), next_id + 2);
    app.assert_invariants().await;
}
