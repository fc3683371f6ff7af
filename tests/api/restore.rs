//! Cascades, exact undo, the undo window, races and faults (issue 4).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, TestUser, assert_error, assert_internal_without_sql, assert_ok, data,
    error_codes, id_of, on_both_backends, sorted,
};

on_both_backends!(
    deleting_a_user_cascades_only_to_their_live_attachments,
    restoring_a_user_deletion_brings_back_exactly_what_it_hid,
    a_deletion_restored_once_cannot_be_restored_again,
    restore_user_undoes_the_cascade_that_restore_attachment_refuses,
    an_attachment_deleted_before_its_owner_comes_back_only_after_the_owner,
    restoring_a_user_whose_email_was_taken_again_is_a_conflict_and_changes_nothing,
    a_bulk_delete_is_one_deletion_and_is_restored_as_one,
    a_bulk_delete_with_one_foreign_id_deletes_nothing,
    a_member_undoes_their_own_deletion_only_within_the_undo_window,
    members_never_undo_others_deletions_and_support_undoes_none,
    racing_restores_and_deletes_leave_the_user_and_the_log_in_agreement,
    an_attachment_created_while_its_owner_is_deleted_is_never_left_live,
    a_cascade_that_fails_midway_leaves_nothing_deleted,
    listing_users_with_attachments_and_owners_costs_the_same_statements_for_any_size,
);

/// The deletion id stamped on attachment `id` (`null` when live).
fn stamped(all: &[Value], id: &str) -> Value {
    all.iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("attachment {id} not listed in {all:?}"))["deletion"]["id"]
        .clone()
}

/// A user with three attachments, the first of which was deleted on its own beforehand;
/// returns the user, the three attachment ids and that earlier deletion's id.
async fn user_with_an_earlier_deleted_attachment(app: &TestApp) -> (TestUser, [String; 3], String) {
    let ada = app.member("ada@example.com").await;
    let early = app.attachment(&ada, "early.txt").await;
    let second = app.attachment(&ada, "second.txt").await;
    let third = app.attachment(&ada, "third.txt").await;
    let early_deletion = id_of(&app.admin().delete_attachment(&early, None).await);
    (ada, [early, second, third], early_deletion)
}

async fn deleting_a_user_cascades_only_to_their_live_attachments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, [early, second, third], early_deletion) =
        user_with_an_earlier_deleted_attachment(&app).await;
    let logged_before = app.admin().log_size().await;

    let deleted = app.admin().delete_user(&ada.id, Some("test")).await;
    assert_eq!(deleted["entity"], "USER", "{deleted}");
    assert_eq!(deleted["entityId"], ada.id.as_str(), "{deleted}");
    assert_eq!(deleted["cascadeCount"], 2, "{deleted}");
    assert_eq!(deleted["rowCount"], 3, "{deleted}");
    assert_eq!(deleted["restoredAt"], Value::Null, "{deleted}");
    let user_deletion = id_of(&deleted);
    assert_ne!(user_deletion, early_deletion);
    assert_eq!(app.admin().log_size().await, logged_before + 1);

    // Hidden by default, even from an admin.
    assert_eq!(
        app.admin().live_attachments(&ada.id).await,
        Vec::<String>::new()
    );
    let body = app
        .as_admin("{ attachments { totalCount } }", json!({}))
        .await;
    assert_eq!(data(&body)["attachments"]["totalCount"], 0, "{body}");

    // With deleted rows: the earlier one keeps its own deletion, the others carry the user's.
    let all = app.admin().attachments_with_deleted(&ada.id).await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|a| !a["deletedAt"].is_null()), "{all:?}");
    assert_eq!(stamped(&all, &early), early_deletion.as_str());
    assert_eq!(stamped(&all, &second), user_deletion.as_str());
    assert_eq!(stamped(&all, &third), user_deletion.as_str());
    assert_eq!(
        app.admin().user_with_deleted(&ada.id).await["deletion"]["id"],
        user_deletion.as_str()
    );
}

