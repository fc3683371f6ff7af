//! Legal holds: while a user is held, no purge (mutation, CLI or the retention job) removes
//! the user or any of their attachments, and each purge says how many rows it kept for a
//! hold; admins alone place and release holds, members learn nothing of them, every hold
//! and release stays in the log, and a hold placed while a purge runs is never lost to it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    Backend, Gate, TestApp, TestUser, assert_error, assert_ok, data, on_both_backends, race,
    succeeded,
};

const PLACE: &str = "mutation($u: ID!, $r: String!) { placeLegalHold(userId: $u, reason: $r) { id deletedAt legalHold { reason placedAt placedBy { id } } } }";
const RELEASE: &str = "mutation($u: ID!, $r: String!) { releaseLegalHold(userId: $u, reason: $r) { id legalHold { reason } } }";
const HOLDS: &str = "query($u: ID!) { user(id: $u, includeDeleted: true) { legalHold { reason placedAt placedBy { id } } legalHolds { reason placedBy { id } releasedAt releasedBy { id } releaseReason } } }";
const PURGE: &str = "mutation($o: String!, $d: Boolean!) { purgeDeleted(olderThan: $o, dryRun: $d) { users attachments archived held dryRun } }";

async fn place(app: &TestApp, token: &str, user: &str, reason: &str) -> Value {
    app.graphql(Some(token), PLACE, json!({ "u": user, "r": reason }))
        .await
}

async fn release(app: &TestApp, token: &str, user: &str, reason: &str) -> Value {
    app.graphql(Some(token), RELEASE, json!({ "u": user, "r": reason }))
        .await
}

/// The admin's view of user `id`'s holds: `{ legalHold legalHolds }`.
async fn holds_of(app: &TestApp, id: &str) -> Value {
    let body = app.as_admin(HOLDS, json!({ "u": id })).await;
    assert_ok(&body);
    data(&body)["user"].clone()
}

/// Every deleted row purged through the service, in batches of 500.
async fn purge_everything(app: &TestApp) -> keepsake::service::purge::PurgeReport {
    keepsake::service::purge::purge(
        &app.state.db,
        &app.state.services.storage,
        Duration::ZERO,
        false,
        500,
        |_, _| {},
    )
    .await
    .expect("purge runs")
}

async fn purge(app: &TestApp, dry_run: bool) -> Value {
    let body = app
        .as_admin(PURGE, json!({ "o": "0s", "d": dry_run }))
        .await;
    assert_ok(&body);
    data(&body)["purgeDeleted"].clone()
}

/// A member with three attachments, one deleted by themself first, then deleted by the
/// admin with the other two: the user and three deleted attachments.
async fn deleted_member(app: &TestApp, email: &str) -> (TestUser, Vec<String>) {
    let user = app.member(email).await;
    let mut files = Vec::new();
    for i in 0..3 {
        files.push(app.attachment(&user, &format!("evidence-{i}.txt")).await);
    }
    app.by(&user)
        .delete_attachment(&files[0], Some("tidy"))
        .await;
    app.admin().delete_user(&user.id, Some("closed")).await;
    (user, files)
}

async fn survives(app: &TestApp, user: &TestUser, files: &[String]) {
    assert!(
        !app.admin().user_with_deleted(&user.id).await.is_null(),
        "the held user is still there"
    );
    for file in files {
        assert!(
            !app.admin().attachment_with_deleted(file).await.is_null(),
            "the held user's attachment {file} is still there"
        );
    }
}

