//! Relay connections: cursors that walk every row once, `totalCount`, and checked `first`.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, on_both_backends};

on_both_backends!(
    cursors_walk_every_user_exactly_once,
    first_is_checked,
    attachments_paginate_too,
);

const PAGE: &str = "query($first: Int, $after: String) { users(first: $first, after: $after) {
    totalCount edges { cursor node { id name } } nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

async fn cursors_walk_every_user_exactly_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..24 {
        app.member(&format!("user{i:02}@example.com")).await;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let body = app
            .as_admin(PAGE, json!({ "first": 10, "after": after }))
            .await;
        assert_ok(&body);
        let users = &data(&body)["users"];
        assert_eq!(
            users["totalCount"], 25,
            "totalCount is the whole set on every page"
        );
        let edges = users["edges"].as_array().unwrap();
        let node_ids: Vec<&Value> = users["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["id"])
            .collect();
        let edge_ids: Vec<&Value> = edges.iter().map(|e| &e["node"]["id"]).collect();
        assert_eq!(node_ids, edge_ids);
        assert_eq!(
            users["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        assert_eq!(users["pageInfo"]["startCursor"], edges[0]["cursor"]);
        assert_eq!(users["pageInfo"]["hasPreviousPage"], after.is_some());
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        pages.push(edges.len());
        if users["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(users["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(pages, [10, 10, 5]);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 25, "no row twice, none skipped");
    assert_eq!(seen[0], app.admin_id, "oldest first");
}

async fn first_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (first, after) in [
        (json!(-1), json!(null)),
        (json!(101), json!(null)),
        (json!(5), json!("bogus")),
    ] {
        let body = app
            .as_admin(PAGE, json!({ "first": first, "after": after }))
            .await;
        assert_error(&body, "BAD_USER_INPUT");
    }
    let body = app.as_admin(PAGE, json!({ "first": 0 })).await;
    assert_ok(&body);
    assert_eq!(data(&body)["users"]["nodes"], json!([]));
    assert_eq!(data(&body)["users"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(data(&body)["users"]["pageInfo"]["endCursor"], json!(null));
    let body = app.as_admin(PAGE, json!({ "first": 100 })).await;
    assert_ok(&body);
    assert_eq!(data(&body)["users"]["pageInfo"]["hasNextPage"], false);
}

async fn attachments_paginate_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    for i in 0..5 {
        app.attachment(&ada, &format!("f{i}.txt")).await;
    }
    let query =
        "query($first: Int, $after: String) { me { attachments(first: $first, after: $after) {
        totalCount nodes { filename } pageInfo { hasNextPage endCursor } } } }";
    let body = app
        .graphql(Some(&ada.token), query, json!({ "first": 3 }))
        .await;
    assert_ok(&body);
    let page = &data(&body)["me"]["attachments"];
    assert_eq!(page["totalCount"], 5);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let after = page["pageInfo"]["endCursor"].clone();
    let body = app
        .graphql(
            Some(&ada.token),
            query,
            json!({ "first": 3, "after": after }),
        )
        .await;
    let page = &data(&body)["me"]["attachments"];
    assert_eq!(
        page["nodes"],
        json!([{ "filename": "f3.txt" }, { "filename": "f4.txt" }])
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
}
