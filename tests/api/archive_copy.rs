//! The archive keeps each purged row as the JSON text of its model: the same bytes whichever
//! database wrote it. PostgreSQL builds the copy in SQL from the row it deletes (so that no
//! row travels to Keepsake and back); this test holds that text to `serde_json`'s of the
//! model, for text that needs escaping and moments with 0, 3 and 6 digits of fraction.

use sea_orm::{ConnectionTrait as _, DbBackend, FromQueryResult, Statement};
use serde_json::json;

use keepsake::entity::{attachment, user};

use crate::helpers::{Backend, TestApp, on_both_backends, raw_connection};

/// Quotes, a backslash, a slash, a character past the BMP and what HTML would escape; the
/// test adds control characters (which the API refuses, but older rows may hold) in SQL.
const HOSTILE: &str = "Zoë \"Q\" \\ back/slash 😀 <b>&'";

async fn rows<M: FromQueryResult>(app: &TestApp, sql: &str) -> Vec<M> {
    let conn = raw_connection(app.db.url.as_str()).await.unwrap();
    let backend = if app.is_postgres() {
        DbBackend::Postgres
    } else {
        DbBackend::Sqlite
    };
    let found = conn
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap();
    conn.close().await.unwrap();
    found
        .iter()
        .map(|row| M::from_query_result(row, "").unwrap())
        .collect()
}

async fn an_archived_row_is_the_json_of_its_model_byte_for_byte(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = app
        .admin()
        .try_create_user(json!({ "email": "zoe@example.com", "name": HOSTILE }))
        .await;
    let zoe = body["data"]["createUser"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    for filename in [HOSTILE, "plain.txt", "ü.bin"] {
        let body = app
            .admin()
            .try_create_attachment(json!({ "ownerId": zoe, "filename": filename, "contentType": "text/plain; charset=\"utf-8\"", "sizeBytes": 3 }))
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // Every escape JSON has: newline, tab, carriage return, backspace, form feed, and the
    // others as \u00XX; DEL is not escaped.
    let controls = if app.is_postgres() {
        "chr(10) || chr(9) || chr(13) || chr(8) || chr(12) || chr(1) || chr(31) || chr(127)"
    } else {
        "char(10, 9, 13, 8, 12, 1, 31, 127)"
    };
    app.execute_sql(&[
        format!("UPDATE users SET name = name || {controls} WHERE email = 'zoe@example.com'"),
        format!(
            "UPDATE attachments SET filename = {controls} || filename WHERE filename = 'plain.txt'"
        ),
    ])
    .await;
    if app.is_postgres() {
        // Moments with no fraction, with milliseconds and with microseconds (the server's own
        // have microseconds almost always).
        app.execute_sql(&[
            "UPDATE users SET created_at = '2026-01-02 03:04:05+00', updated_at = '2026-01-02 03:04:05.12+00'",
            "UPDATE attachments SET created_at = '0999-01-02 03:04:05.000001+00' WHERE filename LIKE '%plain.txt'",
            "UPDATE attachments SET created_at = '2026-12-31 23:59:59.999+00' WHERE filename = 'ü.bin'",
            "UPDATE attachments SET sha256 = repeat('ab', 32) WHERE filename LIKE '%plain.txt'",
        ])
        .await;
    }
    app.admin().delete_user(&zoe, Some("leaving")).await;
    let users: Vec<user::Model> =
        rows(&app, "SELECT * FROM users WHERE email = 'zoe@example.com'").await;
    let attachments: Vec<attachment::Model> =
        rows(&app, "SELECT * FROM attachments ORDER BY id").await;
    assert_eq!((users.len(), attachments.len()), (1, 3));

    let report = app.admin().purge("0s", false).await;
    assert_eq!(report["archived"], 4, "{report}");

    #[derive(FromQueryResult)]
    struct Archived {
        entity: String,
        entity_id: i64,
        row: String,
    }
    let archived: Vec<Archived> = rows(
        &app,
        "SELECT entity, entity_id, row FROM archive ORDER BY id",
    )
    .await;
    let mut expected: Vec<(String, i64, String)> = attachments
        .iter()
        .map(|a| ("attachment".into(), a.id, serde_json::to_string(a).unwrap()))
        .collect();
    expected.extend(
        users
            .iter()
            .map(|u| ("user".into(), u.id, serde_json::to_string(u).unwrap())),
    );
    let got: Vec<(String, i64, String)> = archived
        .into_iter()
        .map(|a| (a.entity, a.entity_id, a.row))
        .collect();
    assert_eq!(got, expected);
}

on_both_backends!(an_archived_row_is_the_json_of_its_model_byte_for_byte);
