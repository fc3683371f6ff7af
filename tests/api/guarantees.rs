//! Guarantees 8–11 tried as an attacker would (issue 8): races forced through a gate, the
//! existence oracles a member could use, rights that follow the current role, hostile
//! strings, restore reasons, and `keepsake check` catching each planted violation.

use keepsake::ids::{self, Kind};
use serde_json::{Value, json};

use crate::helpers::ops::{CREATE_ATTACHMENT, CREATE_USER, DELETE_ATTACHMENT};
use crate::helpers::{
    Backend, Gate, TestApp, TestUser, assert_error, assert_ok, data, error_codes, id_of,
    on_both_backends, race,
};

on_both_backends!(
    a_restore_racing_the_owners_delete_never_leaves_a_live_attachment_under_a_deleted_user,
    an_owners_delete_racing_a_restore_makes_the_restore_refuse_with_parent_deleted,
    a_restore_after_a_purge_began_is_refused_and_the_purge_finishes,
    a_purge_after_a_restore_began_skips_that_deletion,
    two_restores_of_one_deletion_succeed_once,
    a_child_created_while_its_owner_is_being_deleted_is_refused,
    an_owners_delete_waits_for_a_child_being_created_and_cascades_to_it,
    two_deletes_of_one_attachment_log_one_deletion,
    two_creates_of_one_email_give_one_user_and_one_conflict,
    restores_answer_a_member_exactly_as_for_ids_that_never_existed,
    a_member_may_not_change_their_email_whether_or_not_it_is_taken,
    a_demoted_admin_keeps_no_power_over_deletions_of_others_data,
    a_demoted_admin_learns_nothing_of_a_restored_bulk_deletion_of_others_data,
    hostile_strings_are_refused_with_the_field_named_and_change_nothing,
    email_addresses_are_validated,
    restores_record_their_reason_and_stats_count_it,
    keepsake_check_names_every_planted_violation,
);

/// A member with two attachments, the first deleted on its own by the admin: (member,
/// first, second, that deletion).
async fn owner_with_a_deleted_attachment(app: &TestApp) -> (TestUser, String, String, String) {
    let ada = app.member("ada@example.com").await;
    let first = app.attachment(&ada, "first.txt").await;
    let second = app.attachment(&ada, "second.txt").await;
    let deleted = app.admin().delete_attachment(&first, Some("spam")).await;
    (ada, first, second, id_of(&deleted))
}

// ---------------------------------------------------------------------------------------
// Races, forced: the first request parks inside its transaction; the second starts then.

async fn a_restore_racing_the_owners_delete_never_leaves_a_live_attachment_under_a_deleted_user(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (ada, first, _, d1) = owner_with_a_deleted_attachment(&app).await;
    // The restore parks as it marks its deletion restored: it has checked the owner already.
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
        app.admin().try_restore(&d1, None),
        app.admin().try_delete_user(&ada.id, None),
    )
    .await;
    assert_ok(&raced.first);
    assert_ok(&raced.second);
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the owner's delete must wait for the restore's share lock on the owner"
        );
    }
    // The delete came second, so its cascade took the restored attachment too.
    let user_deletion = id_of(&data(&raced.second)["deleteUser"]);
    assert_eq!(data(&raced.second)["deleteUser"]["cascadeCount"], 2);
    let state = app.admin().attachment_with_deleted(&first).await;
    assert!(!state["deletedAt"].is_null(), "{state}");
    assert_eq!(state["deletion"]["id"], user_deletion.as_str(), "{state}");
    app.assert_invariants().await;
}

