//! Authentication: every field needs a valid token of a live user; introspection does not.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    Backend, TestApp, assert_error, assert_ok, data, error_codes, on_both_backends,
};

on_both_backends!(
    every_field_needs_a_token,
    bad_expired_foreign_and_orphan_tokens_are_unauthenticated,
    introspection_needs_no_token,
    role_is_read_from_the_live_row_at_each_request,
);

async fn every_field_needs_a_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for query in [
        "{ me { id } }",
        "{ users { totalCount } }",
        "{ attachments { totalCount } }",
        &format!("{{ user(id: \"{}\") {{ id }} }}", app.admin_id),
        &format!("{{ node(id: \"{}\") {{ id }} }}", app.admin_id),
    ] {
        let body = app.graphql(None, query, json!({})).await;
        assert_error(&body, "UNAUTHENTICATED");
    }
    let body = app
        .graphql(
            None,
            "mutation { createUser(input: {email: \"x@example.com\", name: \"X\"}) { id } }",
            json!({}),
        )
        .await;
    assert_error(&body, "UNAUTHENTICATED");
    // Nullable root fields stay in `data` as null beside their error.
    let body = app.graphql(None, "{ me { id } }", json!({})).await;
    assert_eq!(data(&body), &json!({ "me": null }), "{body}");
}

async fn bad_expired_foreign_and_orphan_tokens_are_unauthenticated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expired = app.state.services.tokens.issue(1, Duration::ZERO).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let foreign = keepsake::auth::Tokens::new(b"some-other-secret-entirely")
        .issue(1, Duration::from_secs(3600))
        .unwrap();
    let orphan = app
        .state
        .services
        .tokens
        .issue(987_654, Duration::from_secs(3600))
        .unwrap();
    for token in [
        "garbage",
        "a.b.c",
        expired.as_str(),
        foreign.as_str(),
        orphan.as_str(),
    ] {
        let body = app.graphql(Some(token), "{ me { id } }", json!({})).await;
        assert_error(&body, "UNAUTHENTICATED");
    }
    // A header that is not `Bearer <token>`.
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("Authorization", format!("Basic {}", app.admin_token))
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_error(&body, "UNAUTHENTICATED");
    // And the admin's own token works.
    let body = app.as_admin("{ me { id role } }", json!({})).await;
    assert_ok(&body);
    assert_eq!(data(&body)["me"]["role"], "ADMIN");
}

async fn introspection_needs_no_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = app
        .graphql(
            None,
            "{ __schema { queryType { name } } __typename }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["__schema"]["queryType"]["name"], "Query");
}

async fn role_is_read_from_the_live_row_at_each_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let body = app
        .graphql(
            Some(&grace.token),
            "{ users { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    // Demoted: the same token now carries a member's rights.
    let body = app
        .as_admin(
            "mutation($id: ID!) { updateUser(id: $id, input: {role: MEMBER}) { role } }",
            json!({ "id": grace.id }),
        )
        .await;
    assert_ok(&body);
    let body = app
        .graphql(
            Some(&grace.token),
            "{ users { nodes { email } } }",
            json!({}),
        )
        .await;
    assert!(
        error_codes(&body).iter().all(|c| c == "FORBIDDEN"),
        "{body}"
    );
    assert!(!error_codes(&body).is_empty(), "{body}");
}
