//! Field errors follow the GraphQL spec: the failed field is `null` beside its error, and a
//! non-null field's `null` moves up to the nearest nullable parent (or `data`).

use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_error, data, on_both_backends};

on_both_backends!(a_failed_field_nulls_the_nearest_nullable_parent);

async fn a_failed_field_nulls_the_nearest_nullable_parent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let ask = |query: &'static str| {
        let app = &app;
        let token = ada.token.clone();
        let alan = alan.id.clone();
        async move {
            app.graphql(Some(&token), query, json!({ "alan": alan }))
                .await
        }
    };

    // `attachments` is non-null: its FORBIDDEN nulls the (nullable) user, beside `me`.
    let body =
        ask("query($alan: ID!) { me { id } user(id: $alan) { name attachments { totalCount } } }")
            .await;
    assert_error(&body, "FORBIDDEN");
    assert_eq!(body["errors"][0]["path"], json!(["user", "attachments"]));
    assert_eq!(data(&body)["user"], json!(null), "{body}");
    assert_eq!(data(&body)["me"]["id"], ada.id.as_str());

    // Aliases and fragments are followed to the field's real type.
    let body = ask("query($alan: ID!) { them: node(id: $alan) { ...Files } }
         fragment Files on User { files: attachments { totalCount } }")
    .await;
    assert_error(&body, "FORBIDDEN");
    assert_eq!(data(&body), &json!({ "them": null }), "{body}");

    // Inside a non-null list the null climbs to the non-null connection and then to data.
    let body = ask("{ users { nodes { attachments { totalCount } } } }").await;
    assert!(!body["errors"].as_array().unwrap().is_empty());
    assert_eq!(body["data"], json!(null), "{body}");

    // A nullable field keeps its key, as null: `email` of someone else.
    let body = ask("query($alan: ID!) { user(id: $alan) { name email } }").await;
    assert_error(&body, "FORBIDDEN");
    assert_eq!(data(&body)["user"]["email"], json!(null));
    assert!(data(&body)["user"]["name"].is_string());

    // A non-null root field that fails takes data with it, whatever else was asked.
    let body = ask("{ me { id } users(includeDeleted: true) { totalCount } }").await;
    assert_error(&body, "FORBIDDEN");
    assert_eq!(body["data"], json!(null));
}