async fn an_owners_delete_racing_a_restore_makes_the_restore_refuse_with_parent_deleted(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (ada, first, _, d1) = owner_with_a_deleted_attachment(&app).await;
    // The delete parks as it hides the user, holding the user's row lock.
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "users",
        "OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL",
    )
    .await;
    let raced = race(
        &app,
        gate,
        app.admin().try_delete_user(&ada.id, None),
        app.admin().try_restore(&d1, None),
    )
    .await;
    assert_ok(&raced.first);
    assert_error(&raced.second, "PARENT_DELETED");
    if app.is_postgres() {
        assert!(raced.second_waited, "the restore must wait for the owner");
    }
    let state = app.admin().attachment_with_deleted(&first).await;
    assert_eq!(state["deletion"]["id"], d1.as_str(), "{state}");
    assert!(app.admin().deletion(&d1).await["restoredAt"].is_null());
    app.assert_invariants().await;
}

/// A deleted user with `n` attachments: (user, their deletion).
async fn deleted_user_with_attachments(app: &TestApp, n: usize) -> (TestUser, String) {
    let ada = app.member("ada@example.com").await;
    for i in 0..n {
        app.attachment(&ada, &format!("file{i}.txt")).await;
    }
    let deleted = app.admin().delete_user(&ada.id, None).await;
    (ada, id_of(&deleted))
}

/// Purges everything deleted, in batches of `batch`, as `keepsake purge` does.
async fn purge_all(app: &TestApp, batch: u64) -> keepsake::service::purge::PurgeReport {
    keepsake::service::purge::purge(
        &app.state.db,
        &app.state.services.storage,
        std::time::Duration::ZERO,
        false,
        batch,
        |_, _| {},
    )
    .await
    .expect("purge runs")
}

async fn a_restore_after_a_purge_began_is_refused_and_the_purge_finishes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, d) = deleted_user_with_attachments(&app, 6).await;
    // The purge parks after archiving its first batch (of 2 rows), before committing it.
    let gate = Gate::install(&app, "AFTER INSERT", "archive", "TRUE").await;
    let raced = race(
        &app,
        gate,
        purge_all(&app, 2),
        app.admin().try_restore(&d, None),
    )
    .await;
    if app.is_postgres() {
        assert!(raced.second_waited, "the restore must wait for the purge");
    }
    assert_eq!(raced.first.attachments, 6);
    assert_eq!(raced.first.users, 1);
    assert_error(&raced.second, "CONFLICT");
    let message = raced.second["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("purge"), "{message}");
    let logged = app.admin().deletion(&d).await;
    assert!(logged["restoredAt"].is_null(), "{logged}");
    assert!(!logged["purgeStartedAt"].is_null(), "{logged}");
    assert!(!logged["purgedAt"].is_null(), "{logged}");
    app.assert_invariants().await;
}

async fn a_purge_after_a_restore_began_skips_that_deletion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, d) = deleted_user_with_attachments(&app, 4).await;
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
        app.admin().try_restore(&d, None),
        purge_all(&app, 2),
    )
    .await;
    assert_ok(&raced.first);
    if app.is_postgres() {
        assert!(raced.second_waited, "the purge must wait for the restore");
    }
    assert_eq!(raced.second.users + raced.second.attachments, 0);
    let logged = app.admin().deletion(&d).await;
    assert!(!logged["restoredAt"].is_null(), "{logged}");
    assert!(logged["purgeStartedAt"].is_null(), "{logged}");
    let body = app
        .as_admin(
            "query($o: ID!) { attachments(ownerId: $o) { totalCount } }",
            json!({ "o": ada.id }),
        )
        .await;
    assert_eq!(data(&body)["attachments"]["totalCount"], 4, "{body}");
    app.assert_invariants().await;
}

async fn two_restores_of_one_deletion_succeed_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, d) = deleted_user_with_attachments(&app, 2).await;
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
        app.admin().try_restore(&d, Some("first")),
        app.admin().try_restore(&d, Some("second")),
    )
    .await;
    assert_ok(&raced.first);
    assert_error(&raced.second, "BAD_USER_INPUT");
    assert_eq!(app.admin().deletion(&d).await["restoreReason"], "first");
    app.assert_invariants().await;
}

fn new_attachment(owner: &str) -> Value {
    json!({ "ownerId": owner, "filename": "racing.txt",
            "contentType": "text/plain", "sizeBytes": 1 })
}

