//! The deliberate end of deleted data: `purgeDeleted`, the archive, `keepsake purge`,
//! `keepsake archive export`, `keepsake seed` and the retention job.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use keepsake::ids::{self, Kind};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, assert_ok, data, id_of, on_both_backends, sorted, succeeded,
};

on_both_backends!(
    a_purge_takes_rows_deleted_longer_ago_than_older_than_to_the_second_and_no_others,
    a_dry_run_counts_what_a_purge_would_take_and_changes_nothing,
    a_purged_user_and_its_attachments_are_archived_exactly_as_they_were,
    only_admins_purge_or_read_the_archive_and_only_with_a_well_formed_duration,
    a_non_admin_is_refused_a_purge_whatever_duration_it_passes,
    an_older_than_longer_than_history_purges_nothing,
    an_interrupted_purge_leaves_every_row_either_deleted_or_archived_and_a_rerun_finishes_it,
    archive_export_prints_one_json_line_per_archived_row,
    seeded_deletions_are_real_deletions_that_restore_brings_back,
    the_retention_job_archives_deleted_rows_exactly_once,
);

const ARCHIVE_PAGE: &str = "query($after: String) { archivedRecords(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { entity entityId deletionId deletedAt archivedAt data } } }";

/// Deletes user `id` (with its live attachments) as the admin; returns the deletion's id.
async fn delete_user(app: &TestApp, id: &str) -> String {
    id_of(&app.admin().delete_user(id, Some("purge test")).await)
}

/// Deletes attachment `id` as the admin; returns the deletion's id.
async fn delete_attachment(app: &TestApp, id: &str) -> String {
    id_of(&app.admin().delete_attachment(id, None).await)
}

/// A purge report as `purgeDeleted` returns it.
fn report(users: u64, attachments: u64, archived: u64, dry_run: bool) -> Value {
    json!({ "users": users, "attachments": attachments, "archived": archived, "dryRun": dry_run })
}

/// Every archived record, page by page, as the admin reads them.
async fn archive(app: &TestApp) -> Vec<Value> {
    let mut records = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app.as_admin(ARCHIVE_PAGE, json!({ "after": after })).await;
        assert_ok(&body);
        let page = &data(&body)["archivedRecords"];
        records.extend(
            page["nodes"]
                .as_array()
                .unwrap_or_else(|| panic!("no nodes: {body}"))
                .iter()
                .cloned(),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return records;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// How many records the archive holds, as `archivedRecords.totalCount` says.
async fn archive_count(app: &TestApp) -> i64 {
    let body = app
        .as_admin("{ archivedRecords { totalCount } }", json!({}))
        .await;
    assert_ok(&body);
    data(&body)["archivedRecords"]["totalCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no totalCount: {body}"))
}

/// The `entityId`s of `records`, sorted, duplicates kept.
fn entity_ids(records: &[Value]) -> Vec<String> {
    sorted(records.iter().map(|r| string(&r["entityId"])).collect())
}

/// The record of `entity_id` among `records`; exactly one must exist.
#[track_caller]
fn record_of<'a>(records: &'a [Value], entity_id: &str) -> &'a Value {
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r["entityId"] == entity_id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{entity_id} must be archived exactly once: {records:?}"
    );
    found[0]
}

/// `(users, attachments)` with deleted rows, as `totalCount`s.
async fn counts_with_deleted(app: &TestApp) -> (i64, i64) {
    let body = app
        .as_admin(
            "{ users(includeDeleted: true) { totalCount } attachments(includeDeleted: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    (
        data(&body)["users"]["totalCount"].as_i64().unwrap(),
        data(&body)["attachments"]["totalCount"].as_i64().unwrap(),
    )
}

/// The ids of every attachment of `owner`, deleted ones too, with their `deletedAt`.
async fn attachments_of(app: &TestApp, owner: &str) -> Vec<(String, Value)> {
    app.admin()
        .attachments_with_deleted(owner)
        .await
        .iter()
        .map(|n| (id_of(n), n["deletedAt"].clone()))
        .collect()
}

#[track_caller]
fn string(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

/// The row id inside global id `id` of `kind`.
#[track_caller]
fn row_id(kind: Kind, id: &str) -> i64 {
    ids::decode(kind, id).unwrap_or_else(|err| panic!("{id} is not a {kind:?} id: {err}"))
}

/// A timestamp as a moment, whatever RFC 3339 spelling it has.
#[track_caller]
fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|err| panic!("{text} is not RFC 3339: {err}"))
        .with_timezone(&Utc)
}