async fn restoring_a_user_deletion_brings_back_exactly_what_it_hid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, [early, second, third], early_deletion) =
        user_with_an_earlier_deleted_attachment(&app).await;
    let user_deletion = id_of(&app.admin().delete_user(&ada.id, Some("test")).await);
    assert!(!app.admin().user_is_live(&ada.id).await);

    let restored = app.admin().restore(&user_deletion, None).await;
    assert_eq!(restored["id"], user_deletion.as_str(), "{restored}");
    assert!(restored["restoredAt"].is_string(), "{restored}");
    assert_eq!(
        restored["restoredBy"]["id"],
        app.admin_id.as_str(),
        "{restored}"
    );

    assert!(app.admin().user_is_live(&ada.id).await);
    let body = app
        .graphql(Some(&ada.token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(data(&body)["me"]["id"], ada.id.as_str(), "{body}");
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(vec![second.clone(), third.clone()])
    );
    // The one deleted on its own stays deleted, under its own deletion.
    let all = app.admin().attachments_with_deleted(&ada.id).await;
    assert_eq!(stamped(&all, &early), early_deletion.as_str());
    assert_eq!(stamped(&all, &second), Value::Null);
    assert_eq!(stamped(&all, &third), Value::Null);
    assert_eq!(
        app.admin().deletion(&early_deletion).await["restoredAt"],
        Value::Null
    );

    // The log remembers the undo.
    let logged = app.admin().deletion(&user_deletion).await;
    assert!(logged["restoredAt"].is_string(), "{logged}");
    assert_eq!(
        logged["restoredBy"]["id"],
        app.admin_id.as_str(),
        "{logged}"
    );
    let state = app.admin().user_with_deleted(&ada.id).await;
    assert_eq!(state["deletedAt"], Value::Null, "{state}");
    assert_eq!(state["deletion"], Value::Null, "{state}");
}

async fn a_deletion_restored_once_cannot_be_restored_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    let user_deletion = id_of(&app.admin().delete_user(&ada.id, Some("test")).await);
    let first = app.admin().restore(&user_deletion, None).await;
    let logged = app.admin().log_size().await;

    let body = app.admin().try_restore(&user_deletion, None).await;
    let codes = error_codes(&body);
    assert!(
        codes == ["NOT_FOUND"] || codes == ["BAD_USER_INPUT"],
        "a second restore must be refused: {body}"
    );
    assert_eq!(app.admin().log_size().await, logged);
    // The first restore's record stands; the rows are untouched.
    assert_eq!(
        app.admin().deletion(&user_deletion).await["restoredAt"],
        first["restoredAt"]
    );
    assert!(app.admin().user_is_live(&ada.id).await);
    assert_eq!(app.admin().live_attachments(&ada.id).await, vec![file]);

    // Nor can a deletion that never was.
    let missing = keepsake::ids::encode(keepsake::ids::Kind::Deletion, 424_242);
    let body = app.admin().try_restore(&missing, None).await;
    assert_error(&body, "NOT_FOUND");
}

async fn restore_user_undoes_the_cascade_that_restore_attachment_refuses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let one = app.attachment(&ada, "one.txt").await;
    let two = app.attachment(&ada, "two.txt").await;
    let user_deletion = id_of(&app.admin().delete_user(&ada.id, Some("test")).await);
    let logged = app.admin().log_size().await;

    // An attachment hidden by its owner's cascade comes back with its owner, not alone.
    let body = app.admin().try_restore_attachment(&one, None).await;
    assert_error(&body, "PARENT_DELETED");
    assert!(!app.admin().user_is_live(&ada.id).await);
    assert_eq!(
        app.admin().live_attachments(&ada.id).await,
        Vec::<String>::new()
    );
    let all = app.admin().attachments_with_deleted(&ada.id).await;
    assert_eq!(stamped(&all, &one), user_deletion.as_str());
    assert_eq!(stamped(&all, &two), user_deletion.as_str());
    assert_eq!(
        app.admin().deletion(&user_deletion).await["restoredAt"],
        Value::Null
    );
    assert_eq!(app.admin().log_size().await, logged);

    assert_eq!(
        app.admin().restore_user(&ada.id, None).await,
        json!({ "id": ada.id, "deletedAt": null })
    );
    assert!(app.admin().deletion(&user_deletion).await["restoredAt"].is_string());
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(vec![one.clone(), two])
    );
    let body = app
        .as_admin(
            "query($id: ID!) { attachment(id: $id) { id deletedAt owner { id } } }",
            json!({ "id": one }),
        )
        .await;
    assert_eq!(
        data(&body)["attachment"],
        json!({ "id": one, "deletedAt": null, "owner": { "id": ada.id } }),
        "{body}"
    );
    // Nothing is left to undo.
    let body = app.admin().try_restore_user(&ada.id, None).await;
    assert_error(&body, "BAD_USER_INPUT");
}

