//! `eraseUser`, the right to be forgotten: after an erasure a full dump of the database (the
//! SQLite file and its log, byte for byte; `pg_dump --data-only` of PostgreSQL) holds neither
//! the person's email, nor their name, nor their filenames; their unique bytes leave the store
//! while bytes another user also uploaded stay; the tombstone answers; their deletions can no
//! longer be restored; `keepsake check` is clean. A dry run changes nothing and reports what
//! the real run does; refusals change nothing.

use reqwest::StatusCode;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::content::{put, sha256, text};
use crate::helpers::{
    Backend, TestApp, TestUser, assert_error, assert_ok, data, id_of, on_both_backends,
    raw_connection, succeeded,
};

on_both_backends!(
    erasing_a_deleted_member_leaves_no_trace_of_them_in_a_dump,
    a_member_erasing_themself_is_signed_out_and_leaves_no_trace,
    a_dry_run_changes_nothing_and_reports_what_the_real_run_does,
    refusals_change_nothing_and_say_why,
    check_names_what_an_erasure_left_behind_and_fix_removes_the_blob,
    a_purge_after_an_erasure_keeps_the_tombstone_and_archives_nothing_of_theirs,
);

/// One token found in the email, the name and both filenames, in any case: a byte search
/// for it in a dump is meaningful (nothing else in a test database holds it).
pub(crate) const MARK: &str = "plinkerton";
pub(crate) const EMAIL: &str = "qzxv.Plinkerton+7731@example.org";
pub(crate) const NAME: &str = "Quenby Zarathustra-Plinkerton";
pub(crate) const FILE_A: &str = "plinkerton-passport-8842.pdf";
pub(crate) const FILE_B: &str = "Plinkerton-holiday-7731.txt";

pub(crate) const ERASE: &str = "mutation($id: ID!, $reason: String!, $dry: Boolean!) { eraseUser(id: $id, reason: $reason, dryRun: $dry) { userId dryRun attachments blobs bytes archiveEntries reasonsRewritten erasedAt } }";

pub(crate) const TOMBSTONE: &str = "query($id: ID!) { user(id: $id, includeDeleted: true) { email name deletedAt erasure { erasedAt erasedBy reason attachments blobs bytes } } }";

pub(crate) async fn erase(app: &TestApp, token: &str, id: &str, reason: &str, dry: bool) -> Value {
    app.graphql(
        Some(token),
        ERASE,
        json!({ "id": id, "reason": reason, "dry": dry }),
    )
    .await
}

/// A member with the test's distinctive email and name.
pub(crate) async fn person(app: &TestApp) -> TestUser {
    let body = app
        .admin()
        .try_create_user(json!({ "email": EMAIL, "name": NAME, "role": "MEMBER" }))
        .await;
    let id = id_of(&data(&body)["createUser"]);
    let row = keepsake::ids::decode(keepsake::ids::Kind::User, &id).unwrap();
    let token = app
        .state
        .services
        .tokens
        .issue(row, std::time::Duration::from_secs(3600))
        .unwrap();
    TestUser { id, token }
}

/// Everything the database holds, as bytes: PostgreSQL's `pg_dump --data-only`; SQLite's
/// file and its write-ahead log, raw.
pub(crate) fn dump(app: &TestApp) -> Vec<u8> {
    if app.is_postgres() {
        let out = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&app.db.url)
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // pg_dump brackets its output with a random `\restrict` key: not data.
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
            .collect();
        return lines.join("\n").into_bytes();
    }
    let path = app
        .db
        .url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut bytes = std::fs::read(&path).expect("the database file");
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    bytes
}