async fn a_child_created_while_its_owner_is_being_deleted_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "before.txt").await;
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "users",
        "OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL",
    )
    .await;
    let raced = race(
        &app,
        gate,
        app.admin().try_delete_user(&ada.id, None),
        app.admin().try_create_attachment(new_attachment(&ada.id)),
    )
    .await;
    assert_ok(&raced.first);
    assert_error(&raced.second, "NOT_FOUND");
    if app.is_postgres() {
        assert!(raced.second_waited, "the create must wait for the owner");
    }
    app.assert_invariants().await;
}

async fn an_owners_delete_waits_for_a_child_being_created_and_cascades_to_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "before.txt").await;
    let gate = Gate::install(&app, "AFTER INSERT", "attachments", "TRUE").await;
    let raced = race(
        &app,
        gate,
        app.admin().try_create_attachment(new_attachment(&ada.id)),
        app.admin().try_delete_user(&ada.id, None),
    )
    .await;
    assert_ok(&raced.first);
    assert_ok(&raced.second);
    if app.is_postgres() {
        assert!(raced.second_waited, "the delete must wait for the create");
    }
    assert_eq!(data(&raced.second)["deleteUser"]["cascadeCount"], 2);
    let created = id_of(&data(&raced.first)["createAttachment"]);
    assert!(!app.admin().attachment_with_deleted(&created).await["deletedAt"].is_null());
    app.assert_invariants().await;
}

async fn two_deletes_of_one_attachment_log_one_deletion(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "file.txt").await;
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "attachments",
        "OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL",
    )
    .await;
    let raced = race(
        &app,
        gate,
        app.admin().try_delete_attachment(&file, None),
        app.by(&ada).try_delete_attachment(&file, None),
    )
    .await;
    assert_ok(&raced.first);
    assert_error(&raced.second, "NOT_FOUND");
    assert_eq!(app.admin().log_size().await, 1);
    app.assert_invariants().await;
}

async fn two_creates_of_one_email_give_one_user_and_one_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let input = json!({ "email": "twin@example.com", "name": "Twin" });
    // The first insert parks holding its (uncommitted) index entry; the second waits on it.
    let gate = Gate::install(&app, "AFTER INSERT", "users", "TRUE").await;
    let raced = race(
        &app,
        gate,
        app.admin().try_create_user(input.clone()),
        app.admin().try_create_user(input),
    )
    .await;
    assert_ok(&raced.first);
    assert_error(&raced.second, "CONFLICT");
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the second insert waits on the unique index"
        );
    }
    let body = app.as_admin("{ users { totalCount } }", json!({})).await;
    assert_eq!(
        data(&body)["users"]["totalCount"],
        2,
        "admin + one twin: {body}"
    );
}

// ---------------------------------------------------------------------------------------
// Nothing revealed: what a member may not see answers as what never existed.

