//! A newcomer's first hour: the usual first mistakes each get one line that says what to do,
//! and the README's shapes of the command line work (issue 10's stumbles).

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    Backend, TestApp, TestDb, assert_ok, data, error_codes, keepsake, on_both_backends, succeeded,
};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one line a failed command wrote, checked to be alone and said once.
#[track_caller]
fn one_error_line(output: &Output) -> String {
    assert!(!output.status.success(), "must fail: {}", stderr(output));
    let stderr = stderr(output);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_owned()
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/k.db?mode=rwc", dir.path().display())
}

#[test]
fn global_settings_stand_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    // The flag wins over a bad DATABASE_URL, wherever it stands.
    let before = keepsake("mysql://nowhere/x")
        .args([
            "--database-url",
            &url,
            "--undo-window",
            "5m",
            "--log",
            "warn",
        ])
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(succeeded(&before).trim(), "migrations applied");
    let after = keepsake("mysql://nowhere/x")
        .args(["migrate", "--database-url", &url, "--log", "warn"])
        .output()
        .unwrap();
    assert_eq!(succeeded(&after).trim(), "migrations applied");
    let secret = keepsake(&url)
        .args(["--jwt-secret", "short", "migrate"])
        .output()
        .unwrap();
    assert!(one_error_line(&secret).contains("KEEPSAKE_JWT_SECRET (--jwt-secret)"));
    // `serve`'s own options before another subcommand say where they belong.
    let misplaced = keepsake(&url)
        .args(["--bind", ":0", "migrate"])
        .output()
        .unwrap();
    assert_eq!(misplaced.status.code(), Some(2));
    assert!(
        stderr(&misplaced).contains("write `keepsake serve --bind …`"),
        "{}",
        stderr(&misplaced)
    );
}

#[test]
fn every_command_checks_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = keepsake(&sqlite_url(&dir))
        .env("KEEPSAKE_BIND", "garbage")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(one_error_line(&output).contains("KEEPSAKE_BIND (--bind)"));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_shows_no_empty_environment_values() {
    let output = keepsake("sqlite::memory:").arg("--help").output().unwrap();
    let help = succeeded(&output);
    assert!(help.contains("[env: KEEPSAKE_UNDO_WINDOW]"), "{help}");
    assert!(!help.contains("=]"), "{help}");
}

#[test]
fn a_port_alone_listens_on_this_host() {
    for bind in [":0", "localhost:0"] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = keepsake(&sqlite_url(&dir))
            .args(["serve", "--bind", bind])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut playground = None;
        for line in lines {
            let line = line.unwrap();
            if let Some(p) = line.trim().strip_prefix("playground:") {
                playground = Some(p.trim().to_owned());
                break;
            }
        }
        child.kill().ok();
        child.wait().ok();
        let playground = playground.expect("a playground line on first start");
        let port = playground
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.strip_suffix("/playground"))
            .unwrap_or_else(|| panic!("{bind}: {playground}"));
        assert_ne!(port.parse::<u16>().unwrap(), 0, "{playground}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = keepsake(&sqlite_url(&dir))
        .args(["serve", "--bind", ":http"])
        .output()
        .unwrap();
    let line = one_error_line(&bad);
    assert!(
        line.contains("KEEPSAKE_BIND (--bind)") && line.contains(":8000 (this host)"),
        "{line}"
    );
}

#[test]
fn a_wrong_postgres_port_is_refused_at_once_by_name() {
    // Nothing listens on port 1. No timing is asserted (timing belongs in benchmarks): the
    // pool's "pool timed out" would mean it retried until its timeout.
    let output = keepsake("postgres://postgres:hunter2@127.0.0.1:1/keepsake")
        .arg("migrate")
        .output()
        .unwrap();
    let line = one_error_line(&output);
    assert!(
        line.contains("DATABASE_URL (--database-url)")
            && line.contains("connection refused at 127.0.0.1:1"),
        "{line}"
    );
    assert!(
        !line.contains("pool timed out") && !line.contains("hunter2"),
        "{line}"
    );
}

#[test]
fn a_missing_sqlite_file_without_mode_rwc_gets_the_hint_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let output = keepsake(&format!("sqlite://{}", path.display()))
        .arg("migrate")
        .output()
        .unwrap();
    let line = one_error_line(&output);
    assert!(line.contains("DATABASE_URL (--database-url)"), "{line}");
    assert_eq!(line.matches("does not exist").count(), 1, "{line}");
    assert!(
        line.contains(&format!("sqlite://{}?mode=rwc", path.display())),
        "{line}"
    );
    assert!(!line.contains("code: 14"), "{line}");
    assert!(!path.exists(), "nothing was created");
}