async fn a_held_user_survives_every_purge_until_the_hold_is_released(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, files) = deleted_member(&app, "ada@example.com").await;
    let body = place(&app, &app.admin_token, &ada.id, "litigation 2026-117").await;
    assert_ok(&body);
    let placed = &data(&body)["placeLegalHold"];
    assert_eq!(placed["id"], ada.id.as_str(), "{body}");
    assert!(!placed["deletedAt"].is_null(), "a deleted user: {body}");
    assert_eq!(placed["legalHold"]["reason"], "litigation 2026-117");
    assert_eq!(placed["legalHold"]["placedBy"]["id"], app.admin_id.as_str());
    // Someone not held, deleted too: the purge goes on for them.
    let (bob, _) = deleted_member(&app, "bob@example.com").await;

    let dry = purge(&app, true).await;
    assert_eq!(
        dry,
        json!({ "users": 1, "attachments": 3, "archived": 0, "held": 4, "dryRun": true })
    );
    let purged = purge(&app, false).await;
    assert_eq!(
        purged,
        json!({ "users": 1, "attachments": 3, "archived": 4, "held": 4, "dryRun": false })
    );
    assert!(app.admin().user_with_deleted(&bob.id).await.is_null());
    survives(&app, &ada, &files).await;

    // The command line keeps them too, and says so.
    let stdout = succeeded(&app.run(&["purge", "--older-than", "0s"]).await);
    assert!(
        stdout.contains("held: 4 rows kept because their user is under a legal hold"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("purged 0 users and 0 attachments"),
        "{stdout}"
    );
    survives(&app, &ada, &files).await;

    // And so does the retention job.
    let report = keepsake::service::purge::retention_tick(
        &app.state.db,
        &app.state.services.storage,
        keepsake::service::purge::Retention {
            rows: Some(Duration::ZERO),
            events: Duration::from_secs(3600),
            archive: None,
        },
    )
    .await
    .expect("the retention tick runs")
    .expect("no other server holds the lock");
    let report = report.purge.expect("rows are purged on a schedule");
    assert_eq!((report.users, report.attachments, report.held), (0, 0, 4));
    survives(&app, &ada, &files).await;
    app.assert_invariants().await;

    // Released, the next purge removes them.
    let body = release(&app, &app.admin_token, &ada.id, "case settled").await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["releaseLegalHold"]["legalHold"],
        Value::Null,
        "{body}"
    );
    let purged = purge(&app, false).await;
    assert_eq!(
        purged,
        json!({ "users": 1, "attachments": 3, "archived": 4, "held": 0, "dryRun": false })
    );
    assert!(app.admin().user_with_deleted(&ada.id).await.is_null());
    // The log of holds outlives the user it names.
    let rows = app
        .execute_sql(&[format!(
            "UPDATE legal_holds SET reason = reason WHERE user_id = {}",
            keepsake::ids::decode(keepsake::ids::Kind::User, &ada.id).unwrap()
        )])
        .await;
    assert_eq!(rows, [1], "the released hold is still logged");
    app.assert_invariants().await;
}

async fn holds_and_releases_are_logged_with_who_when_and_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let root = app.user("root@example.com", "ADMIN").await;
    assert_ok(&place(&app, &app.admin_token, &ada.id, "first case").await);
    assert_ok(&release(&app, &root.token, &ada.id, "first case closed").await);
    assert_ok(&place(&app, &root.token, &ada.id, "second case").await);
    let holds = holds_of(&app, &ada.id).await;
    assert_eq!(holds["legalHold"]["reason"], "second case", "{holds}");
    assert_eq!(holds["legalHold"]["placedBy"]["id"], root.id.as_str());
    let history = holds["legalHolds"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{holds}");
    assert_eq!(
        history[0],
        json!({ "reason": "second case", "placedBy": { "id": root.id },
                "releasedAt": null, "releasedBy": null, "releaseReason": null })
    );
    assert_eq!(history[1]["reason"], "first case");
    assert_eq!(history[1]["placedBy"]["id"], app.admin_id.as_str());
    assert_eq!(history[1]["releasedBy"]["id"], root.id.as_str());
    assert_eq!(history[1]["releaseReason"], "first case closed");
    assert!(history[1]["releasedAt"].is_string(), "{holds}");
}