/// The error's code and message with every GraphQL id in it replaced by `<id>`.
fn shape(body: &Value) -> (Vec<String>, String) {
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    let masked = message
        .split(' ')
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
            if ids::decode_any(bare).is_ok() {
                "<id>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    (error_codes(body), masked)
}

#[track_caller]
fn assert_same_shape(bodies: &[(&str, Value)]) {
    let (first_case, first) = &bodies[0];
    let expected = shape(first);
    assert_eq!(
        expected.0,
        vec!["NOT_FOUND".to_owned()],
        "{first_case}: {first}"
    );
    for (case, body) in &bodies[1..] {
        assert_eq!(
            shape(body),
            expected,
            "{case} answers differently from {first_case}: {body} vs {first}"
        );
        assert!(data(body).is_null(), "{case}: {body}");
    }
}

async fn restores_answer_a_member_exactly_as_for_ids_that_never_existed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let eve = app.member("eve@example.com").await;
    let bob = app.member("bob@example.com").await;
    let bob_live = app.attachment(&bob, "live.txt").await;
    let bob_by_admin = app.attachment(&bob, "by-admin.txt").await;
    let bob_by_bob = app.attachment(&bob, "by-bob.txt").await;
    let admin_deletion = id_of(&app.admin().delete_attachment(&bob_by_admin, None).await);
    let bob_deletion = id_of(&app.by(&bob).delete_attachment(&bob_by_bob, None).await);
    // A third member, deleted with an attachment: rows under a deleted user.
    let gone = app.member("gone@example.com").await;
    let gone_file = app.attachment(&gone, "gone.txt").await;
    let gone_deletion = id_of(&app.admin().delete_user(&gone.id, None).await);

    let eve = app.by(&eve);
    let never = ids::encode(Kind::Attachment, 999_999);
    assert_same_shape(&[
        (
            "a missing attachment",
            eve.try_restore_attachment(&never, None).await,
        ),
        (
            "another's live attachment",
            eve.try_restore_attachment(&bob_live, None).await,
        ),
        (
            "another's attachment deleted by an admin",
            eve.try_restore_attachment(&bob_by_admin, None).await,
        ),
        (
            "another's attachment deleted by its owner",
            eve.try_restore_attachment(&bob_by_bob, None).await,
        ),
        (
            "an attachment under a deleted user",
            eve.try_restore_attachment(&gone_file, None).await,
        ),
    ]);
    let never = ids::encode(Kind::User, 999_999);
    assert_same_shape(&[
        ("a missing user", eve.try_restore_user(&never, None).await),
        ("a deleted user", eve.try_restore_user(&gone.id, None).await),
    ]);
    let never = ids::encode(Kind::Deletion, 999_999);
    assert_same_shape(&[
        ("a missing deletion", eve.try_restore(&never, None).await),
        (
            "an admin's deletion",
            eve.try_restore(&admin_deletion, None).await,
        ),
        (
            "another member's deletion",
            eve.try_restore(&bob_deletion, None).await,
        ),
        (
            "a user's deletion",
            eve.try_restore(&gone_deletion, None).await,
        ),
    ]);
    // Deleting is no oracle either: others' rows, deleted or not, are as missing.
    let never = ids::encode(Kind::Attachment, 999_999);
    assert_same_shape(&[
        (
            "deleting a missing attachment",
            eve.try_delete_attachment(&never, None).await,
        ),
        (
            "deleting another's live attachment",
            eve.try_delete_attachment(&bob_live, None).await,
        ),
        (
            "deleting another's deleted attachment",
            eve.try_delete_attachment(&bob_by_admin, None).await,
        ),
    ]);
    // Reading: null, with no error, whatever the reason.
    for id in [&bob_live, &bob_by_admin, &gone_file] {
        assert!(!eve.attachment_is_live(id).await, "{id}");
    }
    // Nothing changed on the way.
    assert!(!app.admin().attachment_with_deleted(&bob_by_admin).await["deletedAt"].is_null());
    assert!(app.admin().attachment_with_deleted(&bob_live).await["deletedAt"].is_null());
    app.assert_invariants().await;
}

