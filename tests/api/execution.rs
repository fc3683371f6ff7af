//! GraphQL execution to the letter, as clients read it: keys in the order the spec collects
//! fields (type conditions and `@skip`/`@include` applied), `{}` for an object whose fields
//! were all skipped, a failed field's `null` at the nearest nullable position, and a merged
//! field reported once, with or without `operationName`. Each case was answered wrongly by
//! async-graphql's executor and the post-processing Keepsake had put after it.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_ok, data, error_codes, on_both_backends};

on_both_backends!(
    a_named_operation_without_its_name_is_shaped_like_one_with_it,
    keys_follow_type_conditions_and_directives,
    an_object_whose_fields_were_all_skipped_is_empty_not_null,
    a_failed_fields_null_follows_the_field_that_ran,
    a_merged_field_reports_its_error_once,
    a_mutation_asked_twice_under_one_key_runs_once,
);

/// The keys of the object at `pointer` in a response's text, in the order they were written.
fn keys_at(text: &str, pointer: &str) -> Vec<String> {
    // serde_json keeps the order of keys with `preserve_order`; read the text by hand instead,
    // so the test does not depend on a feature.
    let value: Value = serde_json::from_str(text).unwrap();
    let object = value
        .pointer(pointer)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no object at {pointer} in {text}"));
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|key| {
            let at = text
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} in {text}"));
            (at, key.clone())
        })
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, key)| key).collect()
}

/// Sends `body` (a whole GraphQL request) as `token`; the answer's text.
async fn post(app: &TestApp, token: &str, body: Value) -> String {
    app.http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn a_named_operation_without_its_name_is_shaped_like_one_with_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let query = format!(
        "query Named {{ user(id: \"{}\") {{ id name attachments(first: 1) {{ totalCount }} }} }}",
        bob.id
    );
    let with_name = post(
        &app,
        &ada.token,
        json!({ "query": query, "operationName": "Named" }),
    )
    .await;
    let without = post(&app, &ada.token, json!({ "query": query })).await;
    for text in [&with_name, &without] {
        let body: Value = serde_json::from_str(text).unwrap();
        // `attachments` is non-null and FORBIDDEN to Ada: its null moves up to `user`.
        assert_eq!(data(&body), &json!({ "user": null }), "{text}");
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{text}");
        assert_eq!(
            body["errors"][0]["path"],
            json!(["user", "attachments"]),
            "{text}"
        );
    }
    assert_eq!(with_name, without);
}

async fn keys_follow_type_conditions_and_directives(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    let text = post(
        &app,
        &ada.token,
        json!({ "query": format!("{{ node(id: \"{file}\") {{ ... on User {{ createdAt name }} \
                                  ... on Attachment {{ filename createdAt }} }} }}") }),
    )
    .await;
    assert_eq!(
        keys_at(&text, "/data/node"),
        ["filename", "createdAt"],
        "{text}"
    );
    let text = post(
        &app,
        &ada.token,
        json!({ "query": "{ me { name @include(if: false) id name } }" }),
    )
    .await;
    assert_eq!(keys_at(&text, "/data/me"), ["id", "name"], "{text}");
    // A variable decides, and a fragment's fields come where it is spread.
    let text = post(
        &app,
        &ada.token,
        json!({ "query": "query($no: Boolean!) { me { role ...F @skip(if: $no) name ... on User { id } } } \
                          fragment F on User { createdAt email }",
                "variables": { "no": false } }),
    )
    .await;
    assert_eq!(
        keys_at(&text, "/data/me"),
        ["role", "createdAt", "email", "name", "id"],
        "{text}"
    );
}