/// Whether `haystack` holds `needle`, ASCII case aside.
pub(crate) fn holds(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

pub(crate) fn blob(app: &TestApp, bytes: &[u8]) -> std::path::PathBuf {
    app.blobs.path().join("blobs").join(sha256(bytes))
}

/// The rows of `sql` on a connection of the test's own, each as its first column (an i64).
pub(crate) async fn count(app: &TestApp, sql: &str) -> i64 {
    let conn = raw_connection(&app.db.url).await.unwrap();
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get_by_index(0).unwrap();
    conn.close().await.ok();
    n
}

/// The state every erasure test starts from: the person with two files, one of whose bytes
/// another member uploaded too; an attachment deletion naming them, restored with a reason
/// naming their email; then (as asked) their account deleted by the admin with a reason
/// holding their email. Returns the person, their attachments, and the two byte strings.
pub(crate) struct Setup {
    pub(crate) person: TestUser,
    pub(crate) files: [String; 2],
    pub(crate) unique: Vec<u8>,
    pub(crate) shared: Vec<u8>,
    pub(crate) user_deletion: Option<String>,
}

pub(crate) async fn setup(app: &TestApp, delete: bool) -> Setup {
    let person = person(app).await;
    let other = app.member("other@example.com").await;
    let a = app.attachment(&person, FILE_A).await;
    let b = app.attachment(&person, FILE_B).await;
    let (unique, shared) = (text(3_000, 1), text(2_000, 2));
    assert_eq!(
        put(app, &person.token, &a, "text/plain", unique.clone())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        put(app, &person.token, &b, "text/plain", shared.clone())
            .await
            .0,
        StatusCode::OK
    );
    let others = app.attachment(&other, "ordinary.txt").await;
    assert_eq!(
        put(app, &other.token, &others, "text/plain", shared.clone())
            .await
            .0,
        StatusCode::OK
    );
    let by_name = app
        .admin()
        .delete_attachment(&b, Some(&format!("{NAME} asked for it")))
        .await;
    app.admin()
        .restore(
            &id_of(&by_name),
            Some(&format!("{} changed their mind", EMAIL.to_uppercase())),
        )
        .await;
    let user_deletion = if delete {
        let logged = app
            .admin()
            .delete_user(
                &person.id,
                Some(&format!("requested by {EMAIL} via ticket 12")),
            )
            .await;
        Some(id_of(&logged))
    } else {
        None
    };
    Setup {
        person,
        files: [a, b],
        unique,
        shared,
        user_deletion,
    }
}

/// Asserts nothing of the person is left in a dump, their unique blob is gone and the shared
/// one stays, and `keepsake check` (in process and the binary) is clean.
pub(crate) async fn assert_forgotten(app: &TestApp, s: &Setup) {
    let after = dump(app);
    for needle in [
        MARK,
        EMAIL,
        NAME,
        FILE_A,
        FILE_B,
        "qzxv",
        "quenby",
        "zarathustra",
    ] {
        assert!(!holds(&after, needle), "the dump still holds {needle:?}");
    }
    assert!(
        !blob(app, &s.unique).exists(),
        "their unique bytes left the store"
    );
    assert!(
        blob(app, &s.shared).exists(),
        "bytes another user holds stay"
    );
    app.assert_invariants().await;
    succeeded(&app.run(&["check"]).await);
}

async fn erasing_a_deleted_member_leaves_no_trace_of_them_in_a_dump(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    assert!(
        holds(&dump(&app), MARK),
        "the search is meaningful: it finds them first"
    );

    let body = erase(
        &app,
        &app.admin_token,
        &s.person.id,
        &format!("GDPR request from {EMAIL}"),
        false,
    )
    .await;
    assert_ok(&body);
    let report = &data(&body)["eraseUser"];
    assert_eq!(report["dryRun"], json!(false));
    assert_eq!(report["attachments"], json!(2), "{report}");
    assert_eq!(report["blobs"], json!(1), "only the unique blob: {report}");
    assert_eq!(report["bytes"], json!(3_000), "{report}");
    assert_eq!(report["archiveEntries"], json!(0), "{report}");
    // The attachment deletion (reason and restore reason) and the user's deletion.
    assert_eq!(report["reasonsRewritten"], json!(2), "{report}");
    assert!(report["erasedAt"].is_string(), "{report}");

    assert_forgotten(&app, &s).await;

    // The tombstone answers, with the facts and nothing personal.
    let found = app
        .admin()
        .ok(TOMBSTONE, json!({ "id": s.person.id }), "user")
        .await;
    let row = keepsake::ids::decode(keepsake::ids::Kind::User, &s.person.id).unwrap();
    assert_eq!(
        found["email"],
        json!(format!("erased-{row}@erased.invalid"))
    );
    assert_eq!(found["name"], json!("Erased user"));
    let tombstone = &found["erasure"];
    assert_eq!(tombstone["erasedBy"], json!(app.admin_id));
    assert_eq!(tombstone["reason"], json!("GDPR request from [erased]"));
    assert_eq!(
        (
            tombstone["attachments"].clone(),
            tombstone["blobs"].clone(),
            tombstone["bytes"].clone()
        ),
        (json!(2), json!(1), json!(3_000))
    );
    assert_eq!(tombstone["erasedAt"], report["erasedAt"]);
    // The log keeps its entries, reasons rewritten in place.
    let logged = app
        .admin()
        .ok(
            "query($d: ID!) { deletion(id: $d) { reason } }",
            json!({ "d": s.user_deletion.clone().unwrap() }),
            "deletion",
        )
        .await;
    assert_eq!(
        logged["reason"],
        json!("requested by [erased] via ticket 12")
    );
    // Their files: placeholders, no bytes.
    let files = app.admin().attachments_with_deleted(&s.person.id).await;
    assert_eq!(files.len(), 2);
    let content = app
        .admin()
        .ok(
            "query($o: ID!) { attachments(ownerId: $o, includeDeleted: true) { nodes { filename contentType sha256 sizeBytes } } }",
            json!({ "o": s.person.id }),
            "attachments",
        )
        .await;
    for file in content["nodes"].as_array().unwrap() {
        assert_eq!(file["filename"], json!("erased"));
        assert_eq!(file["contentType"], json!("application/octet-stream"));
        assert_eq!(file["sha256"], Value::Null);
    }

    // Irreversible: neither their deletion nor their attachments' comes back.
    let refused = app
        .admin()
        .try_restore(s.user_deletion.as_ref().unwrap(), None)
        .await;
    assert_error(&refused, "CONFLICT");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("erased"), "{message}");
    let refused = app.admin().try_restore_user(&s.person.id, None).await;
    assert_error(&refused, "CONFLICT");
    let refused = app.admin().try_restore_attachment(&s.files[0], None).await;
    assert_error(&refused, "CONFLICT");
    assert!(!app.admin().user_is_live(&s.person.id).await);

    // The outbox says so, referring to the user's deletion.
    let row_deletion = keepsake::ids::decode(
        keepsake::ids::Kind::Deletion,
        s.user_deletion.as_ref().unwrap(),
    )
    .unwrap();
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM events WHERE type = 'user.erased' AND deletion_id = {row_deletion}")).await,
        1
    );

    // Erasing again: CONFLICT, nothing changed.
    let before = dump(&app);
    let again = erase(&app, &app.admin_token, &s.person.id, "again", false).await;
    assert_error(&again, "CONFLICT");
    assert!(
        again["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already erased")
    );
    assert!(dump(&app) == before, "a refused erasure changes nothing");
    app.assert_invariants().await;
}