async fn a_member_may_not_change_their_email_whether_or_not_it_is_taken(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let eve = app.member("eve@example.com").await;
    app.member("taken@example.com").await;
    let update =
        "mutation($id: ID!, $e: String) { updateUser(id: $id, input: {email: $e}) { email } }";
    let taken = app
        .graphql(
            Some(&eve.token),
            update,
            json!({ "id": eve.id, "e": "taken@example.com" }),
        )
        .await;
    let free = app
        .graphql(
            Some(&eve.token),
            update,
            json!({ "id": eve.id, "e": "free@example.com" }),
        )
        .await;
    assert_error(&taken, "FORBIDDEN");
    assert_eq!(taken["errors"][0]["message"], free["errors"][0]["message"]);
    assert_eq!(error_codes(&taken), error_codes(&free));
    // The name is theirs to change.
    let body = app
        .graphql(
            Some(&eve.token),
            "mutation($id: ID!) { updateUser(id: $id, input: {name: \"Eve E.\"}) { name email } }",
            json!({ "id": eve.id }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["updateUser"]["email"], "eve@example.com");
}

// ---------------------------------------------------------------------------------------
// Rights follow the current role.

async fn a_demoted_admin_keeps_no_power_over_deletions_of_others_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let root = app.user("root@example.com", "ADMIN").await;
    let ada = app.member("ada@example.com").await;
    let theirs = app.attachment(&ada, "theirs.txt").await;
    let mine = app.attachment(&root, "mine.txt").await;
    let mut deleted = Vec::new();
    for id in [&theirs, &mine] {
        deleted.push(id_of(&app.by(&root).delete_attachment(id, None).await));
    }
    app.admin()
        .ok(
            "mutation($id: ID!) { updateUser(id: $id, input: {role: MEMBER}) { role } }",
            json!({ "id": root.id }),
            "updateUser",
        )
        .await;
    // Inside the undo window, and the actor: still no power over another's data.
    for body in [
        app.by(&root).try_restore(&deleted[0], None).await,
        app.by(&root).try_restore_attachment(&theirs, None).await,
    ] {
        assert_error(&body, "NOT_FOUND");
    }
    assert!(!app.admin().attachment_with_deleted(&theirs).await["deletedAt"].is_null());
    let body = app
        .graphql(Some(&root.token), "{ deletions { totalCount } }", json!({}))
        .await;
    assert_error(&body, "FORBIDDEN");
    // Their own attachment, deleted by themself: a member's own undo.
    app.by(&root).restore(&deleted[1], None).await;
    app.assert_invariants().await;
}

async fn a_demoted_admin_learns_nothing_of_a_restored_bulk_deletion_of_others_data(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let root = app.user("root@example.com", "ADMIN").await;
    let ada = app.member("ada@example.com").await;
    let mine = app.attachment(&root, "mine.txt").await;
    let theirs = app.attachment(&ada, "theirs.txt").await;
    // Found by the generated attack's author: a bulk deletion led by one's own row.
    let body = app
        .graphql(
            Some(&root.token),
            "mutation($ids: [ID!]!) { deleteAttachments(ids: $ids) { id } }",
            json!({ "ids": [mine, theirs] }),
        )
        .await;
    assert_ok(&body);
    let d = id_of(&data(&body)["deleteAttachments"]);
    app.admin().restore(&d, None).await;
    app.admin()
        .ok(
            "mutation($id: ID!) { updateUser(id: $id, input: {role: MEMBER}) { role } }",
            json!({ "id": root.id }),
            "updateUser",
        )
        .await;
    // Not "already restored": a member cannot know of a deletion of others' rows.
    let body = app.by(&root).try_restore(&d, None).await;
    assert_error(&body, "NOT_FOUND");
}

// ---------------------------------------------------------------------------------------
// Hostile strings: one rule for every string input, on both databases.

