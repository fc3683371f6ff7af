//! Relay connections: cursors that walk every row once, `totalCount`, and checked `first`.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, on_both_backends};

on_both_backends!(
    cursors_walk_every_user_exactly_once,
    first_is_checked,
    attachments_paginate_too,
    every_connection_pages_backward_as_it_pages_forward,
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

/// Walks a connection by pages of 3, forward (`first`/`after`) or backward (`last`/`before`),
/// checking each page's `pageInfo` as Relay reads it; the ids in the connection's order.
async fn walk(app: &TestApp, query: &str, at: &str, backward: bool) -> Vec<String> {
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let variables = if backward {
            json!({ "first": null, "after": null, "last": 3, "before": cursor })
        } else {
            json!({ "first": 3, "after": cursor, "last": null, "before": null })
        };
        let body = app.as_admin(query, variables).await;
        assert_ok(&body);
        let connection = body["data"]
            .pointer(at)
            .unwrap_or_else(|| panic!("{at}: {body}"));
        let ids: Vec<String> = connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        let cursors: Vec<&Value> = connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["cursor"])
            .collect();
        let info = &connection["pageInfo"];
        assert!(ids.len() <= 3, "{at}: {body}");
        if let (Some(first), Some(last)) = (cursors.first(), cursors.last()) {
            assert_eq!(&info["startCursor"], *first, "{at}: {body}");
            assert_eq!(&info["endCursor"], *last, "{at}: {body}");
        }
        let (toward, from) = if backward {
            (&info["hasPreviousPage"], &info["hasNextPage"])
        } else {
            (&info["hasNextPage"], &info["hasPreviousPage"])
        };
        // The side the walk came from has rows whenever a cursor was given.
        assert_eq!(from, &json!(cursor.is_some()), "{at}: {body}");
        let more = toward.as_bool().unwrap();
        pages.push(ids);
        if !more {
            break;
        }
        let next = if backward { "startCursor" } else { "endCursor" };
        cursor = Some(info[next].as_str().unwrap().to_owned());
        assert!(pages.len() < 50, "{at}: no end");
    }
    if backward {
        pages.reverse();
    }
    pages.concat()
}

/// Every connection (the four roots, `User.attachments`, `Deletion.attachments`) pages
/// backward with `last`/`before`, and the backward walk meets every row the forward walk
/// does, in the same order; mixing the two directions is refused.
async fn every_connection_pages_backward_as_it_pages_forward(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut files = Vec::new();
    for i in 0..8 {
        files.push(app.attachment(&ada, &format!("f{i}.txt")).await);
        app.member(&format!("user{i}@example.com")).await;
    }
    // A bulk deletion of seven, and one deletion each of the others' accounts.
    let ids: Vec<&str> = files.iter().take(7).map(String::as_str).collect();
    let bulk = app.admin().try_delete_attachments(&ids, Some("bulk")).await;
    assert_ok(&bulk);
    let bulk = crate::helpers::id_of(&data(&bulk)["deleteAttachments"]);
    for i in 0..4 {
        let id = app.member(&format!("gone{i}@example.com")).await.id;
        assert_ok(&app.admin().try_delete_user(&id, None).await);
    }
    let vars = "$first: Int, $after: String, $last: Int, $before: String";
    let args = "first: $first, after: $after, last: $last, before: $before";
    let conn = "{ edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }";
    let connections = [
        (
            format!("query({vars}) {{ c: users({args}) {conn} }}"),
            "/c".to_owned(),
        ),
        (
            format!("query({vars}) {{ c: attachments({args}, includeDeleted: true) {conn} }}"),
            "/c".to_owned(),
        ),
        (
            format!("query({vars}) {{ c: deletions({args}) {conn} }}"),
            "/c".to_owned(),
        ),
        (
            format!(
                "query({vars}) {{ u: user(id: \"{}\") {{ c: attachments({args}, includeDeleted: true) {conn} }} }}",
                ada.id
            ),
            "/u/c".to_owned(),
        ),
        (
            format!(
                "query({vars}) {{ d: deletion(id: \"{bulk}\") {{ c: attachments({args}, includeDeleted: true) {conn} }} }}"
            ),
            "/d/c".to_owned(),
        ),
    ];
    for (query, at) in &connections {
        let forward = walk(&app, query, at, false).await;
        let backward = walk(&app, query, at, true).await;
        assert!(forward.len() >= 5, "{query}: {forward:?}");
        assert_eq!(backward, forward, "{query}");
    }
    // The archive, once the deletions are purged.
    let purged = app.admin().try_purge("0s", false).await;
    assert_ok(&purged);
    let query = format!(
        "query({vars}) {{ c: archivedRecords({args}) {{ edges {{ cursor node {{ entityId }} }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
    );
    let query = query.replace("node { entityId }", "node { id: entityId }");
    let forward = walk(&app, &query, "/c", false).await;
    assert_eq!(walk(&app, &query, "/c", true).await, forward);
    assert!(forward.len() >= 11, "{forward:?}");
    // One direction at a time.
    let body = app
        .as_admin("{ users(first: 2, last: 2) { totalCount } }", json!({}))
        .await;
    assert_error(&body, "BAD_USER_INPUT");
    let body = app
        .as_admin(
            "query($c: String) { users(last: 2, after: $c) { totalCount } }",
            json!({ "c": null }),
        )
        .await;
    assert_ok(&body);
}
