//! The HTTP surface: health, metrics, GET queries, POST-only mutations, the body limit.

use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_ok, data, metric, on_both_backends};

on_both_backends!(
    healthz_answers_when_the_database_does,
    metrics_count_statements_and_requests,
    get_runs_queries_but_not_mutations,
    oversized_bodies_are_refused,
    the_playground_is_served_whole_without_a_cdn,
);

async fn healthz_answers_when_the_database_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn metrics_count_statements_and_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.metrics().await;
    let body = app.as_admin("{ me { id } }", json!({})).await;
    assert_ok(&body);
    let after = app.metrics().await;
    assert_eq!(
        metric(&after, "keepsake_graphql_requests_total")
            - metric(&before, "keepsake_graphql_requests_total"),
        1.0
    );
    // The viewer's row and `me`'s row: two statements; and a third, the check of the
    // admin's token that this second read of `/metrics` took.
    assert_eq!(
        metric(&after, "keepsake_db_statements_total")
            - metric(&before, "keepsake_db_statements_total"),
        3.0
    );
    assert!(metric(&after, "keepsake_http_request_duration_seconds_count") >= 2.0);
}

async fn get_runs_queries_but_not_mutations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "{ me { email } }")])
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(data(&body)["me"]["email"], "admin@localhost");

    let response = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(&[(
            "query",
            "mutation { createUser(input: {email: \"g@example.com\", name: \"G\"}) { id } }",
        )])
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body = app.as_admin("{ users { totalCount } }", json!({})).await;
    assert_eq!(
        data(&body)["users"]["totalCount"],
        1,
        "the GET mutation changed nothing"
    );
}

async fn oversized_bodies_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let huge = "x".repeat(keepsake::app::MAX_BODY_BYTES + 1);
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "query": "{ me { id } }", "variables": { "pad": huge } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

async fn the_playground_is_served_whole_without_a_cdn(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app
        .http
        .get(format!("{}/playground", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("https://"), "the page must not need a CDN");
    let mut assets = 0;
    for src in html
        .split('"')
        .filter(|s| s.starts_with("/playground/vendor/"))
    {
        let asset = app
            .http
            .get(format!("{}{src}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{src}");
        let kind = asset.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            kind == "text/javascript" || kind == "text/css",
            "{src}: {kind}"
        );
        assert!(asset.bytes().await.unwrap().len() > 1_000, "{src}");
        assets += 1;
    }
    assert_eq!(assets, 4, "react, react-dom, graphiql and its stylesheet");
    let missing = app
        .http
        .get(format!("{}/playground/vendor/../../etc/passwd", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
