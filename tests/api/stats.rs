//! `deletionStats` agrees with a hand count of a small, fixed deletion log, on both
//! databases, and the reporting view of the same days (`deletion_days`, what a BI tool reads)
//! agrees with it to the last row.

use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, assert_ok, data, id_of, on_both_backends, raw_connection,
};

on_both_backends!(
    stats_agree_with_a_hand_count,
    stats_are_for_support_and_admins_only
);

/// Rewrites a deletion's timestamps, so the fixture sits on known days.
async fn set_times(
    app: &TestApp,
    deletion: &str,
    deleted: &str,
    restored: Option<&str>,
    purged: Option<&str>,
) {
    let id = keepsake::ids::decode(keepsake::ids::Kind::Deletion, deletion).unwrap();
    let postgres = app.db.url.starts_with("postgres");
    let literal = |t: Option<&str>| match t {
        None => "NULL".to_owned(),
        Some(t) if postgres => format!("'{t}'::timestamptz"),
        Some(t) => format!("'{t}'"),
    };
    let sql = format!(
        "UPDATE deletions SET deleted_at = {}, restored_at = {}, purged_at = {} WHERE id = {id}",
        literal(Some(deleted)),
        literal(restored),
        literal(purged)
    );
    assert_eq!(app.execute_sql(&[sql]).await, [1], "one log entry moved");
}

const STATS: &str =
    "query($since: DateTime, $until: DateTime) { deletionStats(since: $since, until: $until) {
    days { day entity deletions cascadedRows restores purges medianSecondsToRestore }
    topReasons { reason count } medianSecondsToRestore } }";

