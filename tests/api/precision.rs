//! Moments are stored and compared to the microsecond on SQLite and PostgreSQL alike
//! (docs/search-and-time.md): PostgreSQL's `timestamptz` holds
//! microseconds, so every moment Keepsake writes, and every moment a filter compares with,
//! is truncated to the microsecond first. A boundary one nanosecond off counts the same on
//! both databases.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, id_of, on_both_backends};

on_both_backends!(
    since_and_until_count_a_deletion_alike_around_its_microsecond,
    moments_are_written_to_the_microsecond,
);

const COUNT: &str = "query($since: DateTime, $until: DateTime) {
    deletions(since: $since, until: $until) { totalCount } }";

const STATS: &str = "query($since: DateTime, $until: DateTime) {
    deletionStats(since: $since, until: $until) { since until days { deletions } } }";

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A deletion stamped at a known microsecond, counted by `since` and `until` a nanosecond
/// and a microsecond either side of it: a bound is taken to its microsecond (truncated),
/// then `since` includes and `until` excludes, on both databases.
async fn since_and_until_count_a_deletion_alike_around_its_microsecond(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "notes.txt").await;
    let gone = id_of(&app.admin().delete_attachment(&file, None).await);
    let t: DateTime<Utc> = "2026-03-04T05:06:07.123457Z".parse().unwrap();
    app.move_deletion_to(&gone, t).await;
    app.assert_invariants().await;
    let logged = app.admin().deletion(&gone).await;
    let read: DateTime<Utc> = logged["deletedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(read, t, "{logged}");

    let ns = Duration::nanoseconds(1);
    let us = Duration::microseconds(1);
    let count = |variables: Value| {
        let app = &app;
        async move {
            let body = app.as_admin(COUNT, variables.clone()).await;
            assert_ok(&body);
            (data(&body)["deletions"]["totalCount"].clone(), variables)
        }
    };
    for (bound, at, expected) in [
        // `since` includes its microsecond, whatever nanoseconds follow it.
        ("since", t - us, 1),
        ("since", t - ns, 1),
        ("since", t, 1),
        ("since", t + ns, 1),
        ("since", t + us - ns, 1),
        ("since", t + us, 0),
        // `until` excludes its microsecond.
        ("until", t - us, 0),
        ("until", t - ns, 0),
        ("until", t, 0),
        ("until", t + ns, 0),
        ("until", t + us - ns, 0),
        ("until", t + us, 1),
        ("until", t + us + ns, 1),
    ] {
        let (found, asked) = count(json!({ bound: rfc3339(at) })).await;
        assert_eq!(found, json!(expected), "{asked}");
    }
    for (since, until, expected) in [
        (t - ns, t + us, 1),
        (t + ns, t + us, 1),
        (t - us, t + ns, 0),
        (t - ns, t + ns, 0),
    ] {
        let (found, asked) =
            count(json!({ "since": rfc3339(since), "until": rfc3339(until) })).await;
        assert_eq!(found, json!(expected), "{asked}");
        // `deletionStats` takes its period the same way, and says which it took.
        let body = app
            .as_admin(
                STATS,
                json!({ "since": rfc3339(since), "until": rfc3339(until) }),
            )
            .await;
        assert_ok(&body);
        let stats = &data(&body)["deletionStats"];
        let total: i64 = stats["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["deletions"].as_i64().unwrap())
            .sum();
        assert_eq!(total, expected, "{asked}: {body}");
        for (field, sent) in [("since", since), ("until", until)] {
            let taken: DateTime<Utc> = stats[field].as_str().unwrap().parse().unwrap();
            assert_eq!(taken, keepsake::soft_delete::to_micros(sent), "{body}");
        }
    }
    // Two bounds inside one microsecond are an empty period: refused, on both databases.
    for query in [COUNT, STATS] {
        let body = app
            .as_admin(
                query,
                json!({ "since": rfc3339(t + ns), "until": rfc3339(t + us - ns) }),
            )
            .await;
        assert_error(&body, "BAD_USER_INPUT");
    }
}

/// The fraction of seconds in an RFC 3339 moment: at most six digits when stored to the
/// microsecond.
fn fraction_digits(moment: &Value) -> usize {
    let text = moment
        .as_str()
        .unwrap_or_else(|| panic!("no moment: {moment}"));
    text.split_once('.').map_or(0, |(_, rest)| {
        rest.chars().take_while(char::is_ascii_digit).count()
    })
}

/// What the server stamps (a user's creation and edit, an attachment's creation, a
/// deletion, a restore) is at the microsecond, and reads back the same: the moment a
/// deletion answers counts it as `since` and excludes it as `until`, on both databases.
async fn moments_are_written_to_the_microsecond(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = app
        .as_admin(
            "mutation { createUser(input: {email: \"ada@example.com\", name: \"Ada\"}) { id createdAt updatedAt } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let created = &data(&body)["createUser"];
    let ada = id_of(created);
    for field in ["createdAt", "updatedAt"] {
        assert!(fraction_digits(&created[field]) <= 6, "{body}");
    }
    let body = app
        .as_admin(
            "mutation($id: ID!) { updateUser(id: $id, input: {name: \"Ada L.\"}) { updatedAt } }",
            json!({ "id": ada }),
        )
        .await;
    assert_ok(&body);
    assert!(
        fraction_digits(&data(&body)["updateUser"]["updatedAt"]) <= 6,
        "{body}"
    );
    let body = app
        .admin()
        .try_create_attachment(json!({ "ownerId": ada, "filename": "a.txt",
                                       "contentType": "text/plain", "sizeBytes": 1 }))
        .await;
    assert_ok(&body);
    let file = id_of(&data(&body)["createAttachment"]);
    let body = app
        .as_admin(
            "query($id: ID!) { attachment(id: $id) { createdAt } }",
            json!({ "id": file }),
        )
        .await;
    assert!(
        fraction_digits(&data(&body)["attachment"]["createdAt"]) <= 6,
        "{body}"
    );

    let deleted = app.admin().delete_user(&ada, Some("done")).await;
    let gone = id_of(&deleted);
    let at = deleted["deletedAt"].clone();
    assert!(fraction_digits(&at) <= 6, "{deleted}");
    let logged = app.admin().deletion(&gone).await;
    assert_eq!(logged["deletedAt"], at, "read back alike");
    let app = &app;
    let counted = |variables: Value| async move {
        let body = app.as_admin(COUNT, variables).await;
        assert_ok(&body);
        data(&body)["deletions"]["totalCount"].clone()
    };
    assert_eq!(counted(json!({ "since": at })).await, json!(1));
    assert_eq!(counted(json!({ "until": at })).await, json!(0));

    let restored = app.admin().restore(&gone, None).await;
    assert!(fraction_digits(&restored["restoredAt"]) <= 6, "{restored}");
    app.assert_invariants().await;
}
