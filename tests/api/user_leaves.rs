//! A page of users with their attachments written in one pass (`graphql/user/leaves.rs`)
//! answers exactly what resolving it field by field answers: values, keys, aliases, order,
//! nulls and errors, for every role and every spelling of the page's arguments. The same
//! selection inside `... on User { }` goes field by field, so each pair below must come back
//! byte for byte the same (or, where errors are expected, with the same data and paths).

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestUser, assert_ok, data, metric};

crate::helpers::on_both_backends!(
    users_with_their_attachments_answer_as_field_by_field,
    what_one_pass_cannot_answer_goes_field_by_field_with_its_errors,
    a_page_of_users_with_attachments_costs_three_statements,
    the_one_pass_is_taken_exactly_where_nothing_can_fail_or_load,
);

/// Lists of users (with nested lists) written in one pass so far, from `/metrics`.
async fn nested_one_pass(app: &TestApp) -> f64 {
    let text = app.metrics().await;
    metric(
        &text,
        "keepsake_graphql_lists_in_one_pass_total{kind=\"nested\"}",
    )
}

/// The body of `query` with `selection` as the users' `nodes` selection, asked as is and
/// inside `... on User { }`; asserts both bodies are the same text and returns it.
async fn same_both_ways(
    app: &TestApp,
    token: &str,
    query: &str,
    selection: &str,
    variables: Value,
) -> Value {
    let direct = query.replace("SELECTION", selection);
    let fragment = query.replace("SELECTION", &format!("... on User {{ {selection} }}"));
    let one_pass = app
        .graphql_text(Some(token), &direct, variables.clone())
        .await;
    let by_field = app.graphql_text(Some(token), &fragment, variables).await;
    assert_eq!(one_pass, by_field, "{direct}");
    serde_json::from_str(&one_pass).unwrap()
}

/// Like [`same_both_ways`] where errors are expected: the same data, the same error paths
/// and codes (locations differ, since the fragment moves the fields).
async fn same_data_and_errors(app: &TestApp, token: &str, query: &str, selection: &str) -> Value {
    let direct = query.replace("SELECTION", selection);
    let fragment = query.replace("SELECTION", &format!("... on User {{ {selection} }}"));
    let a = app.graphql(Some(token), &direct, json!({})).await;
    let b = app.graphql(Some(token), &fragment, json!({})).await;
    assert_eq!(a["data"], b["data"], "{direct}\n{a}\n{b}");
    let errors = |v: &Value| -> Vec<(Value, Value)> {
        v["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| (e["path"].clone(), e["extensions"]["code"].clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(errors(&a), errors(&b), "{direct}\n{a}\n{b}");
    a
}

/// Three users: ada with two live attachments and one deleted, alan deleted with his
/// attachment (one cascade), bea with none; and a support user.
async fn setup(app: &TestApp) -> (TestUser, TestUser, TestUser) {
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let bea = app.member("bea@example.com").await;
    app.attachment(&ada, "one \"quoted\" \\ é.txt").await;
    app.attachment(&ada, "two.txt").await;
    let gone = app.attachment(&ada, "gone.txt").await;
    app.admin().delete_attachment(&gone, None).await;
    app.attachment(&alan, "his.txt").await;
    app.admin().delete_user(&alan.id, Some("left")).await;
    (ada, alan, bea)
}

async fn users_with_their_attachments_answer_as_field_by_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_ada, _alan, _bea) = setup(&app).await;
    let support = app.user("sam@example.com", "SUPPORT").await;
    let leaves = "id filename sizeBytes";
    let every = "__typename id filename contentType sizeBytes sha256 createdAt deletedAt";
    let selections = [
        format!("id email attachments {{ nodes {{ {leaves} }} }}"),
        format!(
            "__typename name email id createdAt updatedAt deletedAt attachments {{ __typename nodes {{ {every} }} }}"
        ),
        format!(
            "e: email i: id id x: attachments {{ n: nodes {{ f: filename {leaves} f: filename }} t: __typename }} email"
        ),
        format!("attachments(first: 1) {{ nodes {{ {leaves} }} }} id"),
        format!("attachments(last: 1) {{ nodes {{ {leaves} }} }}"),
        format!("attachments(includeDeleted: true) {{ nodes {{ {every} }} }}"),
        format!("attachments(onlyDeleted: true) {{ nodes {{ {leaves} }} }}"),
        format!("attachments(first: 0) {{ nodes {{ {leaves} }} }}"),
        "attachments { __typename }".to_string(),
        "id attachments { nodes { __typename } }".to_string(),
    ];
    let scopes = [
        "{ users { nodes { SELECTION } } }",
        "{ users(includeDeleted: true) { nodes { SELECTION } } }",
        "{ users(onlyDeleted: true) { nodes { SELECTION } } }",
        "{ users(first: 2, after: null) { nodes { SELECTION } } }",
        "{ users(last: 2) { nodes { SELECTION } } }",
        "{ a: users(first: 1) { nodes { SELECTION } } b: users(includeDeleted: true) { nodes { SELECTION } } }",
    ];
    for token in [&app.admin_token, &support.token] {
        for scope in scopes {
            for selection in &selections {
                let body = same_both_ways(&app, token, scope, selection, json!({})).await;
                assert_ok(&body);
            }
        }
    }

    // What the answer holds: a page that includes deleted rows carries its scope down, so
    // the deleted user comes with the attachment of his cascade and ada with her deleted
    // one; bea's page is empty.
    let body = same_both_ways(
        &app,
        &app.admin_token,
        "{ users(includeDeleted: true) { nodes { SELECTION } } }",
        "email attachments { nodes { filename } }",
        json!({}),
    )
    .await;
    let names = |user: &Value| -> Vec<String> {
        user["attachments"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["filename"].as_str().unwrap().to_string())
            .collect()
    };
    let nodes = data(&body)["users"]["nodes"].as_array().unwrap().clone();
    let by_email = |email: &str| nodes.iter().find(|u| u["email"] == json!(email)).unwrap();
    assert_eq!(
        names(by_email("ada@example.com")),
        ["one \"quoted\" \\ é.txt", "two.txt", "gone.txt"]
    );
    assert_eq!(names(by_email("alan@example.com")), ["his.txt"]);
    assert!(names(by_email("bea@example.com")).is_empty());

    // Arguments from variables, with defaults and nulls, answer as literals do.
    let query = "query($n: Int = 1, $d: Boolean, $after: String) { users(includeDeleted: true) { nodes { SELECTION } } }";
    for variables in [
        json!({}),
        json!({ "n": 2, "d": true }),
        json!({ "n": null, "d": null }),
    ] {
        let selection = format!(
            "id attachments(first: $n, includeDeleted: $d, after: $after) {{ nodes {{ {leaves} }} }}"
        );
        let body = same_both_ways(&app, &app.admin_token, query, &selection, variables).await;
        assert_ok(&body);
    }
}