async fn an_attachment_deleted_before_its_owner_comes_back_only_after_the_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "file.txt").await;
    let own_deletion = id_of(&app.admin().delete_attachment(&file, None).await);
    let user_deletion = id_of(&app.admin().delete_user(&ada.id, Some("test")).await);
    let logged = app.admin().log_size().await;

    for body in [
        app.admin().try_restore(&own_deletion, None).await,
        app.admin().try_restore_attachment(&file, None).await,
    ] {
        assert_error(&body, "PARENT_DELETED");
        assert_eq!(
            stamped(&app.admin().attachments_with_deleted(&ada.id).await, &file),
            own_deletion.as_str()
        );
        assert_eq!(
            app.admin().deletion(&own_deletion).await["restoredAt"],
            Value::Null
        );
        assert!(!app.admin().user_is_live(&ada.id).await);
        assert_eq!(app.admin().log_size().await, logged);
    }

    // The owner comes back without it: the owner's deletion never hid it.
    app.admin().restore(&user_deletion, None).await;
    assert!(app.admin().user_is_live(&ada.id).await);
    assert_eq!(
        app.admin().live_attachments(&ada.id).await,
        Vec::<String>::new()
    );

    let restored = app.admin().restore(&own_deletion, None).await;
    assert!(restored["restoredAt"].is_string(), "{restored}");
    assert_eq!(app.admin().live_attachments(&ada.id).await, vec![file]);
}

async fn restoring_a_user_whose_email_was_taken_again_is_a_conflict_and_changes_nothing(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let first = app.member("a@x.com").await;
    let file = app.attachment(&first, "kept.txt").await;
    let first_deletion = id_of(&app.admin().delete_user(&first.id, Some("test")).await);

    // The email is free again at once.
    let second = app.member("a@x.com").await;
    assert_ne!(second.id, first.id);
    let logged = app.admin().log_size().await;

    for body in [
        app.admin().try_restore(&first_deletion, None).await,
        app.admin().try_restore_user(&first.id, None).await,
    ] {
        assert_error(&body, "CONFLICT");
        let state = app.admin().user_with_deleted(&first.id).await;
        assert!(state["deletedAt"].is_string(), "{state}");
        assert_eq!(state["deletion"]["id"], first_deletion.as_str(), "{state}");
        assert_eq!(state["deletion"]["restoredAt"], Value::Null, "{state}");
        assert_eq!(
            app.admin().deletion(&first_deletion).await["restoredAt"],
            Value::Null
        );
        assert_eq!(
            stamped(
                &app.admin().attachments_with_deleted(&first.id).await,
                &file
            ),
            first_deletion.as_str()
        );
        assert!(app.admin().user_is_live(&second.id).await);
        assert_eq!(app.admin().log_size().await, logged);
    }

    // Once the new user moves to another email, the old one comes back whole.
    let body = app
        .as_admin(
            "mutation($id: ID!) { updateUser(id: $id, input: { email: \"b@x.com\" }) { email } }",
            json!({ "id": second.id }),
        )
        .await;
    assert_ok(&body);
    app.admin().restore(&first_deletion, None).await;
    assert!(app.admin().user_is_live(&first.id).await);
    assert_eq!(app.admin().live_attachments(&first.id).await, vec![file]);
}

async fn a_bulk_delete_is_one_deletion_and_is_restored_as_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut files = Vec::new();
    for name in ["1.txt", "2.txt", "3.txt"] {
        files.push(app.attachment(&ada, name).await);
    }
    let other = app.attachment(&ada, "untouched.txt").await;
    let logged = app.admin().log_size().await;

    let bulk = app
        .by(&ada)
        .delete_attachments(&files, Some("tidy up"))
        .await;
    assert_eq!(bulk["entity"], "ATTACHMENT", "{bulk}");
    assert_eq!(bulk["cascadeCount"], 2, "{bulk}");
    assert_eq!(bulk["rowCount"], 3, "{bulk}");
    let bulk_deletion = id_of(&bulk);
    assert_eq!(app.admin().log_size().await, logged + 1);
    assert_eq!(
        app.admin().live_attachments(&ada.id).await,
        vec![other.clone()]
    );
    let all = app.admin().attachments_with_deleted(&ada.id).await;
    for file in &files {
        assert_eq!(stamped(&all, file), bulk_deletion.as_str());
    }

    // The member undoes their own bulk delete in one go.
    let restored = app.by(&ada).restore(&bulk_deletion, None).await;
    assert_eq!(restored["restoredBy"]["id"], ada.id.as_str(), "{restored}");
    let mut expected = files.clone();
    expected.push(other);
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(expected)
    );
    assert_eq!(app.admin().log_size().await, logged + 1);
}