/// The one error line of a command that must have failed: the only `keepsake:` line on
/// stderr, and its last.
#[track_caller]
fn failed(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the command should fail; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("keepsake: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert_eq!(stderr.lines().last(), Some(errors[0]), "{stderr}");
    errors[0].to_owned()
}

async fn a_purge_takes_rows_deleted_longer_ago_than_older_than_to_the_second_and_no_others(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let old = app.member("old@example.com").await;
    let old_files = [
        app.attachment(&old, "a.txt").await,
        app.attachment(&old, "b.txt").await,
    ];
    let recent = app.member("recent@example.com").await;
    let recent_file = app.attachment(&recent, "c.txt").await;
    let live = app.member("live@example.com").await;
    let live_old_file = app.attachment(&live, "old.txt").await;
    let live_recent_file = app.attachment(&live, "recent.txt").await;
    let live_file = app.attachment(&live, "kept.txt").await;

    let old_deletion = delete_user(&app, &old.id).await;
    let recent_deletion = delete_user(&app, &recent.id).await;
    let live_old_deletion = delete_attachment(&app, &live_old_file).await;
    let live_recent_deletion = delete_attachment(&app, &live_recent_file).await;
    // Three seconds on either side of an hour.
    app.backdate(&old_deletion, 3600 + 3).await;
    app.backdate(&live_old_deletion, 3600 + 3).await;
    app.backdate(&recent_deletion, 3600 - 3).await;
    app.backdate(&live_recent_deletion, 3600 - 3).await;

    assert_eq!(app.admin().purge("1h", false).await, report(1, 3, 4, false));

    let archived = archive(&app).await;
    assert_eq!(
        entity_ids(&archived),
        sorted(vec![
            old.id.clone(),
            old_files[0].clone(),
            old_files[1].clone(),
            live_old_file.clone(),
        ])
    );
    assert_eq!(archive_count(&app).await, 4);
    // Gone for good, even for an admin who asks for deleted rows.
    assert_eq!(app.admin().user_with_deleted(&old.id).await, Value::Null);
    for file in old_files.iter().chain([&live_old_file]) {
        assert_eq!(app.admin().attachment_with_deleted(file).await, Value::Null);
    }
    // Deleted three seconds too recently: still there, still deleted, under their deletion.
    let kept = app.admin().user_with_deleted(&recent.id).await;
    assert!(kept["deletedAt"].is_string(), "{kept}");
    assert_eq!(kept["deletion"]["id"], recent_deletion.as_str(), "{kept}");
    for (file, by) in [
        (&recent_file, &recent_deletion),
        (&live_recent_file, &live_recent_deletion),
    ] {
        let kept = app.admin().attachment_with_deleted(file).await;
        assert!(kept["deletedAt"].is_string(), "{kept}");
        assert_eq!(kept["deletion"]["id"], by.as_str(), "{kept}");
    }
    // Live rows are never touched.
    assert!(app.admin().user_is_live(&live.id).await);
    assert!(app.admin().user_is_live(&app.admin_id).await);
    assert!(app.admin().attachment_is_live(&live_file).await);
    assert_eq!(counts_with_deleted(&app).await, (3, 3));
    // The log: purged entries are marked, the others are not.
    for purged in [&old_deletion, &live_old_deletion] {
        let logged = app.admin().deletion(purged).await;
        assert!(logged["purgedAt"].is_string(), "{logged}");
    }
    for kept in [&recent_deletion, &live_recent_deletion] {
        let logged = app.admin().deletion(kept).await;
        assert_eq!(logged["purgedAt"], Value::Null, "{logged}");
    }

    // Nothing more is old enough. (Backdated again first: on a loaded machine the checks
    // above can take longer than the three seconds of margin.)
    app.backdate(&recent_deletion, 3600 - 3).await;
    app.backdate(&live_recent_deletion, 3600 - 3).await;
    assert_eq!(app.admin().purge("1h", false).await, report(0, 0, 0, false));
    assert_eq!(archive_count(&app).await, 4);
    assert_eq!(counts_with_deleted(&app).await, (3, 3));
}

async fn a_dry_run_counts_what_a_purge_would_take_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let ada_files = [
        app.attachment(&ada, "a.txt").await,
        app.attachment(&ada, "b.txt").await,
    ];
    let bob = app.member("bob@example.com").await;
    let bob_old = app.attachment(&bob, "old.txt").await;
    let bob_live = app.attachment(&bob, "live.txt").await;
    let cy = app.member("cy@example.com").await;
    app.attachment(&cy, "c.txt").await;
    let ada_deletion = delete_user(&app, &ada.id).await;
    let bob_deletion = delete_attachment(&app, &bob_old).await;
    let cy_deletion = delete_user(&app, &cy.id).await;
    app.backdate(&ada_deletion, 7200).await;
    app.backdate(&bob_deletion, 7200).await;
    let before = counts_with_deleted(&app).await;
    assert_eq!(before, (4, 5));

    assert_eq!(app.admin().purge("1h", true).await, report(1, 3, 0, true));

    // Nothing changed.
    assert_eq!(archive_count(&app).await, 0);
    assert_eq!(archive(&app).await, Vec::<Value>::new());
    assert_eq!(counts_with_deleted(&app).await, before);
    let user = app.admin().user_with_deleted(&ada.id).await;
    assert_eq!(user["deletion"]["id"], ada_deletion.as_str(), "{user}");
    for file in ada_files.iter().chain([&bob_old]) {
        let kept = app.admin().attachment_with_deleted(file).await;
        assert!(kept["deletedAt"].is_string(), "{kept}");
    }
    assert!(app.admin().attachment_is_live(&bob_live).await);
    for logged in [&ada_deletion, &bob_deletion, &cy_deletion] {
        assert_eq!(app.admin().deletion(logged).await["purgedAt"], Value::Null);
    }
    // A dry run is repeatable, and the real purge takes what it counted.
    assert_eq!(app.admin().purge("1h", true).await, report(1, 3, 0, true));
    assert_eq!(app.admin().purge("1h", false).await, report(1, 3, 4, false));
    assert_eq!(archive_count(&app).await, 4);
}

