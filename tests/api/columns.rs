//! A user's page of attachments is read with only the columns its selection asks for
//! (`graphql/attachment/columns.rs`, `columns_for`); the other columns hold defaults in the rows.
//! Every selection below, however it is spelled (fragments, edges, aliases of the same page
//! asking for different fields, skipped fields), must answer exactly what a read of every
//! column answers: the root `attachments` list and `attachment(id:)` read whole rows.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::content::put;
use crate::helpers::{Backend, TestApp, TestUser, assert_ok, data, on_both_backends};

on_both_backends!(
    every_selection_of_a_users_attachments_answers_as_a_whole_row,
    aliases_of_one_page_asking_for_different_columns_cost_one_statement,
    a_page_asked_with_variables_is_read_ahead_like_one_asked_with_literals,
);

/// Ada with three attachments (one with uploaded bytes, so `sha256` is set, one deleted
/// on its own with a reason) and Alan, deleted with his two.
async fn setup(app: &TestApp) -> TestUser {
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let with_bytes = app.attachment(&ada, "bytes.txt").await;
    let (status, body) = put(
        app,
        &ada.token,
        &with_bytes,
        "text/plain",
        b"hello".to_vec(),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    app.attachment(&ada, "plain \"quoted\" é.txt").await;
    let gone = app.attachment(&ada, "gone.txt").await;
    app.admin().delete_attachment(&gone, Some("mine")).await;
    app.attachment(&alan, "a1.txt").await;
    app.attachment(&alan, "a2.txt").await;
    app.admin().delete_user(&alan.id, Some("left")).await;
    ada
}

/// Every attachment as a read of whole rows shows `selection` (which holds `id`), by id.
async fn whole_rows(app: &TestApp, selection: &str) -> HashMap<String, Value> {
    let query = format!(
        "{{ attachments(includeDeleted: true, first: 100) {{ nodes {{ {selection} }} }} }}"
    );
    let body = app.graphql(Some(&app.admin_token), &query, json!({})).await;
    assert_ok(&body);
    let nodes = data(&body)["attachments"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5, "{body}");
    nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_owned(), n.clone()))
        .collect()
}

/// The nodes of every `attachments` page under `users` in `body`, at `path` inside a user.
fn pages<'a>(body: &'a Value, path: &[&str]) -> Vec<&'a Value> {
    let mut found = Vec::new();
    for user in data(body)["users"]["nodes"].as_array().unwrap() {
        let mut at = user;
        for step in path {
            at = &at[*step];
        }
        for node in at.as_array().unwrap() {
            found.push(node);
        }
    }
    found
}