async fn a_bulk_delete_with_one_foreign_id_deletes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let mine = vec![
        app.attachment(&ada, "1.txt").await,
        app.attachment(&ada, "2.txt").await,
    ];
    let theirs = app.attachment(&alan, "alan.txt").await;
    let logged = app.admin().log_size().await;

    let body = app
        .by(&ada)
        .try_delete_attachments(&[&mine[0], &theirs, &mine[1]], Some("tidy up"))
        .await;
    assert_error(&body, "NOT_FOUND");
    assert_eq!(app.admin().log_size().await, logged);
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(mine.clone())
    );
    assert_eq!(app.admin().live_attachments(&alan.id).await, vec![theirs]);
    let body = app
        .as_admin(
            "{ attachments(onlyDeleted: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["attachments"]["totalCount"], 0, "{body}");
}

async fn a_member_undoes_their_own_deletion_only_within_the_undo_window(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.undo_window = Duration::from_secs(1);
    })
    .await;
    let ada = app.member("ada@example.com").await;
    let quick = app.attachment(&ada, "quick.txt").await;
    let slow = app.attachment(&ada, "slow.txt").await;

    let quick_deletion = id_of(&app.by(&ada).delete_attachment(&quick, None).await);
    let restored = app.by(&ada).restore(&quick_deletion, None).await;
    assert_eq!(restored["restoredBy"]["id"], ada.id.as_str(), "{restored}");
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(vec![quick.clone(), slow.clone()]),
        "quick is back beside slow"
    );

    let slow_deletion = id_of(&app.by(&ada).delete_attachment(&slow, None).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for body in [
        app.by(&ada).try_restore(&slow_deletion, None).await,
        app.by(&ada).try_restore_attachment(&slow, None).await,
    ] {
        assert_error(&body, "FORBIDDEN");
        assert_eq!(
            app.admin().deletion(&slow_deletion).await["restoredAt"],
            Value::Null
        );
        assert_eq!(
            app.admin().live_attachments(&ada.id).await,
            vec![quick.clone()]
        );
    }

    // An admin has no window.
    let restored = app.admin().restore(&slow_deletion, None).await;
    assert!(restored["restoredAt"].is_string(), "{restored}");
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(vec![quick, slow])
    );
}

async fn members_never_undo_others_deletions_and_support_undoes_none(backend: Backend) {
    // The default window (15 minutes): every refusal here is about who, not when.
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let by_admin = app.attachment(&ada, "by-admin.txt").await;
    let by_ada = app.attachment(&ada, "by-ada.txt").await;

    let admin_deletion = id_of(&app.admin().delete_attachment(&by_admin, None).await);
    let ada_deletion = id_of(&app.by(&ada).delete_attachment(&by_ada, None).await);

    // The member's own attachment, but the admin's deletion: a member cannot read the log,
    // so it answers as a deletion that never existed (guarantee 9).
    for body in [
        app.by(&ada).try_restore(&admin_deletion, None).await,
        app.by(&ada).try_restore_attachment(&by_admin, None).await,
    ] {
        assert_error(&body, "NOT_FOUND");
    }
    // Support reads everything and restores nothing, however fresh.
    for d in [&admin_deletion, &ada_deletion] {
        let body = app.by(&grace).try_restore(d, None).await;
        assert_error(&body, "FORBIDDEN");
    }
    let body = app.by(&grace).try_restore_attachment(&by_ada, None).await;
    assert_error(&body, "FORBIDDEN");
    assert_eq!(
        app.admin().live_attachments(&ada.id).await,
        Vec::<String>::new()
    );
    for d in [&admin_deletion, &ada_deletion] {
        assert_eq!(app.admin().deletion(d).await["restoredAt"], Value::Null);
    }

    // The admin restores anyone's.
    let restored = app.admin().restore(&ada_deletion, None).await;
    assert_eq!(restored["restoredBy"]["id"], app.admin_id.as_str());
    app.admin().restore_attachment(&by_admin, None).await;
    assert!(app.admin().deletion(&admin_deletion).await["restoredAt"].is_string());
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(vec![by_admin, by_ada])
    );
}