async fn what_one_pass_cannot_answer_goes_field_by_field_with_its_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _alan, _bea) = setup(&app).await;
    let members = "{ users { nodes { SELECTION } } }";

    // A member reads their own email and attachments only: everyone else's are errors at
    // their paths, whichever way the page is resolved.
    for selection in [
        "id email",
        "id attachments { nodes { id filename } }",
        "id email attachments { nodes { id } }",
        "id attachments(includeDeleted: true) { nodes { id } }",
    ] {
        let body = same_data_and_errors(&app, &ada.token, members, selection).await;
        assert!(
            body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{selection}: {body}"
        );
    }
    // Staff asking what does not coerce or is refused get the same error either way.
    for (query, selection) in [
        (
            "{ users { nodes { SELECTION } } }",
            "id attachments(first: 1000) { nodes { id } }",
        ),
        (
            "{ users { nodes { SELECTION } } }",
            "id attachments(after: \"not a cursor\") { nodes { id } }",
        ),
        (
            "{ users { nodes { SELECTION } } }",
            "id attachments(includeDeleted: true, onlyDeleted: true) { nodes { id } }",
        ),
    ] {
        let body = same_data_and_errors(&app, &app.admin_token, query, selection).await;
        assert!(
            body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{selection}: {body}"
        );
    }
    // Fields the one pass leaves to their resolvers answer as before beside one-pass ones,
    // and what `@skip`/`@include` leave (applied before execution) answers alike.
    for selection in [
        "id role attachments { nodes { id } }",
        "id attachments { totalCount pageInfo { hasNextPage } nodes { id owner { email } } }",
        "id attachments { edges { cursor node { id } } }",
        "id deletion { reason } attachments { nodes { id } }",
        "id a: attachments(first: 1) { nodes { id } } b: attachments { nodes { filename } }",
        // (One key asked twice with selections sends the whole request field by field.)
        "id attachments { nodes { id } } attachments { nodes { filename } }",
        "id attachments { nodes { id @include(if: true) filename @skip(if: true) } }",
        "id @skip(if: false) attachments { nodes { id } }",
    ] {
        let body = same_both_ways(
            &app,
            &app.admin_token,
            "{ users(includeDeleted: true) { nodes { SELECTION } } }",
            selection,
            json!({}),
        )
        .await;
        assert_ok(&body);
    }
}