#[test]
fn a_command_without_database_url_says_it_used_the_default_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = keepsake("unused")
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    succeeded(&output);
    assert!(
        stderr(&output).contains(
            "using database sqlite://keepsake.db?mode=rwc (the default: DATABASE_URL is not set)"
        ),
        "{}",
        stderr(&output)
    );
    assert!(dir.path().join("keepsake.db").exists());
    // With DATABASE_URL set, the line names it, without the note.
    let url = sqlite_url(&dir);
    let output = keepsake(&url).arg("migrate").output().unwrap();
    succeeded(&output);
    let line = format!("using database {url}\n");
    assert!(stderr(&output).contains(&line), "{}", stderr(&output));
}

#[test]
fn logs_are_plain_on_a_pipe_and_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let text = keepsake(&url)
        .env("RUST_LOG", "info")
        .arg("migrate")
        .output()
        .unwrap();
    succeeded(&text);
    assert!(stderr(&text).contains("INFO"), "{}", stderr(&text));
    assert!(!stderr(&text).contains('\u{1b}'), "{}", stderr(&text));
    let json = keepsake(&url)
        .env("KEEPSAKE_LOG_FORMAT", "json")
        .arg("migrate")
        .output()
        .unwrap();
    succeeded(&json);
    let logs: Vec<serde_json::Value> = stderr(&json)
        .lines()
        .filter(|line| !line.starts_with("using database "))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        logs.iter().any(|log| log["level"] == "INFO"),
        "{}",
        stderr(&json)
    );
    let bad = keepsake(&url)
        .args(["--log-format", "yaml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

on_both_backends!(
    first_start_prints_the_admins_id_and_email_and_token_takes_an_email,
    a_token_signed_with_another_secret_is_told_apart_from_a_forged_one,
);

/// `serve` on a fresh database: the first-start block's `key: value` lines.
fn first_start(url: &str) -> std::collections::HashMap<String, String> {
    let mut child = keepsake(url)
        .args(["serve", "--bind", ":0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut fields = std::collections::HashMap::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some((key, value)) = line.trim().split_once(':')
            && !key.contains(' ')
        {
            fields.insert(key.to_owned(), value.trim().to_owned());
        }
        if line.trim().starts_with("playground:") {
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    fields
}

async fn first_start_prints_the_admins_id_and_email_and_token_takes_an_email(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let url = db.url.clone();
    let (id, token) = tokio::task::spawn_blocking(move || {
        // The intended flow: `migrate` creates the database, then `user add` fills it.
        succeeded(&keepsake(&url).arg("migrate").output().unwrap());
        // admin@localhost is taken by a member: the first start picks the next address.
        succeeded(
            &keepsake(&url)
                .args([
                    "user",
                    "add",
                    "--email",
                    "admin@localhost",
                    "--name",
                    "Not Admin",
                ])
                .output()
                .unwrap(),
        );
        let fields = first_start(&url);
        assert_eq!(fields["admin"], "admin+1@localhost", "{fields:?}");
        let id = fields["id"].clone();
        let by_email = succeeded(
            &keepsake(&url)
                .args(["token", "--email", "Admin+1@localhost"])
                .output()
                .unwrap(),
        );
        let unknown = keepsake(&url)
            .args(["token", "--email", "nobody@localhost"])
            .output()
            .unwrap();
        assert!(!unknown.status.success());
        assert!(
            stderr(&unknown).contains("--email: no live user has the email nobody@localhost"),
            "{}",
            stderr(&unknown)
        );
        (id, by_email.lines().last().unwrap().trim().to_owned())
    })
    .await
    .unwrap();
    let mut settings = keepsake::config::Settings::for_database(db.url.clone());
    settings.bind = "127.0.0.1:0".parse().unwrap();
    let app = keepsake::app::App::build(&settings).await.unwrap();
    let base = format!("http://{}", app.address());
    let server = tokio::spawn(app.run(std::future::pending()));
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { id email role } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.abort();
    assert_ok(&body);
    assert_eq!(
        data(&body)["me"],
        json!({ "id": id, "email": "admin+1@localhost", "role": "ADMIN" })
    );
}

async fn a_token_signed_with_another_secret_is_told_apart_from_a_forged_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let member = app.member("m@example.com").await;
    let row_id = keepsake::ids::decode(keepsake::ids::Kind::User, &member.id).unwrap();
    let message = |body: &serde_json::Value| {
        assert_eq!(error_codes(body), ["UNAUTHENTICATED"], "{body}");
        body["errors"][0]["message"].as_str().unwrap().to_owned()
    };
    let other = keepsake::auth::Tokens::new(b"the secret of another database")
        .issue(row_id, Duration::from_secs(60))
        .unwrap();
    let body = app.graphql(Some(&other), "{ me { id } }", json!({})).await;
    assert_eq!(message(&body), keepsake::auth::OTHER_SECRET);
    // Our key id with a damaged signature is a forgery, not a secret mismatch.
    let (unsigned, signature) = member.token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{unsigned}.{flipped}{}", &signature[1..]);
    let body = app.graphql(Some(&forged), "{ me { id } }", json!({})).await;
    assert_eq!(message(&body), "the token is not valid");
    // Tokens issued before key ids (no `kid`) still work when their signature holds.
    let claims = unsigned.split('.').nth(1).unwrap();
    let old_header = base64_url(r#"{"typ":"JWT","alg":"HS256"}"#);
    let old = sign(&app, &format!("{old_header}.{claims}")).await;
    let body = app.graphql(Some(&old), "{ me { id } }", json!({})).await;
    assert_ok(&body);
    assert_eq!(data(&body)["me"]["id"], member.id);
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Signs `header.claims` with the app's own secret, the way tokens were signed before key ids.
async fn sign(app: &TestApp, unsigned: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let secret = keepsake::soft_delete::setting(&app.state.db, "jwt_secret")
        .await
        .unwrap()
        .expect("a generated secret");
    // HMAC-SHA256 by hand (RFC 2104), so the test needs no HMAC crate.
    let mut key = secret.into_bytes();
    if key.len() > 64 {
        key = sha2::Sha256::digest(&key).to_vec();
    }
    key.resize(64, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = sha2::Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(unsigned.as_bytes())
        .finalize();
    let mac = sha2::Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    format!(
        "{unsigned}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    )
}

/// PostgreSQL cases: they need a server, so without `TEST_DATABASE_URL` they are reported as
/// ignored, like every PostgreSQL case here.
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
    )]
    async fn a_missing_database_is_said_once_with_how_to_create_it() {
        let backend = Backend::postgres();
        let db = TestDb::create(&backend).await;
        let url = format!("{}_missing", db.url);
        let name = url.rsplit('/').next().unwrap().to_owned();
        let out = {
            let url = url.clone();
            tokio::task::spawn_blocking(move || {
                let missing = keepsake(&url).arg("migrate").output().unwrap();
                let created = keepsake(&url)
                    .args(["migrate", "--create-database", "--log", "warn"])
                    .output()
                    .unwrap();
                let again = keepsake(&url)
                    .args(["migrate", "--create-database", "--log", "warn"])
                    .output()
                    .unwrap();
                (missing, created, again)
            })
            .await
            .unwrap()
        };
        let (missing, created, again) = out;
        let line = one_error_line(&missing);
        assert_eq!(line.matches(&format!("\"{name}\"")).count(), 1, "{line}");
        assert!(
            line.contains("DATABASE_URL (--database-url)")
                && line.contains(&format!("has no database \"{name}\""))
                && line.contains("createdb -h ")
                && line.contains("keepsake migrate --create-database"),
            "{line}"
        );
        assert!(!line.contains("at line"), "{line}");
        assert_eq!(
            succeeded(&created),
            "created the database\nmigrations applied\n"
        );
        assert_eq!(succeeded(&again), "migrations applied\n");
        let admin = crate::helpers::raw_connection(match &backend {
            Backend::Postgres(base) => base,
            Backend::Sqlite => unreachable!(),
        })
        .await
        .unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(
            &*admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        .unwrap();
        admin.close().await.ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
    )]
    async fn rust_log_info_keeps_postgres_notices_quiet() {
        let backend = Backend::postgres();
        let db = TestDb::create(&backend).await;
        let url = db.url.clone();
        let output = tokio::task::spawn_blocking(move || {
            for _ in 0..2 {
                succeeded(
                    &keepsake(&url)
                        .env("RUST_LOG", "info")
                        .arg("migrate")
                        .output()
                        .unwrap(),
                );
            }
            keepsake(&url)
                .env("RUST_LOG", "info")
                .arg("migrate")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        succeeded(&output);
        assert!(stderr(&output).contains("INFO"), "{}", stderr(&output));
        assert!(!stderr(&output).contains("skipping"), "{}", stderr(&output));
    }
}
