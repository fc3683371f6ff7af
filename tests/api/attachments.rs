//! Attachments: members see and add only their own; support and admins see all.

use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, on_both_backends};

on_both_backends!(
    a_member_sees_only_their_own_attachments,
    support_sees_every_attachment_and_its_owner,
    attachments_are_created_for_oneself_or_by_an_admin,
    attachment_input_is_checked,
);

fn filenames(body: &serde_json::Value, path: &[&str]) -> Vec<String> {
    let mut node = data(body);
    for key in path {
        node = &node[*key];
    }
    node["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes at {path:?}: {body}"))
        .iter()
        .map(|n| n["filename"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_member_sees_only_their_own_attachments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let ada_file = app.attachment(&ada, "ada.txt").await;
    let alan_file = app.attachment(&alan, "alan.txt").await;

    let body = app
        .graphql(
            Some(&ada.token),
            "{ attachments { totalCount nodes { filename } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    assert_eq!(filenames(&body, &["attachments"]), ["ada.txt"]);
    assert_eq!(data(&body)["attachments"]["totalCount"], 1);

    let body = app
        .graphql(
            Some(&ada.token),
            "query($a: ID!, $b: ID!) { mine: attachment(id: $a) { filename owner { email } } theirs: attachment(id: $b) { filename } node(id: $b) { id } }",
            json!({ "a": ada_file, "b": alan_file }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["mine"],
        json!({ "filename": "ada.txt", "owner": { "email": "ada@example.com" } })
    );
    assert_eq!(data(&body)["theirs"], json!(null));
    assert_eq!(data(&body)["node"], json!(null));

    // Asking for someone else's list is refused, not silently narrowed.
    let body = app
        .graphql(
            Some(&ada.token),
            "query($o: ID!) { attachments(ownerId: $o) { totalCount } }",
            json!({ "o": alan.id }),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
    let body = app
        .graphql(
            Some(&ada.token),
            "query($o: ID!) { user(id: $o) { name attachments { totalCount } } }",
            json!({ "o": alan.id }),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
}

async fn support_sees_every_attachment_and_its_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    app.attachment(&ada, "ada-1.txt").await;
    app.attachment(&alan, "alan-1.txt").await;
    app.attachment(&ada, "ada-2.txt").await;
    let body = app
        .graphql(
            Some(&grace.token),
            "{ attachments { totalCount nodes { filename owner { email } } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    assert_eq!(
        filenames(&body, &["attachments"]),
        ["ada-1.txt", "alan-1.txt", "ada-2.txt"]
    );
    assert_eq!(
        data(&body)["attachments"]["nodes"][1]["owner"]["email"],
        "alan@example.com"
    );
    let body = app
        .graphql(
            Some(&grace.token),
            "query($o: ID!) { attachments(ownerId: $o) { totalCount } user(id: $o) { attachments { totalCount nodes { filename } } } }",
            json!({ "o": ada.id }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["attachments"]["totalCount"], 2);
    assert_eq!(
        filenames(&body, &["user", "attachments"]),
        ["ada-1.txt", "ada-2.txt"]
    );
}

const CREATE: &str = "mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { id filename contentType sizeBytes owner { id } } }";

async fn attachments_are_created_for_oneself_or_by_an_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let input = |owner: &str| json!({ "input": { "ownerId": owner, "filename": "f.png", "contentType": "image/png", "sizeBytes": 5_000_000_000i64 } });
    for token in [&ada.token, &grace.token] {
        let body = app.graphql(Some(token), CREATE, input(&alan.id)).await;
        assert_error(&body, "FORBIDDEN");
    }
    let body = app.as_admin(CREATE, input(&alan.id)).await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["createAttachment"]["owner"]["id"],
        alan.id.as_str()
    );
    // Sizes past 32 bits survive the round trip.
    assert_eq!(
        data(&body)["createAttachment"]["sizeBytes"],
        5_000_000_000i64
    );
    let body = app.graphql(Some(&ada.token), CREATE, input(&ada.id)).await;
    assert_ok(&body);
    let missing = keepsake::ids::encode(keepsake::ids::Kind::User, 424_242);
    let body = app.as_admin(CREATE, input(&missing)).await;
    assert_error(&body, "NOT_FOUND");
}

async fn attachment_input_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    for (filename, content_type, size) in [
        ("", "text/plain", 1i64),
        ("a.txt", "plain", 1),
        ("a.txt", "text/plain", -1),
        (&"x".repeat(300), "text/plain", 1),
    ] {
        let body = app
            .graphql(
                Some(&ada.token),
                CREATE,
                json!({ "input": { "ownerId": ada.id, "filename": filename, "contentType": content_type, "sizeBytes": size } }),
            )
            .await;
        assert_error(&body, "BAD_USER_INPUT");
    }
    let body = app
        .graphql(
            Some(&ada.token),
            "{ attachments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["attachments"]["totalCount"], 0);
}
