//! The checked-in schema matches the code, and every migration goes down and up again.

use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_ok, data, on_both_backends};

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");

#[test]
fn schema_graphql_is_up_to_date() {
    let sdl = keepsake::graphql::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok() {
        std::fs::write(SCHEMA_FILE, &sdl).unwrap();
    }
    let checked_in = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
    assert!(
        checked_in == sdl,
        "schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test schema_graphql_is_up_to_date` and commit it"
    );
}

on_both_backends!(migrations_go_down_and_up_again);

async fn migrations_go_down_and_up_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.member("ada@example.com").await;
    app.state
        .db
        .migrate_down_all()
        .await
        .expect("every down works");
    app.state.db.migrate().await.expect("and up again");
    // The tables are back and empty: the admin's token names no user now.
    let body = app.as_admin("{ me { id } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    keepsake::service::setup::ensure_admin(&app.state.db)
        .await
        .unwrap();
    let body = app.as_admin("{ users { totalCount } }", json!({})).await;
    assert_ok(&body);
    assert_eq!(data(&body)["users"]["totalCount"], 1);
}
