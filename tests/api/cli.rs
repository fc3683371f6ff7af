//! The `keepsake` binary: `user add` → `token` → a request, first start, `migrate`, `schema`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDb, assert_ok, data, keepsake, on_both_backends};

fn last_line(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

on_both_backends!(
    user_add_then_token_then_request,
    first_start_creates_an_admin_and_prints_its_token,
    demo_data_loads_once,
);

async fn user_add_then_token_then_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.db.url.clone();
    let (id, token) = tokio::task::spawn_blocking(move || {
        let added = keepsake(&url)
            .args([
                "user",
                "add",
                "--email",
                "Cli@Example.com",
                "--name",
                "Cli User",
                "--role",
                "support",
            ])
            .output()
            .unwrap();
        let id = last_line(&added);
        let token = last_line(
            &keepsake(&url)
                .args(["token", "--user", &id, "--ttl", "1h"])
                .output()
                .unwrap(),
        );
        // A second add of the same email fails with one clear line.
        let again = keepsake(&url)
            .args([
                "user",
                "add",
                "--email",
                "cli@example.com",
                "--name",
                "Again",
            ])
            .output()
            .unwrap();
        assert!(!again.status.success());
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(stderr.contains("already used"), "{stderr}");
        (id, token)
    })
    .await
    .unwrap();
    let body = app
        .graphql(Some(&token), "{ me { id email role } }", json!({}))
        .await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["me"],
        json!({ "id": id, "email": "cli@example.com", "role": "SUPPORT" })
    );
}

async fn first_start_creates_an_admin_and_prints_its_token(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let url = db.url.clone();
    let (mut child, token, playground) = tokio::task::spawn_blocking(move || {
        let mut child = keepsake(&url)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut token = None;
        let mut playground = None;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(t) = line.trim().strip_prefix("token:") {
                token = Some(t.trim().to_owned());
            }
            if let Some(p) = line.trim().strip_prefix("playground:") {
                playground = Some(p.trim().to_owned());
                break;
            }
        }
        // Keep draining stdout so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (
            child,
            token.expect("a token line"),
            playground.expect("a playground line"),
        )
    })
    .await
    .unwrap();
    let base = playground.trim_end_matches("/playground").to_owned();
    let client = reqwest::Client::new();
    let page = client.get(&playground).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
    // The trash is served whole too: no script or style from elsewhere.
    let trash = client.get(format!("{base}/trash")).send().await.unwrap();
    assert_eq!(trash.status(), 200);
    let trash = trash.text().await.unwrap();
    assert!(trash.contains("<title>Keepsake trash</title>"));
    assert!(!trash.contains("src=\"http") && !trash.contains("href=\"http"));
    let body: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { email role } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().ok();
    child.wait().ok();
    assert_eq!(
        data(&body)["me"],
        json!({ "email": "admin@localhost", "role": "ADMIN" }),
        "{body}"
    );
}

async fn demo_data_loads_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        keepsake::service::setup::load_demo(&app.state.db, &app.state.services.storage)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        keepsake::service::setup::load_demo(&app.state.db, &app.state.services.storage)
            .await
            .unwrap(),
        0
    );
    let body = app
        .as_admin(
            "{ users { totalCount } attachments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body),
        &json!({ "users": { "totalCount": 4 }, "attachments": { "totalCount": 6 } })
    );
}

#[test]
fn schema_command_prints_the_checked_in_schema() {
    let output = keepsake("sqlite::memory:").arg("schema").output().unwrap();
    assert!(output.status.success());
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), checked_in);
}

#[test]
fn migrate_applies_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
    let output = keepsake(&url).arg("migrate").output().unwrap();
    assert_eq!(last_line(&output), "migrations applied");
    // Twice is fine: nothing is pending.
    let output = keepsake(&url).arg("migrate").output().unwrap();
    assert_eq!(last_line(&output), "migrations applied");
}