async fn a_member_erasing_themself_is_signed_out_and_leaves_no_trace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, false).await;
    let body = erase(
        &app,
        &s.person.token,
        &s.person.id,
        &format!("I, {NAME}, leave"),
        false,
    )
    .await;
    assert_ok(&body);
    let report = &data(&body)["eraseUser"];
    assert_eq!(
        (
            report["attachments"].clone(),
            report["blobs"].clone(),
            report["reasonsRewritten"].clone()
        ),
        (json!(2), json!(1), json!(1)),
        "{report}"
    );

    // Their own erasure deleted them first: the token is refused now.
    let me = app.by(&s.person).send("{ me { id } }", json!({})).await;
    assert_error(&me, "UNAUTHENTICATED");
    assert_forgotten(&app, &s).await;
    let found = app
        .admin()
        .ok(TOMBSTONE, json!({ "id": s.person.id }), "user")
        .await;
    assert!(found["deletedAt"].is_string(), "{found}");
    assert_eq!(found["erasure"]["erasedBy"], json!(s.person.id));
    assert_eq!(found["erasure"]["reason"], json!("I, [erased], leave"));
    // Their deletion (the erasure's cascade) cannot be restored; the email is free at once.
    let refused = app.admin().try_restore_user(&s.person.id, None).await;
    assert_error(&refused, "CONFLICT");
    let again = app
        .admin()
        .try_create_user(json!({ "email": EMAIL, "name": "Someone New", "role": "MEMBER" }))
        .await;
    assert_ok(&again);
}

async fn a_dry_run_changes_nothing_and_reports_what_the_real_run_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, false).await;
    // The file whose bytes are shared is deleted and purged first: its archived copy (with
    // its filename) must go too, and its bytes stay (the other user holds them).
    app.admin()
        .delete_attachment(&s.files[1], Some("old file"))
        .await;
    app.admin().purge("0s", false).await;
    app.admin()
        .delete_user(&s.person.id, Some(&format!("requested by {EMAIL}")))
        .await;
    let before = dump(&app);
    let body = erase(&app, &app.admin_token, &s.person.id, "request 41", true).await;
    assert_ok(&body);
    let dry = data(&body)["eraseUser"].clone();
    assert!(dump(&app) == before, "a dry run changes nothing");
    assert_eq!(dry["dryRun"], json!(true));
    assert_eq!(dry["erasedAt"], Value::Null);

    let body = erase(&app, &app.admin_token, &s.person.id, "request 41", false).await;
    assert_ok(&body);
    let real = data(&body)["eraseUser"].clone();
    for field in [
        "userId",
        "attachments",
        "blobs",
        "bytes",
        "archiveEntries",
        "reasonsRewritten",
    ] {
        assert_eq!(dry[field], real[field], "{field}: dry {dry} real {real}");
    }
    assert_eq!(real["attachments"], json!(1), "{real}");
    assert_eq!(real["blobs"], json!(1), "{real}");
    assert_eq!(real["archiveEntries"], json!(1), "{real}");
    assert_eq!(real["reasonsRewritten"], json!(2), "{real}");
    assert_forgotten(&app, &s).await;
}

