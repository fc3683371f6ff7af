//! The undo credential (docs/DESIGN.md#the-undo-credential): deleting one's own account returns, once, a token that can
//! do exactly one thing, restore that deletion, and only inside the undo window. These tests
//! try to stretch it: other queries, other deletions, another user's name on it, a window
//! that has passed, a deletion already restored or purged, a forged or foreign signature.

use std::time::Duration;

use chrono::Utc;
use keepsake::auth::Tokens;
use keepsake::ids::{self, Kind};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, TestUser, assert_error, assert_ok, data, id_of, on_both_backends,
};

on_both_backends!(
    deleting_ones_own_account_returns_a_credential_that_restores_it,
    an_undo_credential_does_nothing_else,
    an_undo_credential_is_given_only_for_ones_own_account,
    an_undo_credential_ends_with_the_window,
    an_undo_credential_cannot_undo_twice_or_after_a_purge,
    an_undo_credential_cannot_be_widened_or_forged,
);

const DELETE_SELF: &str = "mutation($id: ID!, $reason: String) {
    deleteUser(id: $id, reason: $reason) { id undoToken undoUntil } }";
const UNDO: &str =
    "mutation($d: ID!) { restore(deletionId: $d, reason: \"oops\") { id restoredAt } }";
const ME: &str = "{ me { id } }";

/// `user` deletes their own account; returns the deletion's id and the undo credential.
async fn delete_self(app: &TestApp, user: &TestUser) -> (String, String) {
    let body = app
        .graphql(
            Some(&user.token),
            DELETE_SELF,
            json!({ "id": user.id, "reason": "leaving" }),
        )
        .await;
    assert_ok(&body);
    let deleted = &data(&body)["deleteUser"];
    let token = deleted["undoToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no undoToken for deleting one's own account: {body}"))
        .to_owned();
    (id_of(deleted), token)
}

/// The message of the one error in `body`.
#[track_caller]
fn message(body: &Value) -> String {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"))
        .to_owned()
}

async fn deleting_ones_own_account_returns_a_credential_that_restores_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let files = [
        app.attachment(&alan, "a.txt").await,
        app.attachment(&alan, "b.txt").await,
    ];
    let before = Utc::now();
    let (deletion, undo) = delete_self(&app, &alan).await;

    // The session ends at once; the account and its files are gone.
    assert_error(
        &app.graphql(Some(&alan.token), ME, json!({})).await,
        "UNAUTHENTICATED",
    );
    assert!(!app.admin().user_is_live(&alan.id).await);
    for file in &files {
        assert!(!app.admin().attachment_is_live(file).await);
    }

    // The one thing the credential does.
    let body = app
        .graphql(Some(&undo), UNDO, json!({ "d": deletion }))
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["restore"]["id"], json!(deletion), "{body}");
    assert!(data(&body)["restore"]["restoredAt"].is_string(), "{body}");

    // Exactly what the deletion hid is back, and the log says who undid it and why.
    assert!(app.admin().user_is_live(&alan.id).await);
    for file in &files {
        assert!(app.admin().attachment_is_live(file).await, "{file}");
    }
    let logged = app.admin().deletion(&deletion).await;
    assert_eq!(logged["restoredBy"]["id"], json!(alan.id), "{logged}");
    assert_eq!(logged["restoreReason"], json!("oops"), "{logged}");
    let restored_at = logged["restoredAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(restored_at).unwrap() >= before,
        "{logged}"
    );
    // The account being live again, its own session token signs in again.
    let me = app.graphql(Some(&alan.token), ME, json!({})).await;
    assert_ok(&me);
    assert_eq!(data(&me)["me"]["id"], json!(alan.id));

    // Given once: reading the deletion later never shows the credential.
    let later = app
        .admin()
        .ok(
            "query($d: ID!) { deletion(id: $d) { undoToken } }",
            json!({ "d": deletion }),
            "deletion",
        )
        .await;
    assert_eq!(later["undoToken"], Value::Null, "{later}");
}

