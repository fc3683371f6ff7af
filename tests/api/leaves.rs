//! Lists of plain fields resolved in one pass (`graphql/leaves.rs`) answer exactly what the
//! fields' own resolvers answer: the same values, keys, aliases and order, for every viewer.
//! An inline fragment sends the same selection down the ordinary path, field by field, so
//! each pair of queries below must come back byte for byte the same.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_ok, data, on_both_backends};

on_both_backends!(
    attachment_leaves_answer_as_their_resolvers,
    user_leaves_answer_as_their_resolvers,
    a_field_that_is_not_a_leaf_sends_the_list_down_the_usual_path,
    a_key_asked_twice_keeps_both_selections,
);

/// The body of `query` with `selection` as `nodes`'s selection, asked as is (one pass) and
/// inside `... on TYPE { }` (field by field); asserts both bodies are the same text.
async fn same_both_ways(
    app: &TestApp,
    token: &str,
    query: &str,
    ty: &str,
    selection: &str,
) -> Value {
    let direct = query.replace("SELECTION", selection);
    let fragment = query.replace("SELECTION", &format!("... on {ty} {{ {selection} }}"));
    let one_pass = app.graphql_text(Some(token), &direct, json!({})).await;
    let by_field = app.graphql_text(Some(token), &fragment, json!({})).await;
    assert_eq!(one_pass, by_field, "{direct}");
    let body: Value = serde_json::from_str(&one_pass).unwrap();
    assert_ok(&body);
    body
}

async fn attachment_leaves_answer_as_their_resolvers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let kept = app.attachment(&ada, "kept \"quoted\" é.txt").await;
    let gone = app.attachment(&ada, "gone.txt").await;
    app.admin().delete_attachment(&gone, None).await;
    let admin = app.admin_token.clone();
    let every = "__typename id filename contentType sizeBytes createdAt deletedAt";
    let aliased = "t: __typename b: id a: filename id sizeBytes s: sizeBytes __typename";

    let staff = "{ attachments(includeDeleted: true) { nodes { SELECTION } } }";
    for selection in [every, aliased] {
        let body = same_both_ways(&app, &admin, staff, "Attachment", selection).await;
        let nodes = data(&body)["attachments"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(nodes.len(), 2, "{body}");
    }
    let body = same_both_ways(&app, &admin, staff, "Attachment", every).await;
    let nodes = &data(&body)["attachments"]["nodes"];
    assert_eq!(nodes[0]["id"], json!(kept));
    assert_eq!(nodes[0]["filename"], json!("kept \"quoted\" é.txt"));
    assert_eq!(nodes[0]["deletedAt"], Value::Null);
    assert_eq!(nodes[1]["id"], json!(gone));
    assert!(nodes[1]["deletedAt"].is_string(), "{body}");

    // The owner, through their own user's connection: only the live one.
    let own = "{ me { attachments { nodes { SELECTION } } } }";
    let body = same_both_ways(&app, &ada.token, own, "Attachment", every).await;
    let nodes = data(&body)["me"]["attachments"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 1, "{body}");
    assert_eq!(nodes[0]["id"], json!(kept));
}

async fn user_leaves_answer_as_their_resolvers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    app.admin().delete_user(&alan.id, Some("left")).await;
    let admin = app.admin_token.clone();
    let every = "__typename id name createdAt updatedAt deletedAt";

    let staff = "{ users(includeDeleted: true) { nodes { SELECTION } } }";
    let body = same_both_ways(&app, &admin, staff, "User", every).await;
    let nodes = data(&body)["users"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 3, "{body}");
    assert!(nodes[2]["deletedAt"].is_string(), "{body}");

    // A member sees live users only, and their names (never others' emails).
    let members = "{ users { nodes { SELECTION } } }";
    let body = same_both_ways(&app, &ada.token, members, "User", "id name i: id").await;
    let ids: Vec<&Value> = data(&body)["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(ids.len(), 2, "{body}");
    assert!(!ids.contains(&&json!(alan.id)), "{body}");
}

async fn a_field_that_is_not_a_leaf_sends_the_list_down_the_usual_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    app.attachment(&ada, "a.txt").await;
    app.attachment(&alan, "b.txt").await;
    let admin = app.admin_token.clone();

    // `owner` loads: the whole list resolves field by field, and the owners still batch.
    let query = "{ attachments { nodes { SELECTION } } }";
    let before = app.statements().await;
    let body = same_both_ways(&app, &admin, query, "Attachment", "id owner { id }").await;
    let after = app.statements().await;
    let owners: Vec<&Value> = data(&body)["attachments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["owner"]["id"])
        .collect();
    assert_eq!(owners, vec![&json!(ada.id), &json!(alan.id)]);
    // Two requests, each: the viewer, the page, one batch of owners.
    assert_eq!(after - before, 6.0, "statements for two requests");

    // `email` depends on the viewer: a member gets their own and an error for the other's,
    // with the error's path, exactly as field by field.
    let body =
        same_both_ways_allowing_errors(&app, &ada.token, "{ users { nodes { SELECTION } } }").await;
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
}

/// Like [`same_both_ways`] for users' `id email`, where errors are expected.
async fn same_both_ways_allowing_errors(app: &TestApp, token: &str, query: &str) -> Value {
    let direct = query.replace("SELECTION", "id email");
    let fragment = query.replace("SELECTION", "... on User { id email }");
    let one_pass = app.graphql_text(Some(token), &direct, json!({})).await;
    let by_field = app.graphql_text(Some(token), &fragment, json!({})).await;
    let (a, b): (Value, Value) = (
        serde_json::from_str(&one_pass).unwrap(),
        serde_json::from_str(&by_field).unwrap(),
    );
    // Error locations differ (the fragment moves the field); data and paths do not.
    assert_eq!(a["data"], b["data"], "{one_pass}\n{by_field}");
    let paths = |v: &Value| -> Vec<Value> {
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].clone())
            .collect()
    };
    assert_eq!(paths(&a), paths(&b));
    a
}

/// GraphQL merges fields asked twice under one response key (`nodes { id } nodes {
/// filename }`): every spelling below answers as the one selection with both fields.
async fn a_key_asked_twice_keeps_both_selections(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "a.txt").await;
    app.attachment(&ada, "b.txt").await;
    let token = ada.token.clone();

    let merged = "{ me { attachments { nodes { id filename } } } }";
    let merged = app.graphql(Some(&token), merged, json!({})).await;
    assert_ok(&merged);
    assert_eq!(
        data(&merged)["me"]["attachments"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for query in [
        "{ me { attachments { nodes { id } nodes { filename } } } }",
        "{ me { attachments { nodes { id } } attachments { nodes { filename } } } }",
        "{ me { attachments { nodes { id } ... on AttachmentConnection { nodes { filename } } } } }",
        "{ me { attachments { ...I ...F } } } fragment I on AttachmentConnection { nodes { id } } fragment F on AttachmentConnection { nodes { filename } }",
        "{ me { ... on User { attachments { nodes { id } } } attachments { nodes { filename } } } }",
    ] {
        let body = app.graphql(Some(&token), query, json!({})).await;
        assert_ok(&body);
        assert_eq!(data(&body), data(&merged), "{query}");
    }
    // Under distinct keys nothing merges, and each list is still one pass of its own.
    let body = app
        .graphql(
            Some(&token),
            "{ me { a: attachments { nodes { id } } b: attachments { nodes { filename } } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let me = &data(&body)["me"];
    assert_eq!(me["a"]["nodes"][0].as_object().unwrap().len(), 1, "{body}");
    assert_eq!(me["b"]["nodes"][1]["filename"], json!("b.txt"), "{body}");
}