async fn refusals_say_why_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let sam = app.user("sam@example.com", "SUPPORT").await;
    let admin = app.admin_token.clone();
    // Releasing when there is no hold.
    let body = release(&app, &admin, &ada.id, "nothing").await;
    assert_error(&body, "CONFLICT");
    assert!(
        body.to_string().contains("not under a legal hold"),
        "{body}"
    );
    assert_ok(&place(&app, &admin, &ada.id, "case").await);
    // Twice.
    let body = place(&app, &admin, &ada.id, "case again").await;
    assert_error(&body, "CONFLICT");
    assert!(
        body.to_string().contains("already under a legal hold"),
        "{body}"
    );
    // A reason is required, and bounded like every reason.
    for reason in ["", "   ", &"x".repeat(501)] {
        assert_error(
            &place(&app, &admin, &ada.id, reason).await,
            "BAD_USER_INPUT",
        );
        assert_error(
            &release(&app, &admin, &ada.id, reason).await,
            "BAD_USER_INPUT",
        );
    }
    // An id no user has.
    let nobody = keepsake::ids::encode(keepsake::ids::Kind::User, 999_999);
    assert_error(&place(&app, &admin, &nobody, "case").await, "NOT_FOUND");
    assert_error(&release(&app, &admin, &nobody, "case").await, "NOT_FOUND");
    // Members and support may do neither, held or not, and learn nothing from the answer.
    let bob = app.member("bob@example.com").await;
    for who in [&ada, &sam, &bob] {
        let mut answers = Vec::new();
        for target in [&ada.id, &bob.id] {
            for body in [
                place(&app, &who.token, target, "mine").await,
                release(&app, &who.token, target, "mine").await,
                place(&app, &who.token, target, "").await,
            ] {
                assert_error(&body, "FORBIDDEN");
                answers.push(body["errors"][0]["message"].clone());
            }
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    }
    let holds = holds_of(&app, &ada.id).await;
    assert_eq!(holds["legalHold"]["reason"], "case", "{holds}");
    assert_eq!(holds["legalHolds"].as_array().unwrap().len(), 1, "{holds}");
    assert_eq!(holds_of(&app, &bob.id).await["legalHolds"], json!([]));
}

async fn members_never_see_a_hold_and_support_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let sam = app.user("sam@example.com", "SUPPORT").await;
    assert_ok(&place(&app, &app.admin_token, &ada.id, "case").await);
    let query = "query($u: ID!) { user(id: $u) { id legalHold { reason } } }";
    let history = "query($u: ID!) { user(id: $u) { id legalHolds { reason } } }";
    // A member, about themself or anyone, held or not: the same null and FORBIDDEN.
    let mut answers = Vec::new();
    for who in [&ada, &bob] {
        for target in [&ada, &bob] {
            let body = app
                .graphql(Some(&who.token), query, json!({ "u": target.id }))
                .await;
            assert_eq!(data(&body)["user"]["legalHold"], Value::Null, "{body}");
            assert_error(&body, "FORBIDDEN");
            answers.push(body["errors"].clone());
            let body = app
                .graphql(Some(&who.token), history, json!({ "u": target.id }))
                .await;
            assert_eq!(data(&body)["user"], Value::Null, "{body}");
            assert_error(&body, "FORBIDDEN");
        }
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    let body = app
        .graphql(
            Some(&ada.token),
            "{ me { legalHold { reason } } }",
            json!({}),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
    assert!(!body.to_string().contains("case"), "{body}");
    // Support reads it.
    let body = app
        .graphql(Some(&sam.token), query, json!({ "u": ada.id }))
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["user"]["legalHold"]["reason"], "case");
}

async fn a_held_user_is_still_deleted_and_restored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    assert_ok(&place(&app, &app.admin_token, &ada.id, "case").await);
    let deletion = app.admin().delete_user(&ada.id, Some("closed")).await;
    assert_eq!(deletion["cascadeCount"], 1);
    app.admin()
        .restore(deletion["id"].as_str().unwrap(), None)
        .await;
    assert!(app.admin().user_is_live(&ada.id).await);
    assert!(app.admin().attachment_is_live(&file).await);
    assert_eq!(
        holds_of(&app, &ada.id).await["legalHold"]["reason"],
        "case",
        "the hold stays through a delete and a restore"
    );
    app.assert_invariants().await;
}