async fn an_undo_credential_does_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let bobs_file = app.attachment(&bob, "bob.txt").await;
    let bobs_other = app.attachment(&bob, "other.txt").await;
    let bobs_deletion = id_of(&app.by(&bob).delete_attachment(&bobs_other, None).await);
    let (deletion, undo) = delete_self(&app, &alan).await;

    // Every other read and write is refused, naming the one thing it can do, with no data.
    for (query, variables) in [
        (ME, json!({})),
        ("{ users { totalCount } }", json!({})),
        (
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": bob.id }),
        ),
        ("{ deletions { totalCount } }", json!({})),
        ("{ recentDeletions { id } }", json!({})),
        (
            "mutation($id: ID!) { deleteAttachment(id: $id) { id } }",
            json!({ "id": bobs_file }),
        ),
        (
            "mutation($id: ID!) { restoreUser(id: $id) { id } }",
            json!({ "id": alan.id }),
        ),
        (
            "mutation($id: ID!) { restoreAttachment(id: $id) { id } }",
            json!({ "id": bobs_other }),
        ),
        (
            "mutation { purgeDeleted(olderThan: \"0s\", dryRun: true) { users } }",
            json!({}),
        ),
    ] {
        let body = app.graphql(Some(&undo), query, variables).await;
        assert_error(&body, "FORBIDDEN");
        assert!(message(&body).contains(&deletion), "{query}: {body}");
        let values = body["data"].as_object().map(|d| d.values().cloned());
        assert!(
            values.is_none_or(|mut v| v.all(|v| v.is_null())),
            "{query}: {body}"
        );
    }
    // Another deletion, even one its holder may not know of: refused, and it stays.
    let body = app
        .graphql(Some(&undo), UNDO, json!({ "d": bobs_deletion }))
        .await;
    assert_error(&body, "FORBIDDEN");
    assert!(!app.admin().attachment_is_live(&bobs_other).await);
    assert!(app.admin().attachment_is_live(&bobs_file).await);
    assert!(!app.admin().user_is_live(&alan.id).await);
}

async fn an_undo_credential_is_given_only_for_ones_own_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let file = app.attachment(&bob, "bob.txt").await;

    // An admin deleting a member, a member deleting a file: no credential.
    let by_admin = app
        .admin()
        .ok(DELETE_SELF, json!({ "id": alan.id }), "deleteUser")
        .await;
    assert_eq!(by_admin["undoToken"], Value::Null, "{by_admin}");
    let body = app
        .graphql(
            Some(&bob.token),
            "mutation($id: ID!) { deleteAttachment(id: $id) { undoToken } }",
            json!({ "id": file }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["deleteAttachment"]["undoToken"], Value::Null);
    // A member may not delete another account, so gets no credential for one either.
    let carol = app.member("carol@example.com").await;
    let body = app
        .graphql(Some(&bob.token), DELETE_SELF, json!({ "id": carol.id }))
        .await;
    assert_error(&body, "FORBIDDEN");
    assert!(app.admin().user_is_live(&carol.id).await);
}

async fn an_undo_credential_ends_with_the_window(backend: Backend) {
    // The server's own clock and window decide, whatever the token says.
    let app = TestApp::spawn(backend.clone()).await;
    let alan = app.member("alan@example.com").await;
    app.attachment(&alan, "a.txt").await;
    let (deletion, undo) = delete_self(&app, &alan).await;
    app.backdate(&deletion, 16 * 60).await; // the default window is 15m
    let body = app
        .graphql(Some(&undo), UNDO, json!({ "d": deletion }))
        .await;
    assert_error(&body, "FORBIDDEN");
    assert!(message(&body).contains("undo window"), "{body}");
    assert!(!app.admin().user_is_live(&alan.id).await);
    assert_eq!(
        app.admin().deletion(&deletion).await["restoredAt"],
        Value::Null
    );
    // An admin still can.
    app.admin().restore(&deletion, None).await;
    assert!(app.admin().user_is_live(&alan.id).await);

    // With no window at all the credential is born expired, and says so.
    let app = TestApp::spawn_with(backend, |settings| {
        settings.undo_window = Duration::from_secs(0);
    })
    .await;
    let alan = app.member("alan@example.com").await;
    let (deletion, undo) = delete_self(&app, &alan).await;
    let body = app
        .graphql(Some(&undo), UNDO, json!({ "d": deletion }))
        .await;
    assert_error(&body, "UNAUTHENTICATED");
    assert!(
        message(&body).contains("undo credential has expired"),
        "{body}"
    );
    assert!(!app.admin().user_is_live(&alan.id).await);
}