async fn every_selection_of_a_users_attachments_answers_as_a_whole_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = setup(&app).await;
    let fields = [
        "filename",
        "contentType",
        "sizeBytes",
        "sha256",
        "createdAt",
        "deletedAt",
        "deletion { id reason }",
        "owner { id email }",
        "__typename",
    ];
    let mut selections: Vec<String> = fields.iter().map(|f| format!("id {f}")).collect();
    selections.push(format!("id {}", fields.join(" ")));
    selections.push("id filename sizeBytes".into());
    selections.push("n: filename id s: sha256 id".into());

    for selection in &selections {
        // Whole rows, with the aliases as the selection spells them.
        let expected = whole_rows(&app, selection).await;
        let spellings = [
            // (the user's attachments selection, the path to its nodes, fragments)
            (
                format!("nodes {{ {selection} }}"),
                vec!["attachments", "nodes"],
                "",
            ),
            (
                format!("edges {{ cursor node {{ {selection} }} }} totalCount"),
                vec!["attachments", "edges"],
                "",
            ),
            (
                format!("nodes {{ ... on Attachment {{ {selection} }} }}"),
                vec!["attachments", "nodes"],
                "",
            ),
            (
                "nodes { ...F }".to_owned(),
                vec!["attachments", "nodes"],
                "fragment F on Attachment { SELECTION }",
            ),
            (
                "...C".to_owned(),
                vec!["attachments", "nodes"],
                "fragment C on AttachmentConnection { nodes { SELECTION } }",
            ),
        ];
        for (inner, path, fragment) in spellings {
            let fragment = fragment.replace("SELECTION", selection);
            let query = format!(
                "{{ users(includeDeleted: true) {{ nodes {{ attachments(includeDeleted: true) {{ {inner} }} }} }} }} {fragment}"
            );
            let body = app.graphql(Some(&app.admin_token), &query, json!({})).await;
            assert_ok(&body);
            let mut nodes = pages(&body, &path);
            if path[1] == "edges" {
                nodes = nodes.into_iter().map(|edge| &edge["node"]).collect();
            }
            assert_eq!(nodes.len(), 5, "{query}\n{body}");
            for node in nodes {
                let id = node["id"].as_str().unwrap();
                assert_eq!(node, &expected[id], "{query}");
            }
        }
    }

    // A field skipped by a directive is gone before execution (its column is not read); one
    // included through a variable is read: the page answers exactly as a whole row would.
    let query = "query($with: Boolean!) { users(includeDeleted: true) { nodes { attachments(includeDeleted: true) { nodes { id filename @skip(if: true) sha256 @include(if: $with) } } } } }";
    let expected = whole_rows(&app, "id sha256").await;
    let body = app
        .graphql(Some(&app.admin_token), query, json!({ "with": true }))
        .await;
    assert_ok(&body);
    for node in pages(&body, &["attachments", "nodes"]) {
        let id = node["id"].as_str().unwrap();
        assert_eq!(node, &expected[id], "{body}");
        assert!(node.get("filename").is_none(), "{body}");
    }
    // The upload's hash is there, so the column was read, not defaulted to null.
    let hashes = pages(&body, &["attachments", "nodes"])
        .iter()
        .filter(|n| n["sha256"].is_string())
        .count();
    assert_eq!(hashes, 1, "{body}");

    // A member, through their own page: their live ones, as a read of whole rows shows them.
    let selection = "id filename sizeBytes sha256 createdAt";
    let own = format!("{{ me {{ attachments {{ nodes {{ {selection} }} }} }} }}");
    let whole = format!("{{ attachments {{ nodes {{ {selection} }} }} }}");
    let own = app.graphql(Some(&ada.token), &own, json!({})).await;
    let whole = app.graphql(Some(&ada.token), &whole, json!({})).await;
    assert_ok(&own);
    assert_ok(&whole);
    assert_eq!(data(&own)["me"]["attachments"], data(&whole)["attachments"]);
    assert_eq!(
        data(&own)["me"]["attachments"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn aliases_of_one_page_asking_for_different_columns_cost_one_statement(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let one = "{ users(includeDeleted: true) { nodes { a: attachments(includeDeleted: true) { nodes { id filename } } } } }";
    let two = "{ users(includeDeleted: true) { nodes { a: attachments(includeDeleted: true) { nodes { id filename } } b: attachments(includeDeleted: true) { nodes { id sha256 createdAt contentType } } } } }";
    let before = app.statements().await;
    let body_one = app.graphql(Some(&app.admin_token), one, json!({})).await;
    let middle = app.statements().await;
    let body_two = app.graphql(Some(&app.admin_token), two, json!({})).await;
    let after = app.statements().await;
    assert_ok(&body_one);
    assert_ok(&body_two);
    // The viewer, the users, one read of both selections' pages (with both's columns).
    assert_eq!(middle - before, 3.0, "{body_one}");
    assert_eq!(after - middle, 3.0, "{body_two}");

    let a = whole_rows(&app, "id filename").await;
    let b = whole_rows(&app, "id sha256 createdAt contentType").await;
    for (alias, expected) in [("a", &a), ("b", &b)] {
        let nodes = pages(&body_two, &[alias, "nodes"]);
        assert_eq!(nodes.len(), 5, "{body_two}");
        for node in nodes {
            assert_eq!(node, &expected[node["id"].as_str().unwrap()], "{body_two}");
        }
    }
}

/// `User.attachments` planned from variables (and a variable's default) reads the same
/// pages, in the same number of statements, as the same document with literals: the
/// read-ahead and the resolver plan the page from the same, coerced arguments.
async fn a_page_asked_with_variables_is_read_ahead_like_one_asked_with_literals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let literal = "{ users(includeDeleted: true) { nodes { attachments(first: 2, includeDeleted: true) { totalCount nodes { id filename } } } } }";
    let variables = "query($n: Int, $d: Boolean = true) { users(includeDeleted: true) { nodes { attachments(first: $n, includeDeleted: $d) { totalCount nodes { id filename } } } } }";
    let before = app.statements().await;
    let by_literal = app
        .graphql(Some(&app.admin_token), literal, json!({}))
        .await;
    let middle = app.statements().await;
    let by_variable = app
        .graphql(Some(&app.admin_token), variables, json!({ "n": 2 }))
        .await;
    let after = app.statements().await;
    assert_ok(&by_literal);
    assert_ok(&by_variable);
    assert_eq!(by_literal, by_variable);
    // The viewer, the users, every owner's page in one statement, every count in one.
    assert_eq!(middle - before, 4.0, "{by_literal}");
    assert_eq!(after - middle, 4.0, "{by_variable}");
    assert_eq!(pages(&by_variable, &["attachments", "nodes"]).len(), 4);
}