async fn a_purged_row_that_was_held_is_named_by_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _) = deleted_member(&app, "ada@example.com").await;
    purge(&app, false).await;
    app.assert_invariants().await;
    // A hold the purge could not have missed: placed an hour before it, never released.
    let row = keepsake::ids::decode(keepsake::ids::Kind::User, &ada.id).unwrap();
    let at = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let at = if app.is_postgres() {
        format!("'{at}'::timestamptz")
    } else {
        format!("'{at}'")
    };
    app.execute_sql(&[format!(
        "INSERT INTO legal_holds (user_id, reason, placed_at, placed_by) \
         VALUES ({row}, 'planted', {at}, 1)"
    )])
    .await;
    let violations = keepsake::soft_delete::check::check(&app.state.db)
        .await
        .unwrap();
    let held: Vec<_> = violations
        .iter()
        .filter(|v| v.kind == "held-row-purged")
        .collect();
    // The user and their three attachments.
    assert_eq!(held.len(), 4, "{violations:#?}");
    assert!(
        held.iter().all(|v| v.message.contains(&ada.id)),
        "{held:#?}"
    );
    assert!(
        held.iter()
            .any(|v| v.message.starts_with(&format!("user {}", ada.id))),
        "{held:#?}"
    );
}

/// A purge that already found a deleted user's rows waits for a hold placed meanwhile (the
/// hold locks the deletions the purge claims), then reads them again and skips them all;
/// their deletion is left as it was, restorable.
async fn a_hold_placed_while_a_purge_found_the_rows_wins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, files) = deleted_member(&app, "ada@example.com").await;
    // The hold parks after its insert, its locks taken, before it commits.
    let gate = Gate::install(&app, "AFTER INSERT", "legal_holds", "TRUE").await;
    let purge_all = purge_everything(&app);
    let raced = race(
        &app,
        gate,
        place(&app, &app.admin_token, &ada.id, "case"),
        purge_all,
    )
    .await;
    assert_ok(&raced.first);
    if app.is_postgres() {
        assert!(raced.second_waited, "the purge must wait for the hold");
    }
    assert_eq!((raced.second.users, raced.second.attachments), (0, 0));
    survives(&app, &ada, &files).await;
    let claimed = app
        .execute_sql(&["UPDATE deletions SET reason = reason WHERE purge_started_at IS NOT NULL"])
        .await;
    assert_eq!(claimed, [0], "no deletion of the held user is left claimed");
    app.assert_invariants().await;
    // Its deletion can still be undone.
    app.admin().restore_user(&ada.id, None).await;
}

/// The other order: a purge that claimed a deleted user's deletion finishes its batch first;
/// the hold placed meanwhile waits for it, then finds no user.
async fn a_purge_that_claimed_the_rows_first_finishes_and_the_hold_finds_no_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _) = deleted_member(&app, "ada@example.com").await;
    // The user's batch parks at its erasure, the deletion claimed and the user archived.
    let gate = Gate::install(&app, "BEFORE DELETE", "users", "TRUE").await;
    let purge_all = purge_everything(&app);
    let raced = race(
        &app,
        gate,
        purge_all,
        place(&app, &app.admin_token, &ada.id, "case"),
    )
    .await;
    if app.is_postgres() {
        assert!(raced.second_waited, "the hold must wait for the purge");
    }
    assert_eq!((raced.first.users, raced.first.attachments), (1, 3));
    assert_error(&raced.second, "NOT_FOUND");
    assert!(app.admin().user_with_deleted(&ada.id).await.is_null());
    app.assert_invariants().await;
}