async fn stats_agree_with_a_hand_count(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let mut files = Vec::new();
    for i in 0..6 {
        files.push(app.attachment(&ada, &format!("f{i}.txt")).await);
    }
    app.attachment(&alan, "alan-1.txt").await;
    app.attachment(&alan, "alan-2.txt").await;

    let d1 = id_of(
        &app.admin()
            .delete_attachments(&[&files[0]], Some("typo"))
            .await,
    );
    let d2 = id_of(
        &app.admin()
            .delete_attachments(&[&files[1]], Some("typo"))
            .await,
    );
    let deleted = app.admin().delete_user(&alan.id, Some("spam")).await;
    assert_eq!(deleted["cascadeCount"], 2);
    let d3 = id_of(&deleted);
    let d4 = id_of(
        &app.admin()
            .delete_attachments(&[&files[2], &files[3], &files[4]], None)
            .await,
    );
    let d5 = id_of(
        &app.admin()
            .delete_attachments(&[&files[5]], Some("typo"))
            .await,
    );

    // The hand-made history (UTC):
    //   d1 attachment "typo", 11-01 10:00:00, restored 100 s later
    //   d2 attachment "typo", 11-01 23:59:59, restored 11-02 00:05:00 (301 s)
    //   d3 user "spam" (2 cascaded), 11-02 08:00:00, purged 11-02 12:00:00
    //   d4 3 attachments, no reason (2 cascaded), 11-02 09:00:00, restored 1000 s later
    //   d5 attachment "typo", 10-31 23:00:00 (before the period), restored 11-01 00:00:10
    set_times(
        &app,
        &d1,
        "2026-11-01T10:00:00+00:00",
        Some("2026-11-01T10:01:40+00:00"),
        None,
    )
    .await;
    set_times(
        &app,
        &d2,
        "2026-11-01T23:59:59+00:00",
        Some("2026-11-02T00:05:00+00:00"),
        None,
    )
    .await;
    set_times(
        &app,
        &d3,
        "2026-11-02T08:00:00+00:00",
        None,
        Some("2026-11-02T12:00:00+00:00"),
    )
    .await;
    set_times(
        &app,
        &d4,
        "2026-11-02T09:00:00+00:00",
        Some("2026-11-02T09:16:40+00:00"),
        None,
    )
    .await;
    set_times(
        &app,
        &d5,
        "2026-10-31T23:00:00+00:00",
        Some("2026-11-01T00:00:10+00:00"),
        None,
    )
    .await;

    let body = app
        .as_admin(
            STATS,
            json!({ "since": "2026-11-01T00:00:00Z", "until": "2026-11-03T00:00:00Z" }),
        )
        .await;
    assert_ok(&body);
    let stats = &data(&body)["deletionStats"];
    let day = |day: &str,
               entity: &str,
               deletions: i64,
               cascaded: i64,
               restores: i64,
               purges: i64,
               median: Option<f64>|
     -> Value {
        json!({ "day": day, "entity": entity, "deletions": deletions, "cascadedRows": cascaded,
                "restores": restores, "purges": purges, "medianSecondsToRestore": median })
    };
    // Medians per day over that day's restores: 11-01 took 100 and 3610 s, 11-02 301 and
    // 1000 s.
    assert_eq!(
        stats["days"],
        json!([
            day("2026-11-01", "ATTACHMENT", 2, 0, 2, 0, Some(1855.0)),
            day("2026-11-02", "ATTACHMENT", 1, 2, 2, 0, Some(650.5)),
            day("2026-11-02", "USER", 1, 2, 0, 1, None),
        ]),
        "{body}"
    );
    // The reporting view holds the same days, and the day before (d5's deletion), which the
    // period leaves out.
    let view = view_days(&app).await;
    assert_eq!(view[1..], stats["days"].as_array().unwrap()[..], "{view:?}");
    assert_eq!(
        view[0],
        day("2026-10-31", "ATTACHMENT", 1, 0, 0, 0, None),
        "{view:?}"
    );
    assert_eq!(
        stats["topReasons"],
        json!([
            { "reason": "typo", "count": 2 },
            { "reason": "spam", "count": 1 },
            { "reason": null, "count": 1 },
        ])
    );
    // Restores in the period took 100, 301, 1000 and 3610 s: the median is 650.5.
    assert_eq!(stats["medianSecondsToRestore"], json!(650.5));

    // A period with nothing in it.
    let body = app
        .as_admin(
            STATS,
            json!({ "since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        data(&body)["deletionStats"],
        json!({ "days": [], "topReasons": [], "medianSecondsToRestore": null })
    );
    let body = app
        .as_admin(
            STATS,
            json!({ "since": "2026-11-03T00:00:00Z", "until": "2026-11-01T00:00:00Z" }),
        )
        .await;
    assert_error(&body, "BAD_USER_INPUT");
}

async fn stats_are_for_support_and_admins_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let body = app.graphql(Some(&ada.token), STATS, json!({})).await;
    assert_error(&body, "FORBIDDEN");
    let body = app.graphql(Some(&grace.token), STATS, json!({})).await;
    assert_ok(&body);
}

/// Every row of the reporting view `deletion_days`, oldest first, shaped as `deletionStats`
/// shapes its days; read on a connection of its own, as a report would.
async fn view_days(app: &TestApp) -> Vec<Value> {
    let view = if app.is_postgres() {
        "reporting.deletion_days"
    } else {
        "reporting_deletion_days"
    };
    let conn = raw_connection(&app.db.url).await.unwrap();
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT CAST(day AS TEXT) AS day, entity, deletions, cascaded_rows, restores, \
                   purges, median_seconds_to_restore FROM {view} ORDER BY day, entity"
            ),
        ))
        .await
        .unwrap();
    conn.close().await.ok();
    rows.iter()
        .map(|row| {
            let n = |c: &str| row.try_get::<i64>("", c).unwrap();
            json!({
                "day": row.try_get::<String>("", "day").unwrap(),
                "entity": row.try_get::<String>("", "entity").unwrap().to_uppercase(),
                "deletions": n("deletions"),
                "cascadedRows": n("cascaded_rows"),
                "restores": n("restores"),
                "purges": n("purges"),
                "medianSecondsToRestore":
                    row.try_get::<Option<f64>>("", "median_seconds_to_restore").unwrap(),
            })
        })
        .collect()
}
