//! What real GraphQL clients send and read: ids built with `btoa` (standard base64, padded),
//! byte counts past 32 bits, Relay's refetch of every node and its backward paging.

use base64::Engine as _;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_ok, data, id_of, on_both_backends};

on_both_backends!(padded_and_standard_base64_ids_are_the_same_id);

/// `btoa("User:2")` is `VXNlcjoy` unpadded by chance; most ids come out padded
/// (`btoa("Deletion:7")` is `RGVsZXRpb246Nw==`), and the README's own examples use them.
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
    // Delete and restore with the deletion's id padded, as the README shows it.
    let deleted = app.by(&ada).try_delete_attachment(&file, None).await;
    let deletion = id_of(&data(&deleted)["deleteAttachment"]);
    let row = keepsake::ids::decode_any(&deletion).unwrap().1;
    let btoa = base64::engine::general_purpose::STANDARD.encode(format!("Deletion:{row}"));
    let restored = app.admin().try_restore(&btoa, None).await;
    assert_ok(&restored);
    assert_eq!(data(&restored)["restore"]["id"], json!(deletion));
}
