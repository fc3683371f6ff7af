//! Users: the role table for reads, creation, updates and unique emails.

use serde_json::json;

use crate::helpers::{
    Backend, TestApp, assert_error, assert_ok, data, error_codes, on_both_backends,
};

on_both_backends!(
    a_member_reads_names_of_all_but_only_their_own_email,
    support_and_admins_read_every_email,
    only_admins_create_users,
    a_live_duplicate_email_is_a_conflict,
    members_update_only_themselves_and_never_their_role,
    user_and_node_find_users_by_id,
    malformed_and_foreign_ids_are_bad_input,
);

const USERS: &str = "{ users { nodes { id name email } } }";

async fn a_member_reads_names_of_all_but_only_their_own_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let _alan = app.member("alan@example.com").await;
    let body = app.graphql(Some(&ada.token), USERS, json!({})).await;
    let nodes = data(&body)["users"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 3, "{body}");
    for node in &nodes {
        assert!(node["name"].is_string());
        if node["id"] == ada.id.as_str() {
            assert_eq!(node["email"], "ada@example.com");
        } else {
            // Present, null, and explained by an error at its path.
            assert_eq!(node.get("email"), Some(&json!(null)), "{body}");
        }
    }
    assert_eq!(error_codes(&body), vec!["FORBIDDEN", "FORBIDDEN"], "{body}");
    let paths: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    assert!(paths.iter().all(|p| p[3] == "email"), "{paths:?}");

    let body = app
        .graphql(Some(&ada.token), "{ me { email role } }", json!({}))
        .await;
    assert_eq!(
        data(&body)["me"],
        json!({ "email": "ada@example.com", "role": "MEMBER" })
    );
}

async fn support_and_admins_read_every_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    app.member("ada@example.com").await;
    for token in [&grace.token, &app.admin_token] {
        let body = app.graphql(Some(token), USERS, json!({})).await;
        assert_ok(&body);
        let emails: Vec<_> = data(&body)["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["email"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            emails,
            ["admin@localhost", "grace@example.com", "ada@example.com"]
        );
    }
}

const CREATE: &str =
    "mutation($input: CreateUserInput!) { createUser(input: $input) { id email name role } }";

async fn only_admins_create_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let input = json!({ "input": { "email": "new@example.com", "name": "New" } });
    for token in [&ada.token, &grace.token] {
        let body = app.graphql(Some(token), CREATE, input.clone()).await;
        assert_error(&body, "FORBIDDEN");
    }
    let body = app.as_admin(CREATE, input).await;
    assert_ok(&body);
    assert_eq!(data(&body)["createUser"]["role"], "MEMBER");
    // The forbidden attempts left nothing behind.
    let body = app.as_admin("{ users { totalCount } }", json!({})).await;
    assert_eq!(data(&body)["users"]["totalCount"], 4);
    // Bad input says which field to fix.
    for (email, name) in [("not-an-email", "X"), ("x@example.com", "   ")] {
        let body = app
            .as_admin(CREATE, json!({ "input": { "email": email, "name": name } }))
            .await;
        assert_error(&body, "BAD_USER_INPUT");
    }
}

async fn a_live_duplicate_email_is_a_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    // Emails are compared trimmed and case-insensitively.
    let body = app
        .as_admin(
            CREATE,
            json!({ "input": { "email": " ADA@example.com ", "name": "Ada 2" } }),
        )
        .await;
    assert_error(&body, "CONFLICT");
    let alan = app.member("alan@example.com").await;
    let body = app
        .as_admin(
            "mutation($id: ID!) { updateUser(id: $id, input: {email: \"ada@example.com\"}) { email } }",
            json!({ "id": alan.id }),
        )
        .await;
    assert_error(&body, "CONFLICT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.to_lowercase().contains("unique"),
        "no SQL in messages: {message}"
    );
    let body = app
        .graphql(Some(&ada.token), "{ me { email } }", json!({}))
        .await;
    assert_eq!(data(&body)["me"]["email"], "ada@example.com");
}

async fn members_update_only_themselves_and_never_their_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    const UPDATE: &str = "mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { name role } }";
    let body = app
        .graphql(
            Some(&ada.token),
            UPDATE,
            json!({ "id": alan.id, "input": { "name": "Hacked" } }),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
    let body = app
        .graphql(
            Some(&ada.token),
            UPDATE,
            json!({ "id": ada.id, "input": { "role": "ADMIN" } }),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
    let body = app
        .graphql(
            Some(&ada.token),
            UPDATE,
            json!({ "id": ada.id, "input": { "name": "Countess" } }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["updateUser"],
        json!({ "name": "Countess", "role": "MEMBER" })
    );
    let body = app
        .as_admin(
            UPDATE,
            json!({ "id": alan.id, "input": { "role": "SUPPORT" } }),
        )
        .await;
    assert_eq!(data(&body)["updateUser"]["role"], "SUPPORT", "{body}");
    // An id nobody has.
    let missing = keepsake::ids::encode(keepsake::ids::Kind::User, 999_999);
    let body = app
        .as_admin(UPDATE, json!({ "id": missing, "input": { "name": "X" } }))
        .await;
    assert_error(&body, "NOT_FOUND");
}

async fn user_and_node_find_users_by_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let body = app
        .graphql(
            Some(&ada.token),
            "query($id: ID!) { user(id: $id) { id name } node(id: $id) { id ... on User { name } } }",
            json!({ "id": app.admin_id }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["user"]["id"], app.admin_id.as_str());
    assert_eq!(data(&body)["node"]["name"], "Administrator");
    let missing = keepsake::ids::encode(keepsake::ids::Kind::User, 999_999);
    let body = app
        .graphql(
            Some(&ada.token),
            "query($id: ID!) { user(id: $id) { id } node(id: $id) { id } }",
            json!({ "id": missing }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body), &json!({ "user": null, "node": null }));
}

async fn malformed_and_foreign_ids_are_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let attachment_id = keepsake::ids::encode(keepsake::ids::Kind::Attachment, 1);
    for id in ["nope", "", attachment_id.as_str()] {
        let body = app
            .as_admin(
                "query($id: ID!) { user(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_error(&body, "BAD_USER_INPUT");
        assert_eq!(data(&body), &json!({ "user": null }));
    }
}
