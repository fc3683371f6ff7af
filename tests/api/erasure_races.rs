//! `eraseUser` racing a restore, a purge and an upload of the same user, each interleaving
//! forced (one request parks inside its transaction, the other starts then): all or nothing,
//! nothing of the person left in a dump, `keepsake check` clean. And the trash page's own
//! query shows an erased entry as erased.

use reqwest::StatusCode;
use serde_json::json;

use crate::content::{put, text};
use crate::erasure::{MARK, assert_forgotten, blob, dump, erase, holds, person, setup};
use crate::helpers::{
    Backend, Gate, TestApp, assert_error, assert_ok, data, id_of, on_both_backends, race,
};

on_both_backends!(
    an_erasure_racing_a_restore_of_the_users_deletion_makes_the_restore_refuse,
    a_restore_racing_an_erasure_comes_first_and_the_erasure_takes_the_live_user,
    an_erasure_racing_a_purge_deletes_what_the_purge_archived,
    an_upload_racing_an_erasure_of_its_owner_leaves_no_blob_behind,
    the_trash_page_shows_an_erased_entry_as_erased,
    a_page_of_users_reads_their_erasures_in_one_statement,
);

/// The gate an erasure parks at: as it writes the user's placeholder email, holding the
/// user's deletion, the user and their attachments.
async fn erasure_gate(app: &TestApp) -> Gate {
    Gate::install(app, "BEFORE UPDATE", "users", "NEW.email LIKE 'erased-%'").await
}

async fn an_erasure_racing_a_restore_of_the_users_deletion_makes_the_restore_refuse(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    let deletion = s.user_deletion.clone().unwrap();
    let raced = race(
        &app,
        erasure_gate(&app).await,
        erase(&app, &app.admin_token, &s.person.id, "request", false),
        app.admin().try_restore(&deletion, None),
    )
    .await;
    assert_ok(&raced.first);
    assert_error(&raced.second, "CONFLICT");
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the restore waits for the erasure's lock on the deletion"
        );
    }
    assert!(!app.admin().user_is_live(&s.person.id).await);
    assert_forgotten(&app, &s).await;
}

async fn a_restore_racing_an_erasure_comes_first_and_the_erasure_takes_the_live_user(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    let deletion = s.user_deletion.clone().unwrap();
    // The restore parks as it marks its deletion restored, holding the deletion.
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "deletions",
        "OLD.restored_at IS NULL AND NEW.restored_at IS NOT NULL",
    )
    .await;
    let raced = race(
        &app,
        gate,
        app.admin().try_restore(&deletion, None),
        erase(&app, &app.admin_token, &s.person.id, "request", false),
    )
    .await;
    assert_ok(&raced.first);
    assert_ok(&raced.second);
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the erasure waits for the restore's lock on the deletion"
        );
    }
    // The erasure found the user live again: it deleted them (and both files) first.
    let report = &data(&raced.second)["eraseUser"];
    assert_eq!(report["attachments"], json!(2), "{report}");
    assert!(!app.admin().user_is_live(&s.person.id).await);
    let after = app.admin().attachments_with_deleted(&s.person.id).await;
    assert!(after.iter().all(|a| !a["deletedAt"].is_null()), "{after:?}");
    assert_forgotten(&app, &s).await;
}