async fn hostile_strings_are_refused_with_the_field_named_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "file.txt").await;
    let hostile = [
        ("a NUL", "bad\u{0}byte"),
        ("an escape", "bad\u{1b}[31m"),
        ("a newline", "two\nlines"),
        ("a right-to-left override", "report\u{202E}fdp.exe"),
    ];
    for (what, text) in hostile {
        let user = |email: &str, name: &str| json!({ "input": { "email": email, "name": name } });
        let cases: Vec<(&str, &str, Value)> = vec![
            (
                "email",
                CREATE_USER,
                user(&format!("x{text}@example.com"), "X"),
            ),
            ("name", CREATE_USER, user("x@example.com", text)),
            (
                "filename",
                CREATE_ATTACHMENT,
                json!({ "input": { "ownerId": ada.id, "filename": text, "contentType": "text/plain", "sizeBytes": 1 } }),
            ),
            (
                "contentType",
                CREATE_ATTACHMENT,
                json!({ "input": { "ownerId": ada.id, "filename": "f", "contentType": format!("text/{text}"), "sizeBytes": 1 } }),
            ),
            (
                "reason",
                DELETE_ATTACHMENT,
                json!({ "id": file, "reason": text }),
            ),
            (
                "name",
                "mutation($id: ID!, $n: String) { updateUser(id: $id, input: {name: $n}) { id } }",
                json!({ "id": ada.id, "n": text }),
            ),
        ];
        for (field, query, vars) in cases {
            let body = app.as_admin(query, vars).await;
            assert_error(&body, "BAD_USER_INPUT");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("{field}:")),
                "{what} in {field}: the message names the field: {message}"
            );
        }
    }
    // Too long.
    let long = "x".repeat(501);
    let body = app.admin().try_delete_attachment(&file, Some(&long)).await;
    assert_error(&body, "BAD_USER_INPUT");
    // A restore's reason follows the same rule.
    let d = id_of(&app.admin().delete_attachment(&file, None).await);
    let body = app.admin().try_restore(&d, Some("oops\u{0}")).await;
    assert_error(&body, "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("reason:")
    );
    // Nothing was created, changed or restored on the way.
    let body = app.as_admin("{ users { totalCount } }", json!({})).await;
    assert_eq!(data(&body)["users"]["totalCount"], 2, "{body}");
    let body = app
        .as_admin(
            "query($o: ID!) { attachments(ownerId: $o, includeDeleted: true) { totalCount } }",
            json!({ "o": ada.id }),
        )
        .await;
    assert_eq!(data(&body)["attachments"]["totalCount"], 1, "{body}");
    assert!(app.admin().deletion(&d).await["restoredAt"].is_null());
    let body = app
        .as_admin(
            "query($id: ID!) { user(id: $id) { name } }",
            json!({ "id": ada.id }),
        )
        .await;
    assert_eq!(data(&body)["user"]["name"], "User ada@example.com");
    app.assert_invariants().await;
}

async fn email_addresses_are_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in [
        "plain",
        "a@b@c.com",
        "@example.com",
        "a@",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a b@example.com",
        "a@-example.com",
        "a@example-.com",
        "a@example..com",
        "a@example.com.",
        "a\"b@example.com",
        "a@exa_mple.com",
        &format!("{}@example.com", "x".repeat(65)),
    ] {
        let body = app
            .admin()
            .try_create_user(json!({ "email": bad, "name": "X" }))
            .await;
        assert_error(&body, "BAD_USER_INPUT");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("email:"),
            "{bad}: {body}"
        );
    }
    for (i, good) in [
        "o'brien+tag@example.co.uk",
        "someone@localhost",
        "Mixed.Case@Example.COM",
        "josé@exämple.org",
    ]
    .iter()
    .enumerate()
    {
        let body = app
            .admin()
            .try_create_user(json!({ "email": good, "name": format!("G{i}") }))
            .await;
        assert_ok(&body);
    }
}

// ---------------------------------------------------------------------------------------
// Detective mode for restores.

async fn restores_record_their_reason_and_stats_count_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let a = app.attachment(&ada, "a.txt").await;
    let b = app.attachment(&ada, "b.txt").await;
    let da = id_of(&app.admin().delete_attachment(&a, None).await);
    app.admin().delete_attachment(&b, None).await;

    let restored = app
        .admin()
        .restore(&da, Some("  deleted by mistake "))
        .await;
    assert_eq!(restored["restoreReason"], "deleted by mistake");
    let body = app
        .admin()
        .try_restore_attachment(&b, Some("deleted by mistake"))
        .await;
    assert_ok(&body);
    let d = app.admin().deletion(&da).await;
    assert_eq!(d["restoreReason"], "deleted by mistake");

    // A user restored by id keeps its reason too.
    let dd = id_of(&app.admin().delete_user(&ada.id, None).await);
    let body = app
        .admin()
        .try_restore_user(&ada.id, Some("customer came back"))
        .await;
    assert_ok(&body);
    assert_eq!(
        app.admin().deletion(&dd).await["restoreReason"],
        "customer came back"
    );

    let stats = app
        .admin()
        .ok(
            "{ deletionStats { topRestoreReasons { reason count } } }",
            json!({}),
            "deletionStats",
        )
        .await;
    assert_eq!(
        stats["topRestoreReasons"],
        json!([
            { "reason": "deleted by mistake", "count": 2 },
            { "reason": "customer came back", "count": 1 },
        ]),
        "{stats}"
    );
    app.assert_invariants().await;
}