/// Every deletion of user `id` in the log: `(deletion id, restoredAt)`.
async fn user_deletions(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    let body = app
        .as_admin(
            "{ deletions(entity: USER, first: 100) { totalCount nodes { id entityId restoredAt } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let nodes = data(&body)["deletions"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes: {body}"));
    assert_eq!(
        data(&body)["deletions"]["totalCount"],
        nodes.len(),
        "the whole log fits one page: {body}"
    );
    nodes
        .iter()
        .filter(|n| n["entityId"] == id)
        .map(|n| (id_of(n), n["restoredAt"].clone()))
        .collect()
}

async fn racing_restores_and_deletes_leave_the_user_and_the_log_in_agreement(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "file.txt").await;
    let mut in_force = id_of(&app.admin().delete_user(&ada.id, Some("test")).await);
    let (mut restores, mut deletes) = (0, 0);
    for round in 0..10 {
        let (restored, deleted) = tokio::join!(
            app.admin().try_restore(&in_force, None),
            app.admin().try_delete_user(&ada.id, Some("test")),
        );
        // The restore has nothing to contend with but the delete: it always succeeds. The
        // delete succeeds only if it ran after the restore; else the user was not live.
        assert_ok(&restored);
        restores += 1;
        if error_codes(&deleted).is_empty() {
            deletes += 1;
        } else {
            assert_error(&deleted, "NOT_FOUND");
        }

        let state = app.admin().user_with_deleted(&ada.id).await;
        let log = user_deletions(&app, &ada.id).await;
        let unrestored: Vec<&String> = log
            .iter()
            .filter(|(_, at)| at.is_null())
            .map(|(id, _)| id)
            .collect();
        let all = app.admin().attachments_with_deleted(&ada.id).await;
        if state["deletedAt"].is_null() {
            assert!(
                unrestored.is_empty(),
                "round {round}: live user, yet deletions in force {unrestored:?}; {state}"
            );
            assert_eq!(stamped(&all, &file), Value::Null, "round {round}");
            in_force = id_of(&app.admin().delete_user(&ada.id, Some("test")).await);
        } else {
            assert_eq!(
                unrestored.len(),
                1,
                "round {round}: a deleted user has exactly one deletion in force: {log:?}"
            );
            assert_eq!(
                state["deletion"]["id"],
                unrestored[0].as_str(),
                "round {round}: {state}"
            );
            assert_eq!(
                stamped(&all, &file),
                unrestored[0].as_str(),
                "round {round}: the attachment hides under the same deletion"
            );
            in_force = unrestored[0].clone();
        }
    }
    eprintln!("races: {restores} restores, {deletes} concurrent deletes won");
}

async fn an_attachment_created_while_its_owner_is_deleted_is_never_left_live(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut created, mut refused) = (0, 0);
    for round in 0..10 {
        let owner = app.member(&format!("owner{round}@example.com")).await;
        app.attachment(&owner, "before.txt").await;
        let input = json!({ "ownerId": owner.id, "filename": "racing.txt",
                            "contentType": "text/plain", "sizeBytes": 1 });
        let (create, delete) = tokio::join!(
            app.admin().try_create_attachment(input),
            app.admin().try_delete_user(&owner.id, Some("test")),
        );
        assert_ok(&delete);
        let user_deletion = id_of(&data(&delete)["deleteUser"]);
        if error_codes(&create).is_empty() {
            created += 1;
        } else {
            assert_error(&create, "NOT_FOUND");
            refused += 1;
        }

        let body = app
            .as_admin(
                "query($o: ID!) { attachments(ownerId: $o, includeDeleted: true) { nodes { filename deletedAt deletion { id } } } }",
                json!({ "o": owner.id }),
            )
            .await;
        assert_ok(&body);
        let nodes = data(&body)["attachments"]["nodes"].as_array().unwrap();
        let expected = if error_codes(&create).is_empty() {
            2
        } else {
            1
        };
        assert_eq!(nodes.len(), expected, "round {round}: {body}");
        for node in nodes {
            assert!(
                !node["deletedAt"].is_null(),
                "round {round}: a live attachment under a deleted user: {body}"
            );
            assert_eq!(
                node["deletion"]["id"],
                user_deletion.as_str(),
                "round {round}: {body}"
            );
        }
        assert_eq!(
            data(&delete)["deleteUser"]["cascadeCount"],
            nodes.len(),
            "round {round}: the cascade counts what it hid: {delete}"
        );
    }
    eprintln!("races: {created} attachments created before the delete, {refused} refused");
}

