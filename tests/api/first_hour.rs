//! A newcomer's first hour, continued (issue 24): each trap a newcomer fell into, and the
//! message or behaviour that now meets them instead.

use std::process::Output;

use serde_json::json;

use crate::helpers::{
    Backend, TestApp, TestDb, assert_ok, data, error_codes, keepsake, on_both_backends,
    raw_connection, succeeded,
};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one line a failed command wrote.
#[track_caller]
fn one_error_line(output: &Output) -> String {
    assert!(!output.status.success(), "must fail: {}", stderr(output));
    let stderr = stderr(output);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_owned()
}

/// What a directory holds, by name.
fn listing(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_command_run_where_no_database_is_creates_none_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 5] = [
        &["token", "--email", "admin@localhost"],
        &["user", "add", "--email", "x@example.com", "--name", "X"],
        &["check"],
        &["purge", "--older-than", "30d"],
        &["archive", "export"],
    ];
    for args in commands {
        let output = keepsake("unused")
            .env_remove("DATABASE_URL")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        let line = one_error_line(&output);
        assert!(
            line.contains(
                "no Keepsake database at ./keepsake.db — set DATABASE_URL to the server's"
            ) && line.contains("sqlite://keepsake.db?mode=rwc, the default"),
            "{args:?}: {line}"
        );
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            listing(dir.path()).is_empty(),
            "{args:?} created {:?}",
            listing(dir.path())
        );
    }
    // A URL that names a missing file is named, `?mode=rwc` or not.
    let path = dir.path().join("elsewhere.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let output = keepsake(&url)
        .args(["token", "--email", "admin@localhost"])
        .output()
        .unwrap();
    let line = one_error_line(&output);
    assert!(
        line.contains(&format!("no Keepsake database at {}", path.display()))
            && line.contains(&url),
        "{line}"
    );
    assert!(!path.exists(), "nothing was created");
    // The intended flow: `migrate` creates it, then the other commands use it.
    succeeded(&keepsake(&url).arg("migrate").output().unwrap());
    let output = keepsake(&url)
        .args(["token", "--email", "admin@localhost"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--email: no live user has the email admin@localhost"),
        "{}",
        stderr(&output)
    );
}

on_both_backends!(a_token_pasted_with_its_prefix_works_and_garbage_is_told_how_to_paste,);

/// Posts `{ me { id } }` with this `Authorization` header value, as it stands.
async fn me_with_header(app: &TestApp, authorization: &str) -> serde_json::Value {
    app.http
        .post(format!("{}/graphql", app.base))
        .header("Authorization", authorization)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn a_token_pasted_with_its_prefix_works_and_garbage_is_told_how_to_paste(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = &app.admin_token;
    for pasted in [
        format!("Bearer Bearer {token}"),
        format!("Bearer \"{token}\""),
        format!("  bearer {token}  "),
        format!("Authorization: Bearer {token}"),
        token.clone(),
    ] {
        let body = me_with_header(&app, &pasted).await;
        assert_ok(&body);
        assert_eq!(data(&body)["me"]["id"], app.admin_id, "{pasted}");
    }
    // The bytes too: the content route reads the header the same way.
    let content = app
        .http
        .get(format!(
            "{}/attachments/QXR0YWNobWVudDo5OTk=/content",
            app.base
        ))
        .header("Authorization", format!("Bearer Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 404, "signed in, so a missing attachment");
    for garbage in ["Bearer not-a-token", "Bearer {\"Authorization\":\"Bearer"] {
        let body = me_with_header(&app, garbage).await;
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("the token is not valid: ")
                && message.ends_with("— paste only the token, without `Bearer ` or JSON"),
            "{garbage}: {message}"
        );
    }
}

on_both_backends!(the_first_start_banner_comes_after_the_migration_logs,);

async fn the_first_start_banner_comes_after_the_migration_logs(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        // stdout and stderr into one file, in the order they were written.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let file = std::fs::File::create(&path).unwrap();
        let mut child = keepsake(&url)
            .env("RUST_LOG", "info")
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut out = String::new();
        for _ in 0..600 {
            out = std::fs::read_to_string(&path).unwrap();
            if out.contains("Keepsake is serving") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.kill().ok();
        child.wait().ok();
        out
    })
    .await
    .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    let last_migration = lines
        .iter()
        .rposition(|line| line.contains("sea_orm_migration"))
        .unwrap_or_else(|| panic!("no migration log line in:\n{out}"));
    let token = lines
        .iter()
        .position(|line| line.trim_start().starts_with("token:"))
        .unwrap_or_else(|| panic!("no token line in:\n{out}"));
    assert!(
        token > last_migration,
        "the banner is among the logs:\n{out}"
    );
    // Its `token:` line: the label, then the token as the second field, alone.
    let fields: Vec<&str> = lines[token].split_whitespace().collect();
    assert_eq!(fields.len(), 2, "{}", lines[token]);
    assert_eq!(fields[1].split('.').count(), 3, "{}", lines[token]);
    // Set apart: a blank line and a rule above the block, a rule below it.
    let top = lines[..token]
        .iter()
        .rposition(|line| line.starts_with("====="))
        .unwrap_or_else(|| panic!("no rule above the banner:\n{out}"));
    assert!(top > last_migration && lines[top - 1].is_empty(), "{out}");
    assert!(
        lines[token..].iter().any(|line| line.starts_with("=====")),
        "no rule below the banner:\n{out}"
    );
}

on_both_backends!(a_port_in_use_stops_serve_before_the_database_is_touched,);

async fn a_port_in_use_stops_serve_before_the_database_is_touched(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let url = db.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        keepsake(&url)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    drop(taken);
    let line = one_error_line(&output);
    assert!(
        line.contains(&format!(
            "KEEPSAKE_BIND (--bind): port {port} is in use on 127.0.0.1 — another Keepsake? \
             stop it, or set KEEPSAKE_BIND (--bind) to another address"
        )),
        "{line}"
    );
    assert_eq!(output.status.code(), Some(1));
    // Nothing was created, migrated or given a secret.
    match keepsake::config::sqlite_path(&db.url) {
        Some(path) => assert!(!path.exists(), "{} was created", path.display()),
        None => {
            let conn = raw_connection(&db.url).await.unwrap();
            let settings =
                sea_orm::ConnectionTrait::execute_unprepared(&*conn, "SELECT 1 FROM settings")
                    .await;
            conn.close().await.ok();
            assert!(settings.is_err(), "the database was migrated");
        }
    }
}

on_both_backends!(every_404_says_what_was_not_found,);

/// A 405 has a body too, and still names the methods the path takes.
#[tokio::test]
async fn a_405_says_which_methods_the_path_takes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (path, allowed) in [("/graphql", "POST"), ("/healthz", "GET")] {
        let response = app
            .http
            .delete(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{path}");
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(allow.contains(allowed), "{path}: Allow {allow:?}");
        let body = response.text().await.unwrap();
        assert!(
            body.starts_with("405: ") && body.contains("DELETE") && body.contains(path),
            "{path}: {body}"
        );
    }
}

async fn every_404_says_what_was_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let get = |path: &'static str| {
        let request = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth(&app.admin_token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 404, "{path}");
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (kind, response.text().await.unwrap())
        }
    };
    // Pages' paths: a line of text.
    for path in ["/nothing-here", "/playground/vendor/nothing.js", "/trash/"] {
        let (kind, body) = get(path).await;
        assert!(kind.starts_with("text/plain"), "{path}: {kind}");
        assert!(
            body.starts_with("404: ") && body.contains("nothing"),
            "{path}: {body}"
        );
    }
    // The API's paths: a GraphQL-shaped error, as the API's other errors.
    for path in [
        "/graphql/extra",
        "/attachments/QXR0YWNobWVudDo5OTk/content",
        "/attachments/nothing",
    ] {
        let (kind, body) = get(path).await;
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error_codes(&body), ["NOT_FOUND"], "{path}: {body}");
        assert!(
            !body["errors"][0]["message"].as_str().unwrap().is_empty(),
            "{path}: {body}"
        );
    }
}