async fn a_purged_user_and_its_attachments_are_archived_exactly_as_they_were(backend: Backend) {
    const READ: &str = "query($id: ID!) { user(id: $id, includeDeleted: true) { id email name role createdAt updatedAt deletedAt deletion { id actorId cascadeCount } attachments(includeDeleted: true, first: 100) { nodes { id filename contentType sizeBytes createdAt deletedAt deletion { id actorId } owner { id } } } } }";
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let files = [
        app.attachment(&ada, "one.txt").await,
        app.attachment(&ada, "two.txt").await,
        app.attachment(&ada, "three.txt").await,
    ];
    let bystander = app.member("bystander@example.com").await;
    let bystander_file = app.attachment(&bystander, "mine.txt").await;
    let user_deletion = delete_user(&app, &ada.id).await;

    let body = app.as_admin(READ, json!({ "id": ada.id })).await;
    assert_ok(&body);
    let before = data(&body)["user"].clone();
    assert_eq!(before["deletion"]["id"], user_deletion.as_str(), "{before}");
    assert_eq!(before["deletion"]["cascadeCount"], 3, "{before}");
    let before_files = before["attachments"]["nodes"].as_array().unwrap().clone();
    assert_eq!(
        sorted(before_files.iter().map(|f| string(&f["id"])).collect()),
        sorted(files.to_vec()),
        "{before}"
    );

    assert_eq!(app.admin().purge("0s", false).await, report(1, 3, 4, false));

    let archived = archive(&app).await;
    assert_eq!(archived.len(), 4, "{archived:?}");
    assert_eq!(archive_count(&app).await, 4);
    let deletion_row = json!(row_id(Kind::Deletion, &user_deletion));
    let admin_row = json!(row_id(Kind::User, &app.admin_id));

    // The user, column by column.
    let record = record_of(&archived, &ada.id);
    assert_eq!(record["entity"], "USER", "{record}");
    assert_eq!(record["deletionId"], user_deletion.as_str(), "{record}");
    assert_eq!(instant(&record["deletedAt"]), instant(&before["deletedAt"]));
    assert!(instant(&record["archivedAt"]) >= instant(&before["deletedAt"]));
    let row = &record["data"];
    let columns: BTreeSet<&str> = row
        .as_object()
        .unwrap_or_else(|| panic!("data is a JSON object: {record}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        columns,
        BTreeSet::from([
            "id",
            "email",
            "name",
            "role",
            "created_at",
            "updated_at",
            "deleted_at",
            "deleted_by",
            "deletion_id"
        ]),
        "{record}"
    );
    assert_eq!(row["id"], json!(row_id(Kind::User, &ada.id)), "{record}");
    assert_eq!(row["email"], before["email"], "{record}");
    assert_eq!(row["name"], before["name"], "{record}");
    assert_eq!(
        row["role"],
        string(&before["role"]).to_lowercase(),
        "{record}"
    );
    assert_eq!(instant(&row["created_at"]), instant(&before["createdAt"]));
    assert_eq!(instant(&row["updated_at"]), instant(&before["updatedAt"]));
    assert_eq!(instant(&row["deleted_at"]), instant(&before["deletedAt"]));
    assert_eq!(row["deletion_id"], deletion_row, "{record}");
    assert_eq!(
        row["deleted_by"],
        json!(row_id(Kind::User, &string(&before["deletion"]["actorId"]))),
        "{record}"
    );
    assert_eq!(row["deleted_by"], admin_row, "{record}");

    // Each attachment, column by column.
    for file in &before_files {
        let id = string(&file["id"]);
        let record = record_of(&archived, &id);
        assert_eq!(record["entity"], "ATTACHMENT", "{record}");
        assert_eq!(record["deletionId"], user_deletion.as_str(), "{record}");
        assert_eq!(instant(&record["deletedAt"]), instant(&file["deletedAt"]));
        let row = &record["data"];
        let columns: BTreeSet<&str> = row
            .as_object()
            .unwrap_or_else(|| panic!("data is a JSON object: {record}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            columns,
            BTreeSet::from([
                "id",
                "owner_id",
                "filename",
                "content_type",
                "size_bytes",
                "created_at",
                "deleted_at",
                "deleted_by",
                "deletion_id",
                "sha256"
            ]),
            "{record}"
        );
        assert_eq!(row["id"], json!(row_id(Kind::Attachment, &id)), "{record}");
        assert_eq!(
            row["sha256"],
            Value::Null,
            "no bytes were uploaded: {record}"
        );
        assert_eq!(row["filename"], file["filename"], "{record}");
        assert_eq!(row["content_type"], file["contentType"], "{record}");
        assert_eq!(row["size_bytes"], file["sizeBytes"], "{record}");
        assert_eq!(
            row["owner_id"],
            json!(row_id(Kind::User, &string(&file["owner"]["id"]))),
            "{record}"
        );
        assert_eq!(file["owner"]["id"], ada.id.as_str(), "{file}");
        assert_eq!(instant(&row["created_at"]), instant(&file["createdAt"]));
        assert_eq!(instant(&row["deleted_at"]), instant(&file["deletedAt"]));
        assert_eq!(row["deletion_id"], deletion_row, "{record}");
        assert_eq!(
            row["deleted_by"],
            json!(row_id(Kind::User, &string(&file["deletion"]["actorId"]))),
            "{record}"
        );
    }
    // Filtered by entity.
    let body = app
        .as_admin(
            "{ users: archivedRecords(entity: USER) { totalCount nodes { entityId } } files: archivedRecords(entity: ATTACHMENT) { totalCount } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["users"]["totalCount"], 1, "{body}");
    assert_eq!(
        data(&body)["users"]["nodes"][0]["entityId"],
        ada.id.as_str(),
        "{body}"
    );
    assert_eq!(data(&body)["files"]["totalCount"], 3, "{body}");

    // The log keeps the entry, marked purged.
    let logged = app.admin().deletion(&user_deletion).await;
    assert_eq!(logged["id"], user_deletion.as_str(), "{logged}");
    assert_eq!(logged["restoredAt"], Value::Null, "{logged}");
    assert!(instant(&logged["purgedAt"]) >= instant(&logged["deletedAt"]));
    let body = app
        .as_admin(
            "{ deletions(first: 100) { nodes { id purgedAt } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let listed: Vec<&Value> = data(&body)["deletions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["id"] == user_deletion.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["purgedAt"], logged["purgedAt"], "{body}");

    // What is purged cannot be restored: the refusal says so, and changes nothing.
    let body = app.admin().try_restore(&user_deletion, None).await;
    assert_error(&body, "CONFLICT");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("purged"), "{message}");
    assert_eq!(app.admin().user_with_deleted(&ada.id).await, Value::Null);
    assert_eq!(app.admin().deletion(&user_deletion).await, logged);
    assert_eq!(archive_count(&app).await, 4);
    // The bystander was never touched.
    assert!(app.admin().user_is_live(&bystander.id).await);
    assert!(app.admin().attachment_is_live(&bystander_file).await);
}

async fn only_admins_purge_or_read_the_archive_and_only_with_a_well_formed_duration(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let bob = app.member("bob@example.com").await;
    let file = app.attachment(&bob, "file.txt").await;
    let file_deletion = delete_attachment(&app, &file).await;
    // Purgeable by an admin's "0s" from here on.

    for who in [&ada, &grace] {
        for dry in [false, true] {
            let body = app.by(who).try_purge("0s", dry).await;
            assert_error(&body, "FORBIDDEN");
            assert_eq!(data(&body), &Value::Null, "{body}");
        }
        let body = app
            .graphql(Some(&who.token), ARCHIVE_PAGE, json!({ "after": null }))
            .await;
        assert_error(&body, "FORBIDDEN");
        assert_eq!(data(&body), &Value::Null, "{body}");
    }
    for bad in ["1w", "", "-5m"] {
        for dry in [false, true] {
            let body = app.admin().try_purge(bad, dry).await;
            assert_error(&body, "BAD_USER_INPUT");
            assert_eq!(data(&body), &Value::Null, "{body}");
        }
    }

    // None of that purged anything.
    assert_eq!(archive_count(&app).await, 0);
    let kept = app.admin().attachment_with_deleted(&file).await;
    assert_eq!(kept["deletion"]["id"], file_deletion.as_str(), "{kept}");
    assert_eq!(
        app.admin().deletion(&file_deletion).await["purgedAt"],
        Value::Null
    );
    // An admin with a good duration does.
    assert_eq!(app.admin().purge("0s", false).await, report(0, 1, 1, false));
    assert_eq!(entity_ids(&archive(&app).await), vec![file]);
}

async fn a_non_admin_is_refused_a_purge_whatever_duration_it_passes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    // Who may purge is decided before what they asked for is read: a non-admin learns nothing
    // from the argument's checks.
    for who in [&ada, &grace] {
        for bad in ["1w", "", "-5m"] {
            let body = app.by(who).try_purge(bad, true).await;
            assert_error(&body, "FORBIDDEN");
        }
    }
}

async fn an_older_than_longer_than_history_purges_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "file.txt").await;
    let file_deletion = delete_attachment(&app, &file).await;
    app.backdate(&file_deletion, 400 * 86_400).await;
    // The longest duration the parser takes (ten thousand years) reaches back before any
    // database's calendar: nothing was deleted that long ago.
    for older_than in ["3650000d", "87600000h"] {
        for dry in [true, false] {
            assert_eq!(
                app.admin().purge(older_than, dry).await,
                report(0, 0, 0, dry)
            );
        }
    }
    assert_eq!(archive_count(&app).await, 0);
    let kept = app.admin().attachment_with_deleted(&file).await;
    assert_eq!(kept["deletion"]["id"], file_deletion.as_str(), "{kept}");
    // Four hundred days ago is older than a year.
    assert_eq!(
        app.admin().purge("365d", false).await,
        report(0, 1, 1, false)
    );
}