async fn an_object_whose_fields_were_all_skipped_is_empty_not_null(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.member("bob@example.com").await;
    // Every field of the root skipped: `data` is `{}`.
    let body = app
        .graphql(Some(&ada.token), "{ me @skip(if: true) { id } }", json!({}))
        .await;
    assert_eq!(body, json!({ "data": {} }));
    // A member reads other users' emails as null beside an error: the objects stay objects.
    let body = app
        .graphql(
            Some(&app.admin_token),
            "{ users(first: 3) { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let body = app
        .graphql(
            Some(&ada.token),
            "{ users(first: 3) { nodes { email } } }",
            json!({}),
        )
        .await;
    let nodes = data(&body)["users"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 3, "{body}");
    assert!(nodes.iter().all(Value::is_object), "{body}");
    assert_eq!(
        nodes.iter().filter(|n| n["email"].is_null()).count(),
        2,
        "{body}"
    );
    assert_eq!(error_codes(&body), ["FORBIDDEN", "FORBIDDEN"], "{body}");
    // Every field of a list's objects skipped: `{}` each, whether the list is written in one
    // pass or (a key asked twice) field by field.
    for query in [
        "{ users(first: 2) { nodes { id @skip(if: true) } } }",
        "{ users(first: 2) { nodes { id @skip(if: true) } nodes { name @skip(if: true) } } }",
        "{ me { attachments { nodes { id @skip(if: true) } } } }",
    ] {
        let body = app.graphql(Some(&app.admin_token), query, json!({})).await;
        assert_ok(&body);
        let text = body.to_string();
        assert!(!text.contains("null"), "{query}: {text}");
    }
    let _ = app.attachment(&ada, "a.txt").await;
    let body = app
        .graphql(
            Some(&ada.token),
            "{ me { attachments { nodes { id @skip(if: true) } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["me"]["attachments"]["nodes"],
        json!([{}]),
        "{body}"
    );
}

async fn a_failed_fields_null_follows_the_field_that_ran(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    // One response key names two fields under two type conditions; for a User, `x` is the
    // non-null `attachments`, FORBIDDEN to Ada: its null moves up to `node`, whichever
    // fragment comes first.
    for fragments in [
        "id ... on Attachment { x: owner { id } } ... on User { x: attachments { totalCount } }",
        "id ... on User { x: attachments { totalCount } } ... on Attachment { x: owner { id } }",
    ] {
        let query = format!("{{ node(id: \"{}\") {{ {fragments} }} }}", bob.id);
        let body = app.graphql(Some(&ada.token), &query, json!({})).await;
        assert_eq!(data(&body), &json!({ "node": null }), "{query}: {body}");
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["node", "x"]), "{body}");
    }
}

async fn a_merged_field_reports_its_error_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let id = keepsake::ids::encode(keepsake::ids::Kind::Deletion, 1);
    for query in [
        format!("{{ deletion(id: \"{id}\") {{ id }} deletion(id: \"{id}\") {{ reason }} }}"),
        format!(
            "{{ ...A ...B }} fragment A on Query {{ deletion(id: \"{id}\") {{ id }} }} \
             fragment B on Query {{ deletion(id: \"{id}\") {{ id }} }}"
        ),
    ] {
        let body = app.graphql(Some(&ada.token), &query, json!({})).await;
        assert_eq!(error_codes(&body), ["FORBIDDEN"], "{query}: {body}");
        assert_eq!(data(&body), &json!({ "deletion": null }), "{body}");
    }
}

/// `a: deleteAttachment(id: X) { id } a: deleteAttachment(id: X) { reason }` is one field to
/// the spec: the attachment is deleted once and both selections answered. Run twice, the
/// second delete would fail (the attachment is gone by then).
async fn a_mutation_asked_twice_under_one_key_runs_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    for (i, query) in [
        "mutation($id: ID!) { a: deleteAttachment(id: $id, reason: \"x\") { id } \
         a: deleteAttachment(id: $id, reason: \"x\") { reason } }",
        "mutation($id: ID!) { a: deleteAttachment(id: $id, reason: \"x\") { id } \
         ... { a: deleteAttachment(id: $id, reason: \"x\") { reason } } }",
    ]
    .iter()
    .enumerate()
    {
        let file = app.attachment(&ada, &format!("f{i}.txt")).await;
        let body = app
            .graphql(Some(&ada.token), query, json!({ "id": file }))
            .await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        assert_eq!(data(&body)["a"]["reason"], "x", "{body}");
        assert!(data(&body)["a"]["id"].is_string(), "{body}");
    }
    let log = app
        .admin()
        .send("{ deletions { totalCount } }", json!({}))
        .await;
    assert_eq!(data(&log)["deletions"]["totalCount"], 2, "{log}");
}