on_both_backends!(bytes_that_are_not_their_declared_type_are_refused_in_words,);

async fn bytes_that_are_not_their_declared_type_are_refused_in_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let id = app.attachment(&alan, "photo.png").await;
    let response = app
        .http
        .put(format!("{}/attachments/{id}/content", app.base))
        .bearer_auth(&alan.token)
        .header("content-type", "image/png")
        .body("hello, world")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "contentType: image/png was declared, but the bytes are not image/png (they do not \
         start with its signature); they look like text, starting \"hello, world\"; send the \
         right Content-Type, or application/octet-stream for bytes of any kind",
        "{body}"
    );
}

on_both_backends!(seeded_content_is_distinct_per_attachment_even_when_short,);

async fn seeded_content_is_distinct_per_attachment_even_when_short(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let seeded = app
        .run(&[
            "seed",
            "--users",
            "4",
            "--attachments-per-user",
            "3",
            "--content-bytes",
            "30",
        ])
        .await;
    succeeded(&seeded);
    let body = app
        .as_admin(
            "{ attachments(first: 50) { nodes { id sizeBytes sha256 } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let nodes = data(&body)["attachments"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 12, "{body}");
    let mut hashes: Vec<&str> = nodes
        .iter()
        .map(|node| {
            assert_eq!(node["sizeBytes"], 30, "{node}");
            node["sha256"].as_str().unwrap()
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(
        hashes.len(),
        12,
        "some attachments share their bytes: {body}"
    );
    // Twelve blobs in the store: none were folded into another.
    assert_eq!(crate::content::stored(&app).0.len(), 12);
    // Two of them, read back: each starts with its own id.
    for node in &nodes[..2] {
        let id = node["id"].as_str().unwrap();
        let row = keepsake::ids::decode(keepsake::ids::Kind::Attachment, id).unwrap();
        let bytes = app
            .http
            .get(format!("{}/attachments/{id}/content", app.base))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            bytes.starts_with(format!("{row}: ").as_bytes()),
            "{bytes:?}"
        );
    }
}

on_both_backends!(demo_attachments_hold_bytes_of_their_size_and_type,);

async fn demo_attachments_hold_bytes_of_their_size_and_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    keepsake::service::setup::load_demo(&app.state.db, &app.state.services.storage)
        .await
        .unwrap();
    let body = app
        .as_admin(
            "{ attachments(first: 50) { nodes { id filename contentType sizeBytes sha256 } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let nodes = data(&body)["attachments"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6, "{body}");
    for node in nodes {
        let id = node["id"].as_str().unwrap();
        let response = app
            .http
            .get(format!("{}/attachments/{id}/content", app.base))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{node}");
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.len() > 1_000, "{node}: {} bytes", bytes.len());
        assert_eq!(node["sizeBytes"], bytes.len(), "{node}");
        assert_eq!(node["sha256"], crate::content::sha256(&bytes), "{node}");
        let kind = node["contentType"].as_str().unwrap();
        match keepsake::storage::sniff(&bytes) {
            Some(seen) => assert_eq!(seen, kind, "{node}"),
            None => {
                assert!(kind.starts_with("text/"), "{node}: bytes of no known type");
                assert!(std::str::from_utf8(&bytes).is_ok(), "{node}: not text");
            }
        }
    }
}

on_both_backends!(
    the_log_reads_newest_deletion_first_and_pages_both_ways_by_it,
    restored_and_purged_entries_keep_the_names_they_showed,
);

/// The ids of a `deletions` page and its page info.
async fn log_page(app: &TestApp, args: &str) -> (Vec<String>, serde_json::Value) {
    let body = app
        .as_admin(
            &format!(
                "{{ deletions({args}) {{ nodes {{ id }} pageInfo {{ hasNextPage \
                 hasPreviousPage startCursor endCursor }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_ok(&body);
    let log = &data(&body)["deletions"];
    let ids = log["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, log["pageInfo"].clone())
}

async fn the_log_reads_newest_deletion_first_and_pages_both_ways_by_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.member("owner@example.com").await;
    let mut deletions = Vec::new();
    for name in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        let id = app.attachment(&owner, name).await;
        let deleted = app.admin().delete_attachment(&id, None).await;
        deletions.push(deleted["id"].as_str().unwrap().to_owned());
    }
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| deletions[i].clone());
    // Written in the order a, b, c, d; made in the order c, b = d (one microsecond), a.
    let now = chrono::Utc::now();
    let ago = |s| now - chrono::Duration::seconds(s);
    app.move_deletion_to(&a, ago(10)).await;
    app.move_deletion_to(&b, ago(20)).await;
    app.move_deletion_to(&c, ago(30)).await;
    app.move_deletion_to(&d, ago(20)).await;
    let newest_first = [a.clone(), d.clone(), b.clone(), c.clone()];
    let (all, _) = log_page(&app, "first: 10").await;
    assert_eq!(all, newest_first);
    // Forward, two by two.
    let (first, info) = log_page(&app, "first: 2").await;
    assert_eq!(first, newest_first[..2]);
    assert_eq!(info["hasNextPage"], true);
    let after = info["endCursor"].as_str().unwrap();
    let (second, info) = log_page(&app, &format!("first: 2, after: \"{after}\"")).await;
    assert_eq!(second, newest_first[2..]);
    assert_eq!(info["hasNextPage"], false);
    // Backward from the end, and back again from there.
    let (last, info) = log_page(&app, "last: 3").await;
    assert_eq!(last, newest_first[1..]);
    assert_eq!(info["hasPreviousPage"], true);
    let before = info["startCursor"].as_str().unwrap();
    let (earlier, _) = log_page(&app, &format!("last: 2, before: \"{before}\"")).await;
    assert_eq!(earlier, newest_first[..1]);
    let before = app_cursor_of(&app, &b).await;
    let (earlier, _) = log_page(&app, &format!("last: 5, before: \"{before}\"")).await;
    assert_eq!(earlier, newest_first[..2]);
}

/// The cursor of log entry `deletion`, as a page hands it out.
async fn app_cursor_of(app: &TestApp, deletion: &str) -> String {
    let body = app
        .as_admin(
            "{ deletions(first: 100) { edges { cursor node { id } } } }",
            json!({}),
        )
        .await;
    data(&body)["deletions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["id"] == deletion)
        .map(|e| e["cursor"].as_str().unwrap().to_owned())
        .unwrap()
}

async fn restored_and_purged_entries_keep_the_names_they_showed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "notes.txt").await;
    let bob = app.member("bob@example.com").await;
    let draft = app.attachment(&bob, "draft.txt").await;
    let ada_gone = app.admin().delete_user(&ada.id, None).await;
    let ada_gone = ada_gone["id"].as_str().unwrap().to_owned();
    let draft_gone = app.admin().delete_attachment(&draft, None).await;
    let draft_gone = draft_gone["id"].as_str().unwrap().to_owned();
    let subject = |deletion: String| {
        let app = &app;
        async move {
            let body = app
                .as_admin(
                    "query($d: ID!) { deletion(id: $d) { subject restoredAt purgedAt } }",
                    json!({ "d": deletion }),
                )
                .await;
            assert_ok(&body);
            data(&body)["deletion"].clone()
        }
    };
    // In force, restored, then (deleted again and) purged: the names stay.
    let ada_name = "User ada@example.com <ada@example.com>";
    assert_eq!(subject(ada_gone.clone()).await["subject"], ada_name);
    assert_eq!(subject(draft_gone.clone()).await["subject"], "draft.txt");
    app.admin().restore(&ada_gone, None).await;
    let restored = subject(ada_gone.clone()).await;
    assert!(!restored["restoredAt"].is_null());
    assert_eq!(restored["subject"], ada_name);
    app.admin().purge("0s", false).await;
    let purged = subject(draft_gone.clone()).await;
    assert!(!purged["purgedAt"].is_null(), "{purged}");
    assert_eq!(purged["subject"], "draft.txt");
    let again = app.admin().delete_user(&ada.id, None).await;
    let again = again["id"].as_str().unwrap().to_owned();
    app.admin().purge("0s", false).await;
    let purged = subject(again).await;
    assert!(!purged["purgedAt"].is_null(), "{purged}");
    assert_eq!(purged["subject"], ada_name);
    // The entry restored before still names her, her row now archived.
    assert_eq!(subject(ada_gone).await["subject"], ada_name);
    // Members read no log, so no subject either.
    let body = app
        .by(&bob)
        .send(
            "query($d: ID!) { deletion(id: $d) { subject } }",
            json!({ "d": draft_gone }),
        )
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
}

#[test]
fn schema_checks_every_setting_too() {
    let dir = tempfile::tempdir().unwrap();
    let output = keepsake("unused")
        .env_remove("DATABASE_URL")
        .env("KEEPSAKE_BIND", "garbage")
        .current_dir(dir.path())
        .arg("schema")
        .output()
        .unwrap();
    assert!(one_error_line(&output).contains("KEEPSAKE_BIND (--bind)"));
    assert_eq!(output.status.code(), Some(2));
    // With good settings it prints the schema, and opens no database to do so.
    let output = keepsake("unused")
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .arg("schema")
        .output()
        .unwrap();
    assert!(succeeded(&output).contains("type Query"));
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
}