/// Makes every DELETE of the attachment named `boom.txt` fail.
async fn install_delete_fault(app: &TestApp) {
    let statements = if app.db.url.starts_with("sqlite") {
        vec![
            "CREATE TRIGGER boom BEFORE DELETE ON attachments WHEN OLD.filename = 'boom.txt' \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
                .to_owned(),
        ]
    } else {
        vec![
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;"
                .to_owned(),
            "CREATE TRIGGER boom BEFORE DELETE ON attachments FOR EACH ROW \
             WHEN (OLD.filename = 'boom.txt') EXECUTE FUNCTION boom();"
                .to_owned(),
        ]
    };
    app.execute_sql(&statements).await;
}

/// Takes the fault of [`install_delete_fault`] away.
async fn remove_delete_fault(app: &TestApp) {
    let statements = if app.db.url.starts_with("sqlite") {
        vec!["DROP TRIGGER boom;".to_owned()]
    } else {
        vec![
            "DROP TRIGGER boom ON attachments;".to_owned(),
            "DROP FUNCTION boom();".to_owned(),
        ]
    };
    app.execute_sql(&statements).await;
}

async fn an_interrupted_purge_leaves_every_row_either_deleted_or_archived_and_a_rerun_finishes_it(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut files = Vec::new();
    for name in [
        "1.txt", "2.txt", "3.txt", "4.txt", "boom.txt", "5.txt", "6.txt",
    ] {
        files.push(app.attachment(&ada, name).await);
    }
    let boom = files[4].clone();
    let bystander = app.member("bystander@example.com").await;
    let bystander_file = app.attachment(&bystander, "boom.txt").await;
    let user_deletion = delete_user(&app, &ada.id).await;
    let mut deleted: Vec<String> = files.clone();
    deleted.push(ada.id.clone());
    let deleted = sorted(deleted);
    // A dry run counts and changes nothing; a batch of nothing is refused.
    let stdout = succeeded(&app.run(&["purge", "--older-than", "0s", "--dry-run"]).await);
    assert_eq!(
        stdout.lines().last().unwrap_or_default(),
        "dry run: would purge 1 users and 7 attachments, freeing 0 bytes of content (nothing changed)",
        "{stdout}"
    );
    let error = failed(
        &app.run(&["purge", "--older-than", "0s", "--batch-size", "0"])
            .await,
    );
    assert!(error.contains("--batch-size"), "{error}");
    let error = failed(&app.run(&["purge", "--older-than", "1w"]).await);
    assert!(error.contains("--older-than"), "{error}");
    assert_eq!(archive_count(&app).await, 0);
    assert_eq!(attachments_of(&app, &ada.id).await.len(), 7);
    install_delete_fault(&app).await;

    let output = app
        .run(&["purge", "--older-than", "0s", "--batch-size", "2"])
        .await;
    let error = failed(&output);
    eprintln!(
        "DEBUG {error:?} STDERR {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(error.len() > "keepsake: ".len(), "{error}");

    // Each row is in exactly one place: still there (and still deleted), or in the archive.
    let archived = archive(&app).await;
    let archived_ids = entity_ids(&archived);
    assert_eq!(
        archived_ids.iter().collect::<BTreeSet<_>>().len(),
        archived_ids.len(),
        "archived twice: {archived_ids:?}"
    );
    let mut present: Vec<String> = Vec::new();
    for (id, deleted_at) in attachments_of(&app, &ada.id).await {
        assert!(deleted_at.is_string(), "{id} came back to life");
        present.push(id);
    }
    let user = app.admin().user_with_deleted(&ada.id).await;
    if !user.is_null() {
        assert!(user["deletedAt"].is_string(), "{user}");
        present.push(ada.id.clone());
    }
    for id in &present {
        assert!(
            !archived_ids.contains(id),
            "{id} is both archived and still there"
        );
    }
    let mut both: Vec<String> = present.iter().chain(&archived_ids).cloned().collect();
    both.sort();
    assert_eq!(both, deleted, "every deleted row is in one place");
    // Some batches went through before the failing one, which went through not at all.
    assert!(!archived_ids.is_empty(), "no batch was committed");
    assert!(present.contains(&boom), "{present:?}");
    assert!(present.contains(&ada.id), "the user outlived an attachment");
    assert_eq!(
        app.admin().deletion(&user_deletion).await["purgedAt"],
        Value::Null
    );
    assert!(app.admin().attachment_is_live(&bystander_file).await);

    // With the fault gone, a second run finishes the job.
    remove_delete_fault(&app).await;
    let remaining = present.len();
    let output = app
        .run(&["purge", "--older-than", "0s", "--batch-size", "2"])
        .await;
    let stdout = succeeded(&output);
    assert_eq!(
        stdout.lines().last().unwrap_or_default(),
        format!(
            "purged 1 users and {} attachments; {remaining} rows archived; 0 bytes of content freed",
            remaining - 1
        ),
        "{stdout}"
    );
    let archived = archive(&app).await;
    assert_eq!(entity_ids(&archived), deleted, "each row archived once");
    assert_eq!(archive_count(&app).await, deleted.len() as i64);
    assert_eq!(app.admin().user_with_deleted(&ada.id).await, Value::Null);
    assert_eq!(attachments_of(&app, &ada.id).await, Vec::new());
    assert!(app.admin().deletion(&user_deletion).await["purgedAt"].is_string());
    assert!(app.admin().user_is_live(&bystander.id).await);
    assert!(app.admin().attachment_is_live(&bystander_file).await);
}

async fn archive_export_prints_one_json_line_per_archived_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "one.txt").await;
    app.attachment(&ada, "two.txt").await;
    let user_deletion = delete_user(&app, &ada.id).await;
    assert_eq!(app.admin().purge("0s", false).await, report(1, 2, 3, false));
    let archived = archive(&app).await;
    assert_eq!(archived.len(), 3);

    let stdout = succeeded(&app.run(&["archive", "export"]).await);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let mut archive_ids = BTreeSet::new();
    let mut exported = Vec::new();
    for line in &lines {
        let object: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}"));
        let keys: BTreeSet<&str> = object
            .as_object()
            .unwrap_or_else(|| panic!("not a JSON object: {line}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "archiveId",
                "entity",
                "entityId",
                "deletionId",
                "deletedAt",
                "archivedAt",
                "row"
            ]),
            "{line}"
        );
        assert!(
            archive_ids.insert(object["archiveId"].as_i64().unwrap()),
            "{line}"
        );
        // The API's vocabulary: USER/ATTACHMENT and opaque ids; `row` as stored.
        let (kind, global) = match object["entity"].as_str() {
            Some("USER") => (Kind::User, "USER"),
            Some("ATTACHMENT") => (Kind::Attachment, "ATTACHMENT"),
            _ => panic!("unknown entity: {line}"),
        };
        let entity_id = object["entityId"].as_str().unwrap().to_owned();
        assert_eq!(
            ids::encode(kind, object["row"]["id"].as_i64().unwrap()),
            entity_id,
            "{line}"
        );
        assert_eq!(object["deletionId"], user_deletion.as_str(), "{line}");
        // The same record the API shows.
        let record = record_of(&archived, &entity_id);
        assert_eq!(record["entity"], global, "{line}");
        assert_eq!(object["row"], record["data"], "{line}");
        assert_eq!(instant(&object["deletedAt"]), instant(&record["deletedAt"]));
        assert_eq!(
            instant(&object["archivedAt"]),
            instant(&record["archivedAt"])
        );
        exported.push(entity_id);
    }
    assert_eq!(sorted(exported), entity_ids(&archived));

    // Archived within the last hour: all of it; from tomorrow: nothing.
    let recent = succeeded(&app.run(&["archive", "export", "--since", "1h"]).await);
    assert_eq!(recent.lines().count(), 3, "{recent}");
    let tomorrow = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let future = succeeded(&app.run(&["archive", "export", "--since", &tomorrow]).await);
    assert_eq!(future, "", "nothing was archived after {tomorrow}");
    let error = failed(
        &app.run(&["archive", "export", "--since", "yesterday"])
            .await,
    );
    assert!(error.contains("--since"), "{error}");
}

