//! Root lookups by id (`node`, `nodes`, `user`, `attachment`): batched through the request's
//! loaders, and under the same visibility as their own fields, whoever asks.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, on_both_backends};

on_both_backends!(
    twenty_root_lookups_cost_one_statement_per_entity,
    nodes_answers_in_order_with_null_where_the_viewer_may_not_look,
    nodes_refuses_bad_ids_and_too_many_before_reading,
);

const NODES: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }";

async fn twenty_root_lookups_cost_one_statement_per_entity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut fields = Vec::new();
    for i in 0..7 {
        let member = app.member(&format!("m{i}@example.com")).await;
        let file = app.attachment(&member, &format!("f{i}.txt")).await;
        fields.push(format!("u{i}: node(id: \"{}\") {{ id }}", member.id));
        fields.push(format!("a{i}: attachment(id: \"{file}\") {{ id }}"));
        fields.push(format!("v{i}: user(id: \"{}\") {{ id }}", member.id));
    }
    let query = format!("{{ {} }}", fields.join(" "));
    let before = app.statements().await;
    let body = app.as_admin(&query, json!({})).await;
    let after = app.statements().await;
    assert_ok(&body);
    assert_eq!(data(&body).as_object().unwrap().len(), 21, "{body}");
    assert!(
        data(&body)
            .as_object()
            .unwrap()
            .values()
            .all(|v| v["id"].is_string())
    );
    // The viewer, then one batch of users and one of attachments: not one statement a field.
    assert_eq!(after - before, 3.0, "statements for 21 root lookups");

    let ids: Vec<Value> = data(&body)
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["id"].clone())
        .collect();
    let before = app.statements().await;
    let body = app.as_admin(NODES, json!({ "ids": ids })).await;
    let after = app.statements().await;
    assert_ok(&body);
    assert_eq!(data(&body)["nodes"].as_array().unwrap().len(), 21);
    assert_eq!(after - before, 3.0, "statements for nodes(ids) of 21 ids");
}

async fn nodes_answers_in_order_with_null_where_the_viewer_may_not_look(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let gone = app.member("gone@example.com").await;
    let ada_file = app.attachment(&ada, "ada.txt").await;
    let alan_file = app.attachment(&alan, "alan.txt").await;
    let dropped = app.attachment(&ada, "dropped.txt").await;
    app.admin().delete_attachment(&dropped, None).await;
    let deletion = app.admin().delete_user(&gone.id, None).await;
    let deletion_id = deletion["id"].as_str().unwrap().to_owned();
    let missing = keepsake::ids::encode(keepsake::ids::Kind::User, 999_999);
    let ids = json!([
        ada.id,
        alan_file,
        ada_file,
        gone.id,
        deletion_id,
        missing,
        dropped,
        ada.id
    ]);

    // A member: names of everyone live, only their own attachments, nothing deleted.
    let body = app.by(&ada).send(NODES, json!({ "ids": ids })).await;
    assert_ok(&body);
    let expected = json!([
        { "__typename": "User", "id": ada.id },
        null,
        { "__typename": "Attachment", "id": ada_file },
        null,
        null,
        null,
        null,
        { "__typename": "User", "id": ada.id },
    ]);
    assert_eq!(data(&body)["nodes"], expected, "{body}");

    // An admin sees the other member's attachment and the deletion (a node for those who
    // may read the log), but `nodes`, like `node`, reads live users and attachments.
    let body = app.admin().send(NODES, json!({ "ids": ids })).await;
    assert_ok(&body);
    let nodes = data(&body)["nodes"].as_array().unwrap().clone();
    assert_eq!(
        nodes[1],
        json!({ "__typename": "Attachment", "id": alan_file })
    );
    assert_eq!(
        nodes[4],
        json!({ "__typename": "Deletion", "id": deletion_id })
    );
    for hidden in [3, 5, 6] {
        assert_eq!(nodes[hidden], json!(null), "index {hidden}: {body}");
    }
    // The same answers one by one through `node`.
    for (i, id) in ids.as_array().unwrap().iter().enumerate() {
        let one = app
            .by(&ada)
            .send(
                "query($id: ID!) { node(id: $id) { __typename id } }",
                json!({ "id": id }),
            )
            .await;
        assert_ok(&one);
        assert_eq!(data(&one)["node"], expected[i], "node({id})");
    }
}

async fn nodes_refuses_bad_ids_and_too_many_before_reading(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let body = app
        .by(&ada)
        .send(NODES, json!({ "ids": [ada.id, "nope"] }))
        .await;
    assert_error(&body, "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("ids[1]: "), "{message}");
    assert_eq!(
        body["data"],
        json!(null),
        "nodes is non-null, so data is null: {body}"
    );

    let many: Vec<&str> = std::iter::repeat_n(ada.id.as_str(), 101).collect();
    let before = app.statements().await;
    let body = app.by(&ada).send(NODES, json!({ "ids": many })).await;
    let after = app.statements().await;
    assert_error(&body, "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 100"), "{message}");
    // Only the viewer was read: a refusal reads nothing else.
    assert_eq!(after - before, 1.0);

    let hundred: Vec<&str> = std::iter::repeat_n(ada.id.as_str(), 100).collect();
    let body = app.by(&ada).send(NODES, json!({ "ids": hundred })).await;
    assert_ok(&body);
    assert_eq!(data(&body)["nodes"].as_array().unwrap().len(), 100);
}