async fn an_erasure_racing_a_purge_deletes_what_the_purge_archived(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    // The purge parks as it archives the user's attachments, holding their deletion.
    let gate = Gate::install(&app, "AFTER INSERT", "archive", "TRUE").await;
    let raced = race(
        &app,
        gate,
        app.admin().try_purge("0s", false),
        erase(&app, &app.admin_token, &s.person.id, "request", false),
    )
    .await;
    assert_ok(&raced.first);
    assert_ok(&raced.second);
    let report = &data(&raced.second)["eraseUser"];
    if app.is_postgres() {
        // The purge's attachments batch committed first: the erasure waited for it, then
        // deleted the copies it archived (and the user's too, had its batch come first).
        assert!(
            raced.second_waited,
            "the erasure waits for the purge's claim"
        );
        assert!(report["archiveEntries"].as_i64().unwrap() >= 2, "{report}");
    } else {
        // One writer at a time: the purge took every row first; the erasure found the user
        // in the archive and deleted all three copies.
        assert_eq!(report["archiveEntries"], json!(3), "{report}");
        assert_eq!(report["attachments"], json!(0), "{report}");
    }
    // Whatever the purge left (the user, on PostgreSQL) goes with the next one, archiving
    // nothing of theirs.
    app.admin().purge("0s", false).await;
    assert!(
        !holds(&dump(&app), MARK),
        "nothing of theirs is left in a dump"
    );
    assert!(!blob(&app, &s.unique).exists());
    assert!(blob(&app, &s.shared).exists());
    app.assert_invariants().await;
    crate::helpers::succeeded(&app.run(&["check"]).await);
}

async fn an_upload_racing_an_erasure_of_its_owner_leaves_no_blob_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let person = person(&app).await;
    let file = app.attachment(&person, "plinkerton-scan.txt").await;
    let bytes = text(4_000, 9);
    // The upload parks as it points the row at its bytes (the blob is in the store).
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "attachments",
        "OLD.sha256 IS NULL AND NEW.sha256 IS NOT NULL",
    )
    .await;
    let raced = race(
        &app,
        gate,
        put(&app, &person.token, &file, "text/plain", bytes.clone()),
        erase(&app, &app.admin_token, &person.id, "request", false),
    )
    .await;
    assert_eq!(raced.first.0, StatusCode::OK, "{}", raced.first.1);
    assert_ok(&raced.second);
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the erasure waits for the upload's row"
        );
    }
    // The upload committed first: the erasure saw its blob and removed it.
    assert_eq!(
        data(&raced.second)["eraseUser"]["blobs"],
        json!(1),
        "{}",
        raced.second
    );
    assert!(!blob(&app, &bytes).exists(), "no blob of theirs is left");
    assert!(!holds(&dump(&app), MARK));
    app.assert_invariants().await;
    crate::helpers::succeeded(&app.run(&["check"]).await);
}

