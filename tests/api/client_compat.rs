//! What real GraphQL clients send and read: ids built with `btoa` (standard base64, padded),
//! byte counts past 32 bits, Relay's refetch of every node and its backward paging.

use base64::Engine as _;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_ok, data, id_of, on_both_backends};

on_both_backends!(
    padded_and_standard_base64_ids_are_the_same_id,
    byte_counts_are_safe_ints_and_ints_stay_32_bits,
    a_deletion_is_a_node_staff_refetch_and_members_never_see,
);

/// `btoa("User:2")` is `VXNlcjoy` unpadded by chance; most ids come out padded
/// (`btoa("Deletion:7")` is `RGVsZXRpb246Nw==`), which is how clients that encode ids
/// themselves send them; Keepsake writes its ids unpadded.
async fn padded_and_standard_base64_ids_are_the_same_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    for (kind, id) in [("User", &ada.id), ("Attachment", &file)] {
        let row = keepsake::ids::decode_any(id).unwrap().1;
        let btoa = base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{row}"));
        let body = app
            .admin()
            .send(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": btoa }),
            )
            .await;
        assert_ok(&body);
        // The answer names the node in Keepsake's own spelling.
        assert_eq!(data(&body)["node"]["id"], json!(id), "{btoa}: {body}");
    }
    // Delete and restore with the deletion's id padded, as `btoa` writes it.
    let deleted = app.by(&ada).try_delete_attachment(&file, None).await;
    let deletion = id_of(&data(&deleted)["deleteAttachment"]);
    let row = keepsake::ids::decode_any(&deletion).unwrap().1;
    let btoa = base64::engine::general_purpose::STANDARD.encode(format!("Deletion:{row}"));
    let restored = app.admin().try_restore(&btoa, None).await;
    assert_ok(&restored);
    assert_eq!(data(&restored)["restore"]["id"], json!(deletion));
}

/// `sizeBytes` and the storage figures are `SafeInt`s: past 32 bits and up to 2^53 - 1 they
/// are read and written as exact JSON numbers, and a graphql-js client's `Int` never sees a
/// value it would refuse. Past 2^53 - 1 a byte count is refused; an `Int` argument past 32
/// bits is refused, never echoed.
async fn byte_counts_are_safe_ints_and_ints_stay_32_bits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let create = "mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { sizeBytes } }";
    let input = |size: serde_json::Value| json!({ "input": { "ownerId": ada.id, "filename": "big.iso", "contentType": "application/octet-stream", "sizeBytes": size } });
    for size in [3_000_000_000i64, 9_007_199_254_740_991] {
        let body = app.by(&ada).send(create, input(json!(size))).await;
        assert_ok(&body);
        assert_eq!(data(&body)["createAttachment"]["sizeBytes"], json!(size));
    }
    for refused in [
        json!(9_007_199_254_740_992i64),
        json!(1.5),
        json!("3000000000"),
    ] {
        let body = app.by(&ada).send(create, input(refused.clone())).await;
        assert!(body.get("errors").is_some(), "{refused}: {body}");
        assert_eq!(data(&body), &serde_json::Value::Null, "{refused}: {body}");
    }
    let body = app
        .admin()
        .send(
            "{ __type(name: \"Attachment\") { fields { name type { ofType { name } } } } }",
            json!({}),
        )
        .await;
    let size = body["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "sizeBytes")
        .cloned()
        .unwrap();
    assert_eq!(size["type"]["ofType"]["name"], "SafeInt", "{size}");
    let body = app
        .admin()
        .send(
            "{ storageStats { liveBytes deletedBytes purgeFreesBytes } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["storageStats"],
        json!({ "liveBytes": 0, "deletedBytes": 0, "purgeFreesBytes": 0 })
    );
    // An Int past 32 bits, literal or variable, is refused before anything runs.
    for (query, variables) in [
        ("{ users(first: 2147483648) { totalCount } }", json!({})),
        (
            "query($n: Int) { users(first: $n) { totalCount } }",
            json!({ "n": 3_000_000_000i64 }),
        ),
    ] {
        let body = app.admin().send(query, variables).await;
        assert_eq!(
            crate::helpers::error_codes(&body),
            ["GRAPHQL_VALIDATION_FAILED"],
            "{body}"
        );
    }
}

/// Relay refetches any object by `node(id:)`: a deletion too, for support and admins, who may
/// read the log. To a member a deletion's id is like one that never existed: `null`.
async fn a_deletion_is_a_node_staff_refetch_and_members_never_see(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let sam = app.user("sam@example.com", "SUPPORT").await;
    let file = app.attachment(&ada, "a.txt").await;
    let deleted = app
        .by(&ada)
        .try_delete_attachment(&file, Some("tidy"))
        .await;
    let deletion = id_of(&data(&deleted)["deleteAttachment"]);
    let query = "query($id: ID!) { node(id: $id) { __typename id ... on Deletion { reason entity } } \
                 nodes(ids: [$id]) { id } }";
    for token in [&app.admin_token, &sam.token] {
        let body = app
            .graphql(Some(token), query, json!({ "id": deletion }))
            .await;
        assert_ok(&body);
        assert_eq!(
            data(&body)["node"],
            json!({ "__typename": "Deletion", "id": deletion, "reason": "tidy", "entity": "ATTACHMENT" })
        );
        assert_eq!(data(&body)["nodes"], json!([{ "id": deletion }]));
    }
    let body = app.by(&ada).send(query, json!({ "id": deletion })).await;
    assert_ok(&body);
    assert_eq!(data(&body), &json!({ "node": null, "nodes": [null] }));
    // The schema says so: Deletion implements Node.
    let body = app
        .admin()
        .send(
            "{ __type(name: \"Deletion\") { interfaces { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body)["__type"]["interfaces"],
        json!([{ "name": "Node" }])
    );
}