/// `legalHold` on a page of users is one batched statement, whatever the page's size; the
/// mutations run no more statements than the cost model charges them.
async fn holds_are_read_in_one_batch_and_cost_what_the_model_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let query = "{ users(first: 100) { nodes { id legalHold { reason placedBy { id } } legalHolds { reason } } } }";
    let mut users = Vec::new();
    let mut costs = Vec::new();
    for n in [2, 12] {
        while users.len() < n {
            let user = app.member(&format!("u{}@example.com", users.len())).await;
            let before = app.statements().await;
            assert_ok(&place(&app, &app.admin_token, &user.id, "case").await);
            // The token, what `placeLegalHold` is charged (6), the answer's hold and placer.
            let ran = app.statements().await - before;
            assert!(ran <= 1.0 + 6.0 + 2.0, "placeLegalHold ran {ran}");
            users.push(user);
        }
        let before = app.statements().await;
        let body = app.as_admin(query, json!({})).await;
        let ran = app.statements().await - before;
        assert_ok(&body);
        let held = data(&body)["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["legalHold"]["placedBy"]["id"] == app.admin_id.as_str())
            .count();
        assert_eq!(held, n, "{body}");
        costs.push(ran);
    }
    assert_eq!(costs[0], costs[1], "{costs:?}");
    // The token, the page, the holds, their history, the placers.
    assert!(costs[0] <= 5.0, "{costs:?}");
}

/// The text of `js` between `start` and the next `end`.
fn between<'a>(js: &'a str, start: &str, end: &str) -> &'a str {
    let from = js
        .find(start)
        .unwrap_or_else(|| panic!("trash.js has no {start:?}"))
        + start.len();
    let to = js[from..].find(end).expect("its end") + from;
    &js[from..to]
}