/// The trash page's query for one entry (`ONE`, with its `NODE` fields, read from
/// `playground/trash.js` itself), run as the admin: an erased user's deletion and their
/// attachments' deletion both say so.
async fn the_trash_page_shows_an_erased_entry_as_erased(backend: Backend) {
    let script = include_str!("../../playground/trash.js");
    let node = script
        .split("const NODE = `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("trash.js's NODE");
    let hold = script
        .split("const HOLD = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("trash.js's HOLD");
    let node = node.replace("${HOLD}", hold);
    let one = format!("query($id: ID!) {{ deletion(id: $id) {{ {node} }} }}");
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, false).await;
    let files = app
        .admin()
        .delete_attachment(&s.files[0], Some("first"))
        .await;
    let user = app.admin().delete_user(&s.person.id, None).await;
    assert_ok(&erase(&app, &app.admin_token, &s.person.id, "request", false).await);
    let entry = app
        .admin()
        .ok(&one, json!({ "id": id_of(&user) }), "deletion")
        .await;
    assert!(entry["user"]["erasure"]["erasedAt"].is_string(), "{entry}");
    let entry = app
        .admin()
        .ok(&one, json!({ "id": id_of(&files) }), "deletion")
        .await;
    let owner = &entry["attachments"]["nodes"][0]["owner"];
    assert!(owner["erasure"]["erasedAt"].is_string(), "{entry}");
    assert_eq!(
        entry["attachments"]["nodes"][0]["filename"],
        json!("erased")
    );
    assert!(
        script.contains("\"erased\""),
        "trash.js marks the entry erased"
    );
}

/// `User.erasure` costs one batched statement for a whole page of users, however many (the
/// page's resolver reads every tombstone ahead, so lists past async-graphql's chunks of 30
/// take no more): the cost model's charge.
async fn a_page_of_users_reads_their_erasures_in_one_statement(backend: Backend) {
    const LIST: &str = "query($n: Int) { users(first: $n, includeDeleted: true) { nodes { id erasure { erasedAt } } } }";
    let app = TestApp::spawn(backend).await;
    let s = setup(&app, true).await;
    assert_ok(&erase(&app, &app.admin_token, &s.person.id, "request", false).await);
    let mut users = 3; // the admin, the person, the other member
    let mut measured = Vec::new();
    for n in [3, 40] {
        while users < n {
            app.member(&format!("user{users}@example.com")).await;
            users += 1;
        }
        let before = app.statements().await;
        let without = app
            .as_admin(
                &LIST.replace(" erasure { erasedAt }", ""),
                json!({ "n": n }),
            )
            .await;
        let middle = app.statements().await;
        let body = app.as_admin(LIST, json!({ "n": n })).await;
        assert_ok(&without);
        measured.push(app.statements().await - middle - (middle - before));
        assert_ok(&body);
        let nodes = data(&body)["users"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n as usize);
        let erased: Vec<_> = nodes.iter().filter(|u| u["erasure"].is_object()).collect();
        assert_eq!(erased.len(), 1, "{body}");
        assert_eq!(erased[0]["id"], json!(s.person.id));
    }
    // One statement more than the page without them, for 3 users or 40.
    assert_eq!(
        measured,
        vec![1.0, 1.0],
        "statements the tombstones add for 3 and 40 users"
    );
}

/// A real crash between an erasure's commit and its removal of the blobs: the server parks at
/// the unique blob's lock (the test holds it; the erasure has committed) and is SIGKILLed
/// there. The tombstone stands, nothing of the person is in a dump, and their bytes stay in
/// the store as an orphan: `keepsake check` reports it and `--fix` removes it. PostgreSQL
/// only: the blob's lock is an advisory lock there (`content.rs` has the same for a purge).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_killing_an_erasure_before_its_blob_removal_leaves_an_orphan_check_removes() {
    use sea_orm::ConnectionTrait as _;
    let app = TestApp::spawn(Backend::postgres()).await;
    let s = setup(&app, true).await;
    let sha256 = crate::content::sha256(&s.unique);
    let holder = crate::helpers::raw_connection(&app.db.url).await.unwrap();
    holder
        .execute_unprepared(&format!(
            "SELECT pg_advisory_lock(hashtextextended('{sha256}', 14))"
        ))
        .await
        .unwrap();
    let mut server = crate::crash::Server::start_on_store(&app).await;
    let request = app
        .http
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({
            "query": crate::erasure::ERASE,
            "variables": { "id": s.person.id, "reason": "request", "dry": false },
        }))
        .send();
    let pending = tokio::spawn(request);
    let waiting = "SELECT COUNT(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let mut parked = false;
    for _ in 0..400 {
        if crate::erasure::count(&app, "SELECT COUNT(*) FROM erasures").await == 1
            && crate::erasure::count(&app, waiting).await >= 1
        {
            parked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        parked,
        "the erasure never committed and reached the blob's lock"
    );
    server.kill();
    let _ = pending.await;
    holder
        .execute_unprepared(&format!(
            "SELECT pg_advisory_unlock(hashtextextended('{sha256}', 14))"
        ))
        .await
        .unwrap();
    holder.close().await.unwrap();

    assert!(
        blob(&app, &s.unique).exists(),
        "the server died before removing the blob"
    );
    assert!(
        !holds(&dump(&app), MARK),
        "the committed erasure left nothing in a dump"
    );
    let found = app.run(&["check"]).await;
    let said = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("orphan-blob: blob {sha256}")),
        "{said}"
    );
    crate::helpers::succeeded(&app.run(&["check", "--fix"]).await);
    assert!(!blob(&app, &s.unique).exists(), "--fix removed it");
    assert!(blob(&app, &s.shared).exists());
    crate::helpers::succeeded(&app.run(&["check"]).await);
}
