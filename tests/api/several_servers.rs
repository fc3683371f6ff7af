//! Several servers on one database: the pooler setting (`KEEPSAKE_PG_POOLER=transaction`,
//! its checks and its path through the code on a real PostgreSQL), and a rolling restart's
//! promise with the real binary: after SIGTERM `/healthz` answers 503 while requests are still
//! served, a slow request in flight finishes, the server then stops accepting and exits 0.
//! The cluster run behind a real PgBouncer and HAProxy is `.ci/cluster.sh`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::crash::{Server, graphql_at};
use crate::helpers::ops::{CREATE_ATTACHMENT, DELETE_ATTACHMENT, RESTORE};
use crate::helpers::{Backend, TestApp, assert_ok, data, id_of, keepsake, on_both_backends};

on_both_backends!(sigterm_drains_then_stops_accepting_and_finishes_what_is_in_flight);

/// Runs `command` and returns its stderr, asserting it failed with one line naming `setting`.
fn fails_naming(setting: &str, command: &mut std::process::Command) -> String {
    let output = command.output().unwrap();
    assert!(!output.status.success(), "must fail for {setting}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(
        lines[0].contains(setting),
        "{setting} not named in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_pooler_and_shutdown_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    fails_naming(
        "KEEPSAKE_PG_POOLER",
        keepsake("postgres://postgres@127.0.0.1:1/x")
            .env("KEEPSAKE_PG_POOLER", "statement")
            .arg("migrate"),
    );
    // SQLite sits behind no pooler: the setting is a mistake there, not a silent no-op.
    fails_naming(
        "KEEPSAKE_PG_POOLER",
        keepsake(&url)
            .env("KEEPSAKE_PG_POOLER", "transaction")
            .arg("migrate"),
    );
    fails_naming(
        "KEEPSAKE_DIRECT_DATABASE_URL",
        keepsake(&url)
            .env("KEEPSAKE_DIRECT_DATABASE_URL", "sqlite://other.db")
            .arg("migrate"),
    );
    fails_naming(
        "KEEPSAKE_DRAIN",
        keepsake(&url)
            .env("KEEPSAKE_DRAIN", "five seconds")
            .arg("serve"),
    );
    fails_naming(
        "KEEPSAKE_SHUTDOWN_GRACE",
        keepsake(&url)
            .env("KEEPSAKE_SHUTDOWN_GRACE", "0s")
            .arg("serve"),
    );
}

#[test]
fn an_unreachable_direct_database_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    let stderr = fails_naming(
        "KEEPSAKE_DIRECT_DATABASE_URL",
        keepsake(&url)
            .env(
                "KEEPSAKE_DIRECT_DATABASE_URL",
                "postgres://postgres:hunter2@127.0.0.1:1/keepsake",
            )
            .arg("migrate"),
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// One part of a request body sent as a stream.
type Chunk = Result<bytes::Bytes, std::io::Error>;
/// A request's answer, awaited on a task of its own.
type Answer = tokio::task::JoinHandle<reqwest::Result<(reqwest::StatusCode, String)>>;

/// A GraphQL request whose body arrives in two parts: the first at once, the second when the
/// returned sender fires. Until then the request is in flight.
fn slow_request(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> (tokio::sync::oneshot::Sender<()>, Answer) {
    let body = json!({ "query": "{ me { id email } }" }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let (first, rest) = (
        bytes::Bytes::from(first.to_owned()),
        bytes::Bytes::from(rest.to_owned()),
    );
    let (parts, stream) = futures_channel::mpsc::unbounded::<Chunk>();
    parts.unbounded_send(Ok(first)).unwrap();
    let (finish, go) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = go.await;
        let _ = parts.unbounded_send(Ok(rest));
        parts.close_channel();
    });
    let request = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream));
    let answer = tokio::spawn(async move {
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.text().await?))
    });
    (finish, answer)
}

/// The status of `GET /healthz`, or `None` when nothing answered (the listener is closed).
async fn health(base: &str) -> Option<u16> {
    // A client of its own each time: a new connection, as a balancer's check makes.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    match http.get(format!("{base}/healthz")).send().await {
        Ok(response) => Some(response.status().as_u16()),
        Err(_) => None,
    }
}