async fn seeded_deletions_are_real_deletions_that_restore_brings_back(backend: Backend) {
    const DELETED: &str = "{ users(onlyDeleted: true, first: 100) { totalCount nodes { id deletedAt deletion { id entity entityId deletedAt cascadeCount restoredAt } attachments(includeDeleted: true, first: 100) { totalCount nodes { id deletedAt deletion { id } } } } } }";
    let app = TestApp::spawn(backend).await;
    let stdout = succeeded(
        &app.run(&[
            "seed",
            "--users",
            "30",
            "--attachments-per-user",
            "3",
            "--deleted-fraction",
            "0.5",
        ])
        .await,
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("seeded 30 users and 90 attachments"),
        "{stdout}"
    );
    assert_eq!(counts_with_deleted(&app).await, (31, 90));

    let body = app.as_admin(DELETED, json!({})).await;
    assert_ok(&body);
    let deleted = data(&body)["users"]["nodes"].as_array().unwrap().clone();
    assert_eq!(data(&body)["users"]["totalCount"], deleted.len(), "{body}");
    // Half of thirty, at random: none at all would be a one-in-a-billion draw.
    assert!(!deleted.is_empty(), "{body}");
    for user in &deleted {
        let logged = &user["deletion"];
        assert_eq!(logged["entity"], "USER", "{user}");
        assert_eq!(logged["entityId"], user["id"], "{user}");
        assert_eq!(logged["cascadeCount"], 3, "{user}");
        assert_eq!(logged["restoredAt"], Value::Null, "{user}");
        assert_eq!(instant(&user["deletedAt"]), instant(&logged["deletedAt"]));
        let files = user["attachments"]["nodes"].as_array().unwrap();
        assert_eq!(files.len(), 3, "{user}");
        for file in files {
            assert_eq!(file["deletion"]["id"], logged["id"], "{user}");
            assert_eq!(file["deletedAt"], user["deletedAt"], "{user}");
        }
    }
    let live_members = 30 - deleted.len() as i64;
    let body = app
        .as_admin(
            "{ users { totalCount } attachments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["users"]["totalCount"],
        live_members + 1,
        "{body}"
    );
    assert_eq!(
        data(&body)["attachments"]["totalCount"],
        3 * live_members,
        "{body}"
    );

    // Restoring one brings back the user and its three attachments.
    let chosen = &deleted[0];
    let id = string(&chosen["id"]);
    let deletion_id = string(&chosen["deletion"]["id"]);
    let restored = app.admin().restore(&deletion_id, None).await;
    assert!(restored["restoredAt"].is_string(), "{restored}");
    assert!(app.admin().user_is_live(&id).await);
    let files: Vec<(String, Value)> = attachments_of(&app, &id).await;
    assert_eq!(files.len(), 3, "{files:?}");
    for (file, deleted_at) in &files {
        assert_eq!(deleted_at, &Value::Null, "{file}");
        assert!(app.admin().attachment_is_live(file).await);
    }
    let body = app
        .as_admin(
            "{ users { totalCount } attachments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["users"]["totalCount"],
        live_members + 2,
        "{body}"
    );
    assert_eq!(
        data(&body)["attachments"]["totalCount"],
        3 * (live_members + 1),
        "{body}"
    );

    // A bad fraction is one line naming the flag, and seeds nothing.
    let error = failed(
        &app.run(&[
            "seed",
            "--users",
            "5",
            "--attachments-per-user",
            "1",
            "--deleted-fraction",
            "2",
        ])
        .await,
    );
    assert!(error.contains("--deleted-fraction"), "{error}");
    assert_eq!(counts_with_deleted(&app).await, (31, 90));
}

