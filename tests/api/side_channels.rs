//! A member learns nothing of rows they may not see, from the answer or from the work: for
//! every field and mutation that takes an id (and the content routes), an id that never
//! existed, another member's live row, another member's deleted row, the member's own row
//! deleted by an admin, and a row under a deleted user get the same answer (but for the id
//! itself) and run the same number of statements, read from the server's counter.

use serde_json::{Value, json};

use crate::content::{get, put};
use crate::helpers::{Backend, TestApp, TestUser, data, id_of, on_both_backends};

on_both_backends!(a_member_sees_the_same_work_for_every_hidden_row);

/// A GraphQL request as `user`; the body as text.
async fn send(app: &TestApp, user: &TestUser, query: &str, variables: Value) -> String {
    app.graphql_text(Some(&user.token), query, variables).await
}

async fn a_member_sees_the_same_work_for_every_hidden_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let carol = app.member("carol@example.com").await;
    let admin = app.admin();

    // Attachments Ada may not see: never existed, Bob's live one, Bob's deleted one, her own
    // deleted by an admin, and Carol's, hidden by Carol's deletion.
    let bobs_live = app.attachment(&bob, "bob-live.txt").await;
    let bobs_deleted = app.attachment(&bob, "bob-deleted.txt").await;
    let bobs_deletion = id_of(
        &data(
            &app.by(&bob)
                .try_delete_attachment(&bobs_deleted, None)
                .await,
        )["deleteAttachment"],
    );
    let adas_own = app.attachment(&ada, "ada-by-admin.txt").await;
    let admins_deletion =
        id_of(&data(&admin.try_delete_attachment(&adas_own, None).await)["deleteAttachment"]);
    let carols = app.attachment(&carol, "carol.txt").await;
    let carols_deletion = id_of(&data(&admin.try_delete_user(&carol.id, None).await)["deleteUser"]);
    // A user who deleted their own account.
    let dave = app.member("dave@example.com").await;
    let daves_deletion =
        id_of(&data(&app.by(&dave).try_delete_user(&dave.id, None).await)["deleteUser"]);
    let never = |kind| keepsake::ids::encode(kind, 987_654);
    use keepsake::ids::Kind;

    let attachments = vec![
        never(Kind::Attachment),
        bobs_live.clone(),
        bobs_deleted.clone(),
        adas_own.clone(),
        carols.clone(),
    ];
    let users = vec![never(Kind::User), carol.id.clone(), dave.id.clone()];
    let deletions = vec![
        never(Kind::Deletion),
        bobs_deletion,
        admins_deletion,
        carols_deletion,
        daves_deletion,
    ];

    let by_id: &[(&str, &str, &Vec<String>)] = &[
        (
            "attachment",
            "query($id: ID!) { attachment(id: $id) { id filename } }",
            &attachments,
        ),
        (
            "node (attachment)",
            "query($id: ID!) { node(id: $id) { id } }",
            &attachments,
        ),
        (
            "nodes (attachment)",
            "query($id: ID!) { nodes(ids: [$id]) { id } }",
            &attachments,
        ),
        (
            "user",
            "query($id: ID!) { user(id: $id) { id name } }",
            &users,
        ),
        (
            "node (user)",
            "query($id: ID!) { node(id: $id) { id } }",
            &users,
        ),
        (
            "nodes (user)",
            "query($id: ID!) { nodes(ids: [$id]) { id } }",
            &users,
        ),
        (
            "deletion",
            "query($id: ID!) { deletion(id: $id) { id } }",
            &deletions,
        ),
        (
            "deleteAttachment",
            "mutation($id: ID!) { deleteAttachment(id: $id) { id } }",
            &attachments,
        ),
        (
            "deleteAttachments",
            "mutation($id: ID!) { deleteAttachments(ids: [$id]) { id } }",
            &attachments,
        ),
        (
            "restoreAttachment",
            "mutation($id: ID!) { restoreAttachment(id: $id) { id } }",
            &attachments,
        ),
        (
            "deleteUser",
            "mutation($id: ID!) { deleteUser(id: $id) { id } }",
            &users,
        ),
        (
            "restoreUser",
            "mutation($id: ID!) { restoreUser(id: $id) { id } }",
            &users,
        ),
        (
            "updateUser",
            "mutation($id: ID!) { updateUser(id: $id, input: {name: \"X\"}) { id } }",
            &users,
        ),
        (
            "createAttachment",
            "mutation($id: ID!) { createAttachment(input: {ownerId: $id, filename: \"a\", contentType: \"text/plain\", sizeBytes: 1}) { id } }",
            &users,
        ),
        (
            "restore",
            "mutation($id: ID!) { restore(deletionId: $id) { id } }",
            &deletions,
        ),
    ];
    for (name, query, targets) in by_id {
        same_for_all(&app, &ada, name, Aim::GraphQL(query), targets).await;
    }
    same_for_all(&app, &ada, "GET content", Aim::Download, &attachments).await;
    same_for_all(&app, &ada, "PUT content", Aim::Upload, &attachments).await;

    // And none of it changed anything: Bob's live attachment is still his, live, without
    // content, and Ada's own is still deleted.
    let bobs = app
        .by(&bob)
        .send(
            "query($id: ID!) { attachment(id: $id) { filename sha256 deletedAt } }",
            json!({ "id": bobs_live }),
        )
        .await;
    assert_eq!(
        data(&bobs)["attachment"],
        json!({ "filename": "bob-live.txt", "sha256": null, "deletedAt": null })
    );
    let hers = app
        .admin()
        .send(
            "query($id: ID!) { attachment(id: $id, includeDeleted: true) { deletedAt } }",
            json!({ "id": adas_own }),
        )
        .await;
    assert!(data(&hers)["attachment"]["deletedAt"].is_string(), "{hers}");
    app.assert_invariants().await;
}

/// How a probe aims at a row by its id.
enum Aim<'q> {
    /// A GraphQL document taking the id as `$id`.
    GraphQL(&'q str),
    /// `GET /attachments/{id}/content`.
    Download,
    /// `PUT /attachments/{id}/content`.
    Upload,
}

/// What `aim` at `id` answers, as text.
async fn answer(app: &TestApp, ada: &TestUser, aim: &Aim<'_>, id: &str) -> String {
    match aim {
        Aim::GraphQL(query) => send(app, ada, query, json!({ "id": id })).await,
        Aim::Download => {
            let path = format!("/attachments/{id}/content");
            let (status, _, body) = get(app, Some(&ada.token), &path, &[]).await;
            format!("{status} {}", String::from_utf8_lossy(&body))
        }
        Aim::Upload => {
            let (status, body) = put(app, &ada.token, id, "text/plain", b"hello".to_vec()).await;
            format!("{status} {body}")
        }
    }
}

/// The answer (the id itself aside) and the statements it cost, for each target of one
/// probe, each asked twice (a first ask must warm nothing a second would find): all equal.
async fn same_for_all(app: &TestApp, ada: &TestUser, name: &str, aim: Aim<'_>, targets: &[String]) {
    let mut seen: Vec<(String, f64, String)> = Vec::new();
    for target in targets {
        for _ in 0..2 {
            let before = app.statements().await;
            let text = answer(app, ada, &aim, target).await;
            let ran = app.statements().await - before;
            seen.push((target.clone(), ran, text.replace(target.as_str(), "<id>")));
        }
    }
    let (first_target, first_ran, first_answer) = &seen[0];
    for (target, ran, text) in &seen {
        assert_eq!(
            (ran, text),
            (first_ran, first_answer),
            "{name}: {target} and {first_target} differ"
        );
    }
}