async fn an_undo_credential_cannot_undo_twice_or_after_a_purge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Undone by an admin first: the credential finds nothing left to do.
    let alan = app.member("alan@example.com").await;
    let (deletion, undo) = delete_self(&app, &alan).await;
    app.admin().restore(&deletion, Some("support ticket")).await;
    let body = app
        .graphql(Some(&undo), UNDO, json!({ "d": deletion }))
        .await;
    assert_error(&body, "BAD_USER_INPUT");
    assert!(message(&body).contains("already restored"), "{body}");
    assert_eq!(
        app.admin().deletion(&deletion).await["restoreReason"],
        json!("support ticket")
    );

    // Purged: the rows are in the archive; nothing comes back.
    let bob = app.member("bob@example.com").await;
    let (deletion, undo) = delete_self(&app, &bob).await;
    app.admin().purge("0s", false).await;
    let body = app
        .graphql(Some(&undo), UNDO, json!({ "d": deletion }))
        .await;
    assert_error(&body, "CONFLICT");
    assert!(message(&body).contains("purged"), "{body}");
    let purged = app.admin().user_with_deleted(&bob.id).await;
    assert_eq!(purged, Value::Null, "purged rows stay gone: {purged}");
}

async fn an_undo_credential_cannot_be_widened_or_forged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let row = |kind, id: &str| ids::decode(kind, id).unwrap();
    let until = Utc::now() + chrono::Duration::minutes(10);

    // Signed by this server, but for a deletion an admin made: it is not alan's own doing.
    let by_admin = id_of(&app.admin().delete_user(&alan.id, None).await);
    let widened = app
        .state
        .services
        .tokens
        .issue_undo(
            row(Kind::User, &alan.id),
            row(Kind::Deletion, &by_admin),
            until,
        )
        .unwrap();
    let body = app
        .graphql(Some(&widened), UNDO, json!({ "d": by_admin }))
        .await;
    assert_error(&body, "NOT_FOUND");
    assert!(!app.admin().user_is_live(&alan.id).await);

    // Bob's own deletion, with alan's name on the credential.
    let (bobs_deletion, _) = delete_self(&app, &bob).await;
    let renamed = app
        .state
        .services
        .tokens
        .issue_undo(
            row(Kind::User, &alan.id),
            row(Kind::Deletion, &bobs_deletion),
            until,
        )
        .unwrap();
    let body = app
        .graphql(Some(&renamed), UNDO, json!({ "d": bobs_deletion }))
        .await;
    assert_error(&body, "NOT_FOUND");
    assert!(!app.admin().user_is_live(&bob.id).await);

    // Signed with another secret.
    let foreign = Tokens::new(b"not this server's secret, at all")
        .issue_undo(
            row(Kind::User, &bob.id),
            row(Kind::Deletion, &bobs_deletion),
            until,
        )
        .unwrap();
    let body = app
        .graphql(Some(&foreign), UNDO, json!({ "d": bobs_deletion }))
        .await;
    assert_error(&body, "UNAUTHENTICATED");
    assert!(!app.admin().user_is_live(&bob.id).await);
    // Nothing above changed the log.
    for deletion in [&by_admin, &bobs_deletion] {
        assert_eq!(
            app.admin().deletion(deletion).await["restoredAt"],
            Value::Null
        );
    }
}