/// The trash page's script marks a held entry with its reason and gives admins a button to
/// place or release the hold after a reason prompt: the documents it sends, taken from the
/// script as served, run against this server and show the hold.
async fn the_trash_page_shows_holds_and_lets_admins_place_and_release_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sam = app.user("sam@example.com", "SUPPORT").await;
    let (ada, _) = deleted_member(&app, "ada@example.com").await;
    let js = reqwest::get(format!("{}/trash.js", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for shown in [
        "prompt(",
        "Reason (required)",
        "status held",
        "Legal hold — “${held.reason}”",
        "\"Place hold\"",
        "\"Release hold\"",
        "state.me.role === \"ADMIN\" && who && who.id",
        "kept under a legal hold",
    ] {
        assert!(js.contains(shown), "trash.js lacks {shown:?}");
    }
    let place_doc = between(
        &js,
        "? `mutation($u: ID!, $r: String!) { placeLegalHold",
        "`",
    );
    let release_doc = between(
        &js,
        ": `mutation($u: ID!, $r: String!) { releaseLegalHold",
        "`",
    );
    let place_doc = format!("mutation($u: ID!, $r: String!) {{ placeLegalHold{place_doc}");
    let release_doc = format!("mutation($u: ID!, $r: String!) {{ releaseLegalHold{release_doc}");
    let hold = between(&js, "const HOLD = \"", "\";");
    let node = between(&js, "const NODE = `", "`;").replace("${HOLD}", hold);
    let log = format!("{{ deletions(first: 20) {{ nodes {{ {node} }} }} }}");
    let purge_doc = between(&js, "const PURGE = `", "`;");
    // Placed as the page places it, the hold shows on the user's deletion and on the
    // deletion of their attachment, to support as to admins.
    let body = app
        .as_admin(&place_doc, json!({ "u": ada.id, "r": "case 7" }))
        .await;
    assert_ok(&body);
    for token in [&app.admin_token, &sam.token] {
        let body = app.graphql(Some(token), &log, json!({})).await;
        assert_ok(&body);
        let nodes = data(&body)["deletions"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(nodes.len(), 2, "{body}");
        for d in &nodes {
            let who = if d["user"].is_null() {
                d["attachments"]["nodes"][0]["owner"].clone()
            } else {
                d["user"].clone()
            };
            assert_eq!(who["id"], ada.id.as_str(), "{body}");
            assert_eq!(who["legalHold"]["reason"], "case 7", "{body}");
        }
    }
    let body = app
        .as_admin(purge_doc, json!({ "older": "0s", "dry": true }))
        .await;
    assert_eq!(data(&body)["purgeDeleted"]["held"], 4, "{body}");
    let body = app
        .as_admin(&release_doc, json!({ "u": ada.id, "r": "closed" }))
        .await;
    assert_ok(&body);
    let body = app.as_admin(&log, json!({})).await;
    assert_eq!(
        data(&body)["deletions"]["nodes"][0]["user"]["legalHold"],
        Value::Null,
        "{body}"
    );
}

on_both_backends!(
    a_held_user_survives_every_purge_until_the_hold_is_released,
    holds_and_releases_are_logged_with_who_when_and_why,
    refusals_say_why_and_change_nothing,
    members_never_see_a_hold_and_support_does,
    a_held_user_is_still_deleted_and_restored,
    a_purged_row_that_was_held_is_named_by_check,
    a_hold_placed_while_a_purge_found_the_rows_wins,
    a_purge_that_claimed_the_rows_first_finishes_and_the_hold_finds_no_user,
    holds_are_read_in_one_batch_and_cost_what_the_model_says,
    the_trash_page_shows_holds_and_lets_admins_place_and_release_them,
    erasing_a_held_user_is_refused_naming_the_hold_until_it_is_released,
);

/// Erasure answers `CONFLICT` naming the hold (its reason) and changes nothing, deleted or
/// live; once the hold is released the same erasure goes through.
async fn erasing_a_held_user_is_refused_naming_the_hold_until_it_is_released(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (held, _files) = deleted_member(&app, "held-for-court@example.com").await;
    let live = app.member("live-held@example.com").await;
    // The deleted member's token no longer signs in; the live one erases themself.
    for (user, reason, own) in [
        (&held, "case 2026-117", false),
        (&live, "case 2026-118", true),
    ] {
        assert_ok(&place(&app, &app.admin_token, &user.id, reason).await);
        let before = holds_of(&app, &user.id).await;
        let tokens = if own {
            vec![app.admin_token.as_str(), user.token.as_str()]
        } else {
            vec![app.admin_token.as_str()]
        };
        for token in tokens {
            let refused =
                crate::erasure::erase(&app, token, &user.id, "GDPR Art. 17 request", false).await;
            assert_error(&refused, "CONFLICT");
            let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("legal hold") && message.contains(reason),
                "the refusal names the hold: {refused}"
            );
        }
        let dry = crate::erasure::erase(&app, &app.admin_token, &user.id, "GDPR", true).await;
        assert_error(&dry, "CONFLICT");
        // Nothing changed: the hold, the user's email, no tombstone.
        assert_eq!(holds_of(&app, &user.id).await, before);
        let tomb = app
            .as_admin(crate::erasure::TOMBSTONE, json!({ "id": user.id }))
            .await;
        assert_ok(&tomb);
        assert_eq!(data(&tomb)["user"]["erasure"], Value::Null, "{tomb}");
        assert_ne!(data(&tomb)["user"]["email"], Value::Null, "{tomb}");
        assert!(
            !data(&tomb)["user"]["email"]
                .as_str()
                .unwrap_or_default()
                .starts_with("erased-"),
            "{tomb}"
        );

        assert_ok(&release(&app, &app.admin_token, &user.id, "case closed").await);
        let erased =
            crate::erasure::erase(&app, &app.admin_token, &user.id, "GDPR Art. 17", false).await;
        assert_ok(&erased);
        let tomb = app
            .as_admin(crate::erasure::TOMBSTONE, json!({ "id": user.id }))
            .await;
        assert!(
            data(&tomb)["user"]["erasure"]["erasedAt"].is_string(),
            "{tomb}"
        );
    }
}