async fn a_cascade_that_fails_midway_leaves_nothing_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let ok = app.attachment(&ada, "ok.txt").await;
    let boom = app.attachment(&ada, "boom.txt").await;
    let alan = app.member("alan@example.com").await;
    app.attachment(&alan, "ok.txt").await;

    // A real failing statement: the cascade's UPDATE of 'boom.txt' aborts.
    let statements: &[&str] = if app.db.url.starts_with("sqlite") {
        &[
            "CREATE TRIGGER boom BEFORE UPDATE OF deleted_at ON attachments \
           WHEN NEW.deleted_at IS NOT NULL AND OLD.filename = 'boom.txt' \
           BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
        ]
    } else {
        &[
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;",
            "CREATE TRIGGER boom BEFORE UPDATE ON attachments FOR EACH ROW \
             WHEN (NEW.deleted_at IS NOT NULL AND OLD.filename = 'boom.txt') \
             EXECUTE FUNCTION boom();",
        ]
    };
    app.execute_sql(statements).await;
    let logged = app.admin().log_size().await;

    let body = app.admin().try_delete_user(&ada.id, Some("test")).await;
    assert_internal_without_sql(&body);

    // Nothing of the cascade stuck: not the user, not 'ok.txt', not the log entry.
    assert!(app.admin().user_is_live(&ada.id).await);
    let body = app
        .graphql(Some(&ada.token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(data(&body)["me"]["id"], ada.id.as_str(), "{body}");
    assert_eq!(
        sorted(app.admin().live_attachments(&ada.id).await),
        sorted(vec![ok, boom])
    );
    assert!(
        app.admin()
            .attachments_with_deleted(&ada.id)
            .await
            .iter()
            .all(|a| a["deletedAt"].is_null() && a["deletion"].is_null())
    );
    assert_eq!(
        app.admin().user_with_deleted(&ada.id).await["deletion"],
        Value::Null
    );
    assert_eq!(app.admin().log_size().await, logged);

    // The fault is that one row: a user without it is deleted as usual.
    app.admin().delete_user(&alan.id, Some("test")).await;
    assert!(!app.admin().user_is_live(&alan.id).await);
    assert_eq!(app.admin().log_size().await, logged + 1);
}

async fn listing_users_with_attachments_and_owners_costs_the_same_statements_for_any_size(
    backend: Backend,
) {
    const LIST: &str = "query($n: Int) { users(first: $n) { totalCount nodes { id attachments { totalCount nodes { id owner { id } } } } } }";
    let app = TestApp::spawn(backend).await;
    let mut members = 0;
    let mut measured = Vec::new();
    for n in [10, 20, 50] {
        while members < n {
            let user = app.member(&format!("user{members}@example.com")).await;
            app.attachment(&user, "a.txt").await;
            app.attachment(&user, "b.txt").await;
            members += 1;
        }
        let users = n + 1; // and the admin
        let before = app.statements().await;
        let body = app.as_admin(LIST, json!({ "n": users })).await;
        let after = app.statements().await;
        assert_ok(&body);

        // The answer is whole: every user, every attachment, every owner.
        assert_eq!(data(&body)["users"]["totalCount"], users, "{body}");
        let nodes = data(&body)["users"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), users);
        let mut attachments = 0;
        for user in nodes {
            let files = user["attachments"]["nodes"].as_array().unwrap();
            assert_eq!(user["attachments"]["totalCount"], files.len(), "{user}");
            for file in files {
                assert_eq!(file["owner"]["id"], user["id"], "{user}");
            }
            attachments += files.len();
        }
        assert_eq!(attachments, 2 * n);

        let statements = after - before;
        eprintln!("statements for {n} users with 2 attachments each: {statements}");
        measured.push(statements);
    }
    // Viewer, users page, users count, one batch of attachment pages (paged in SQL), one
    // batch of attachment counts; the owners are the page's users, served from the request's
    // loader cache.
    assert_eq!(measured, vec![5.0; 3], "statements for N = 10, 20, 50");
}