// ---------------------------------------------------------------------------------------
// `keepsake check`: each kind of violation, planted by raw SQL, is named.

fn row(id: &str, kind: Kind) -> i64 {
    ids::decode(kind, id).expect("an id of ours")
}

async fn keepsake_check_names_every_planted_violation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let clean = app.run(&["check"]).await;
    assert!(clean.status.success(), "{clean:?}");
    assert!(String::from_utf8_lossy(&clean.stdout).contains("ok:"));

    let ada = app.member("ada@example.com").await;
    let live = app.attachment(&ada, "live.txt").await;
    let spare = app.attachment(&ada, "spare.txt").await;
    let bob = app.member("bob@example.com").await;
    let bobs = app.attachment(&bob, "bob.txt").await;
    let carl = app.member("carl@example.com").await;
    let carls = app.attachment(&carl, "carl.txt").await;
    let d_bob = id_of(&app.admin().delete_user(&bob.id, None).await);
    let d_spare = id_of(&app.admin().delete_attachment(&spare, None).await);
    let d_carl = id_of(&app.admin().delete_user(&carl.id, None).await);
    app.assert_invariants().await;

    let bobs_id = row(&bobs, Kind::Attachment);
    let (ada_id, live_id) = (row(&ada.id, Kind::User), row(&live, Kind::Attachment));
    let carls_id = row(&carls, Kind::Attachment);
    let now = if app.is_postgres() {
        "now()"
    } else {
        "'2026-11-27T00:00:00+00:00'"
    };
    app.execute_sql(&[
        // Bob's attachment comes back alone: live under a deleted user.
        format!("UPDATE attachments SET deleted_at = NULL, deleted_by = NULL, deletion_id = NULL WHERE id = {bobs_id}"),
        // Ada's live attachment gets a stamp but no deletion.
        format!("UPDATE attachments SET deleted_at = {now} WHERE id = {live_id}"),
        // The spare attachment's deletion is marked restored, yet it stays hidden.
        format!("UPDATE deletions SET restored_at = {now}, restored_by = {ada_id} WHERE id = {}", row(&d_spare, Kind::Deletion)),
        // Carl's deletion is marked purged with its rows still there.
        format!("UPDATE deletions SET purged_at = {now} WHERE id = {}", row(&d_carl, Kind::Deletion)),
        // Carl's attachment left live but still stamped.
        format!("UPDATE attachments SET deleted_at = NULL WHERE id = {carls_id}"),
    ])
    .await;

    let lines = app.run(&["check"]).await;
    assert_eq!(lines.status.code(), Some(1), "{lines:?}");
    let stdout = String::from_utf8_lossy(&lines.stdout).to_string();
    for (kind, names) in [
        ("live-attachment-under-deleted-user", bobs.as_str()),
        ("hidden-row-without-deletion", live.as_str()),
        ("restored-deletion-still-hides-a-row", spare.as_str()),
        ("purged-deletion-left-a-row", carl.id.as_str()),
        ("live-row-still-stamped", carls.as_str()),
        ("cascade-count-disagrees", d_bob.as_str()),
        ("live-attachment-under-deleted-user", carls.as_str()),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{kind}: ")) && l.contains(names)),
            "no {kind} line naming {names} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("ok:"), "{stdout}");

    let json_out = app.run(&["check", "--json"]).await;
    assert_eq!(json_out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&json_out.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], false);
    let listed = doc["violations"].as_array().expect("violations");
    assert_eq!(listed.len(), stdout.lines().count(), "{doc}");
    assert!(
        listed
            .iter()
            .all(|v| v["kind"].is_string() && v["message"].is_string())
    );
}