/// The yardstick page: the viewer, the users, every user's page in one statement, whether
/// the users' level is written in one pass or not.
async fn a_page_of_users_with_attachments_costs_three_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    for selection in [
        "id email attachments { nodes { id filename sizeBytes } }",
        "... on User { id email attachments { nodes { id filename sizeBytes } } }",
    ] {
        let query = format!("{{ users(first: 50) {{ nodes {{ {selection} }} }} }}");
        let before = app.statements().await;
        let body = app.graphql(Some(&app.admin_token), &query, json!({})).await;
        let after = app.statements().await;
        assert_ok(&body);
        assert_eq!(after - before, 3.0, "{query}: {body}");
    }
}

/// The one pass runs where it may (counted by `/metrics`), never where a field could fail or
/// load, and never for the same selection inside a fragment; a member's own page goes in one
/// pass; two `users` fields of one scope share their read-ahead pages without a statement more.
async fn the_one_pass_is_taken_exactly_where_nothing_can_fail_or_load(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _alan, bea) = setup(&app).await;
    let admin = app.admin_token.clone();
    let cases: [(&str, &str, f64); 9] = [
        (&admin, "{ users { nodes { SELECTION } } }", 1.0),
        (
            &admin,
            "{ users(includeDeleted: true) { nodes { SELECTION } } }",
            1.0,
        ),
        // bea is the last live user: her own email and attachments, nobody else's.
        (
            &bea.token,
            "{ users(last: 1) { nodes { SELECTION } } }",
            1.0,
        ),
        (&ada.token, "{ users { nodes { SELECTION } } }", 0.0),
        (&admin, "{ users { nodes { role SELECTION } } }", 0.0),
        (
            &admin,
            "{ users { nodes { SELECTION ... on User { name } } } }",
            0.0,
        ),
        // `@skip` and `@include` are applied before execution: what stays is plain.
        (
            &admin,
            "{ users { nodes { SELECTION name @skip(if: false) role @skip(if: true) } } }",
            1.0,
        ),
        (
            &admin,
            "{ users { nodes { SELECTION deletion { reason } } } }",
            0.0,
        ),
        (
            &admin,
            "{ a: users { nodes { SELECTION } } b: users { nodes { SELECTION } } }",
            2.0,
        ),
    ];
    let selection = "id email attachments { nodes { id filename sizeBytes } }";
    for (token, query, lists) in cases {
        let direct = query.replace("SELECTION", selection);
        let before = nested_one_pass(&app).await;
        let body = app.graphql(Some(token), &direct, json!({})).await;
        assert_eq!(
            nested_one_pass(&app).await - before,
            lists,
            "{direct}: {body}"
        );
        if lists > 0.0 {
            assert_ok(&body);
        }
        // The same selection inside a fragment: field by field, the same data.
        let fragment = query.replace("SELECTION", &format!("... on User {{ {selection} }}"));
        let before = nested_one_pass(&app).await;
        let by_field = app.graphql(Some(token), &fragment, json!({})).await;
        assert_eq!(nested_one_pass(&app).await - before, 0.0, "{fragment}");
        assert_eq!(body["data"], by_field["data"], "{direct}");
    }
    let body = app
        .graphql(
            Some(&bea.token),
            &format!("{{ users(last: 1) {{ nodes {{ {selection} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["users"]["nodes"][0]["email"],
        json!("bea@example.com")
    );

    // Two `users` fields of one scope: the viewer, each page, each page's attachments.
    let both = format!(
        "{{ a: users {{ nodes {{ {selection} }} }} b: users {{ nodes {{ {selection} }} }} }}"
    );
    let before = app.statements().await;
    let body = app.graphql(Some(&admin), &both, json!({})).await;
    assert_eq!(app.statements().await - before, 5.0, "{body}");
    assert_ok(&body);
    assert_eq!(data(&body)["a"], data(&body)["b"]);
}