async fn refusals_change_nothing_and_say_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, false).await;
    let other = app.member("bystander@example.com").await;
    let support = app.user("support@example.com", "SUPPORT").await;
    let unknown = keepsake::ids::encode(keepsake::ids::Kind::User, 999_999);
    let before = dump(&app);
    let cases = [
        (
            erase(&app, &app.admin_token, &unknown, "why", false).await,
            "NOT_FOUND",
        ),
        (
            erase(&app, &other.token, &s.person.id, "why", false).await,
            "FORBIDDEN",
        ),
        (
            erase(&app, &other.token, &s.person.id, "why", true).await,
            "FORBIDDEN",
        ),
        (
            erase(&app, &support.token, &s.person.id, "why", false).await,
            "FORBIDDEN",
        ),
        (
            erase(&app, &app.admin_token, &s.person.id, "   ", false).await,
            "BAD_USER_INPUT",
        ),
        (
            erase(
                &app,
                &app.admin_token,
                &s.person.id,
                &"x".repeat(501),
                false,
            )
            .await,
            "BAD_USER_INPUT",
        ),
    ];
    for (body, code) in &cases {
        assert_error(body, code);
        assert_eq!(data(body), &Value::Null, "{body}");
        assert!(!body["errors"][0]["message"].as_str().unwrap().is_empty());
    }
    assert!(dump(&app) == before, "no refusal changed anything");
    assert!(app.admin().user_is_live(&s.person.id).await);
    app.assert_invariants().await;
}

async fn check_names_what_an_erasure_left_behind_and_fix_removes_the_blob(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    assert_ok(&erase(&app, &app.admin_token, &s.person.id, "request", false).await);
    // What a crash between the commit and the blob's removal leaves: the tombstone
    // committed, the unique blob still in the store.
    std::fs::write(blob(&app, &s.unique), &s.unique).unwrap();
    let found = app.run(&["check"]).await;
    let said = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("orphan-blob: blob {}", sha256(&s.unique))),
        "{said}"
    );
    succeeded(&app.run(&["check", "--fix"]).await);
    assert!(!blob(&app, &s.unique).exists(), "--fix removed it");
    assert!(blob(&app, &s.shared).exists());
    succeeded(&app.run(&["check"]).await);

    // Planted violations are named: personal data back on an erased user and a file of
    // theirs, a placeholder email with no tombstone.
    let row = keepsake::ids::decode(keepsake::ids::Kind::User, &s.person.id).unwrap();
    let bystander = app.member("bystander@example.com").await;
    let bystander_row = keepsake::ids::decode(keepsake::ids::Kind::User, &bystander.id).unwrap();
    app.execute_sql(&[
        format!("UPDATE users SET name = 'Back Again', name_folded = 'back again' WHERE id = {row}"),
        format!("UPDATE attachments SET filename = 'back.txt', filename_folded = 'back.txt' WHERE owner_id = {row}"),
        format!("UPDATE users SET email = 'erased-{bystander_row}@erased.invalid', email_folded = 'erased-{bystander_row}@erased.invalid' WHERE id = {bystander_row}"),
    ])
    .await;
    // And the erasure's event dropped.
    app.execute_sql(&["DELETE FROM events WHERE type = 'user.erased'"])
        .await;
    let violations = keepsake::soft_delete::check::check(&app.state.db)
        .await
        .unwrap();
    let kinds: Vec<&str> = violations.iter().map(|v| v.kind).collect();
    for kind in [
        "erased-user-holds-personal-data",
        "erased-attachment-holds-personal-data",
        "erasure-without-tombstone",
        "erasure-without-event",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {violations:#?}");
    }
    assert!(
        violations
            .iter()
            .any(|v| v.kind == "erasure-without-tombstone" && v.message.contains(&bystander.id)),
        "{violations:#?}"
    );
}

async fn a_purge_after_an_erasure_keeps_the_tombstone_and_archives_nothing_of_theirs(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    assert_ok(&erase(&app, &app.admin_token, &s.person.id, "request", false).await);
    let report = app.admin().purge("0s", false).await;
    assert_eq!(report["users"], json!(1), "{report}");
    assert_eq!(report["attachments"], json!(2), "{report}");
    let row = keepsake::ids::decode(keepsake::ids::Kind::User, &s.person.id).unwrap();
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM users WHERE id = {row}")
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM erasures WHERE user_id = {row}")
        )
        .await,
        1,
        "the tombstone outlives the row"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM archive").await,
        0,
        "nothing of theirs archived"
    );
    app.assert_invariants().await;
    succeeded(&app.run(&["check"]).await);
    assert!(!holds(&dump(&app), MARK));
}