async fn the_retention_job_archives_deleted_rows_exactly_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.retention = Some(Duration::from_secs(0));
        settings.retention_interval = Duration::from_millis(200);
    })
    .await;
    let ada = app.member("ada@example.com").await;
    let ada_files = [
        app.attachment(&ada, "one.txt").await,
        app.attachment(&ada, "two.txt").await,
    ];
    let bob = app.member("bob@example.com").await;
    let bob_old = app.attachment(&bob, "old.txt").await;
    let bob_live = app.attachment(&bob, "live.txt").await;
    let ada_deletion = delete_user(&app, &ada.id).await;
    let bob_deletion = delete_attachment(&app, &bob_old).await;
    let expected = sorted(vec![
        ada.id.clone(),
        ada_files[0].clone(),
        ada_files[1].clone(),
        bob_old.clone(),
    ]);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut archived = archive(&app).await;
    while archived.len() < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        archived = archive(&app).await;
    }
    assert_eq!(
        entity_ids(&archived),
        expected,
        "archived by the retention job"
    );
    // More ticks archive nothing twice.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(entity_ids(&archive(&app).await), expected);
    assert_eq!(archive_count(&app).await, expected.len() as i64);
    let (ticks, purges) = app.state.metrics.retention();
    assert!(ticks >= 1, "ticks {ticks}");
    assert!(purges >= 1, "the job purged: {purges} of {ticks} ticks");
    assert!(purges <= ticks, "purges {purges} of {ticks} ticks");

    assert_eq!(app.admin().user_with_deleted(&ada.id).await, Value::Null);
    assert!(app.admin().deletion(&ada_deletion).await["purgedAt"].is_string());
    assert!(app.admin().deletion(&bob_deletion).await["purgedAt"].is_string());
    assert!(app.admin().user_is_live(&bob.id).await);
    assert!(app.admin().attachment_is_live(&bob_live).await);
    assert!(app.admin().user_is_live(&app.admin_id).await);
}