/// Polls `probe` every 20 ms for up to 60 s (a bound that only keeps a broken shutdown from
/// hanging the suite); whether it ever held.
async fn eventually<F: std::future::Future<Output = bool>>(mut probe: impl FnMut() -> F) -> bool {
    for _ in 0..3_000 {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn sigterm_drains_then_stops_accepting_and_finishes_what_is_in_flight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let storage = format!("file://{}", app.blobs.path().display());
    // The default drain window (5 s): long enough for the requests below to land in it.
    let mut server = Server::start_command(
        keepsake(&app.db.url)
            .env("KEEPSAKE_STORAGE", storage)
            .args(["serve", "--bind", "127.0.0.1:0"]),
    )
    .await;
    let base = server.base.clone();
    assert_eq!(health(&base).await, Some(200));
    let http = reqwest::Client::new();

    // A request in flight before the signal: half its body sent, the rest held back.
    let (finish, answer) = slow_request(&http, &base, &ada.token);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !answer.is_finished(),
        "the slow request must still be in flight"
    );

    server.terminate();
    // /healthz turns 503 at once (as soon as the signal is handled) …
    assert!(
        eventually(|| async { health(&base).await == Some(503) }).await,
        "/healthz never answered 503 after SIGTERM"
    );
    // … while a GraphQL request, on a new connection, is still answered in full.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let body = graphql_at(&fresh, &base, &ada.token, "{ me { id } }", json!({})).await;
    assert_eq!(data(&body)["me"]["id"], json!(ada.id), "{body}");
    // So is a change: a delete made during the drain window is made whole.
    let file = data(
        &graphql_at(
            &fresh,
            &base,
            &ada.token,
            CREATE_ATTACHMENT,
            json!({ "input": { "ownerId": ada.id, "filename": "drain.txt",
                               "contentType": "text/plain", "sizeBytes": 1 } }),
        )
        .await,
    )["createAttachment"]["id"]
        .clone();
    let deleted = graphql_at(
        &fresh,
        &base,
        &ada.token,
        DELETE_ATTACHMENT,
        json!({ "id": file, "reason": "during the drain" }),
    )
    .await;
    assert_ok(&deleted);

    // After the drain window the server stops accepting, with the slow request still open.
    assert!(
        eventually(|| async { health(&base).await.is_none() }).await,
        "the server kept accepting connections after the drain window"
    );
    assert!(!answer.is_finished(), "the slow request was cut off");
    // The request in flight finishes, answered in full.
    finish.send(()).unwrap();
    let (status, text) = answer.await.unwrap().expect("the slow request is answered");
    assert_eq!(status, 200, "{text}");
    let answered: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        data(&answered)["me"]["email"],
        json!("ada@example.com"),
        "{text}"
    );
    // Then the process exits, and says it went well.
    let status = server.wait_for_exit();
    assert!(status.success(), "keepsake serve exited with {status:?}");

    // The deletion made in the drain window was made whole: the file is hidden, and its
    // deletion can be undone on another server.
    let deletion = id_of(&data(&deleted)["deleteAttachment"]);
    let mine = app
        .graphql(
            Some(&ada.token),
            "{ me { attachments { nodes { id } } } }",
            json!({}),
        )
        .await;
    assert_ok(&mine);
    assert_eq!(
        data(&mine)["me"]["attachments"]["nodes"],
        json!([]),
        "{mine}"
    );
    let restored = app
        .graphql(
            Some(&app.admin_token),
            RESTORE,
            json!({ "d": deletion, "reason": "back" }),
        )
        .await;
    assert_ok(&restored);
}

/// The pooler setting's path through the code (every statement in a transaction, each
/// transaction first dropping the prepared statements it finds) on a real PostgreSQL: two
/// servers in that mode and one without share a database, delete (a cascade too), restore
/// and purge, concurrently, and every invariant holds. Through a real PgBouncer it is the
/// cluster run's (`.ci/cluster.sh`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_the_pooler_mode_keeps_every_promise_beside_a_direct_server() {
    let app = TestApp::spawn_with(Backend::postgres(), |s| s.transaction_pooler = true).await;
    let other = TestApp::beside_with(&app, |s| s.transaction_pooler = true).await;
    let direct = TestApp::beside(&app).await;
    let servers = [&app, &other, &direct];
    let mut owners = Vec::new();
    for n in 0..6 {
        owners.push(servers[n % 3].member(&format!("p{n}@example.com")).await);
    }
    // Each owner's work goes through another server than the last: creates, a delete, a
    // restore, a cascade, all at once.
    let work = owners.iter().enumerate().map(|(n, owner)| {
        let here = servers[n % 3];
        let there = servers[(n + 1) % 3];
        async move {
            let first = here.attachment(owner, "one.txt").await;
            let second = there.attachment(owner, "two.txt").await;
            let deleted = there
                .by(owner)
                .delete_attachment(&first, Some("pooled"))
                .await;
            here.by(owner).restore(&id_of(&deleted), Some("back")).await;
            let cascade = here.admin().delete_user(&owner.id, Some("cascade")).await;
            assert_eq!(cascade["cascadeCount"], json!(2), "{cascade}");
            second
        }
    });
    let made = futures_util::future::join_all(work).await;
    assert_eq!(made.len(), 6);
    let purged = app.admin().purge("0s", false).await;
    assert_eq!(purged["users"], json!(6), "{purged}");
    assert_eq!(purged["attachments"], json!(12), "{purged}");
    // A second purge through the other pooled server finds nothing left.
    let again = other.admin().purge("0s", false).await;
    assert_eq!(again["archived"], json!(0), "{again}");
    let checked = app.run(&["check"]).await;
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
