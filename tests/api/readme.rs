//! The README's own commands, walked on a fresh directory and database (issue 10): every
//! ```sh block is extracted from README.md and run by bash as written, so the README and the
//! binary cannot drift apart. Three stand-ins, and only these:
//!
//! - `cargo run -q --release -- ARGS` runs the debug binary this suite built with `ARGS`;
//!   `cargo run --release` (no args, or `serve …`) starts it as a server in the background,
//!   on a free port that replaces the README's `127.0.0.1:8000` (so its one
//!   `BASE=http://127.0.0.1:8000` points every curl example at that server);
//! - `cargo test` is skipped (the suite is already running);
//! - `keepsake ARGS` is the binary.
//!
//! The SQLite walk skips the PostgreSQL lines; the PostgreSQL walk runs only those, on a
//! database name of its own that it drops afterwards.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{Backend, KEEPSAKE_ENV, raw_connection};

/// The README's ```sh blocks, in order, lines continued by a trailing `\` joined.
fn readme_blocks() -> Vec<Vec<String>> {
    let readme = include_str!("../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap_or_default()),
            (Some(block), text) => {
                if let Some(head) = text.strip_suffix('\\') {
                    pending.push_str(head);
                    pending.push(' ');
                } else {
                    pending.push_str(text);
                    block.push(std::mem::take(&mut pending));
                }
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The stand-ins described above, as bash functions.
const PRELUDE: &str = r#"set -euo pipefail
servers=()
trap 'for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
keepsake() { "$BIN" "$@"; }
cargo() {
  if [ "${1:-}" = test ]; then echo "(skipped: cargo test $*)" >&2; return 0; fi
  local args=() seen=0
  for a in "$@"; do
    if [ "$seen" = 1 ]; then args+=("$a"); elif [ "$a" = "--" ]; then seen=1; fi
  done
  if [ "${#args[@]}" = 0 ] || [ "${args[0]}" = serve ]; then
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    [ "${#args[@]}" = 0 ] && args=(serve)
    "$BIN" "${args[@]}" --bind "127.0.0.1:$PORT" >>server.out 2>>server.err &
    servers+=("$!")
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
      sleep 0.1
    done
    echo "the server did not come up" >&2; cat server.err >&2; return 1
  fi
  "$BIN" "${args[@]}"
}
"#;

/// A free local port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs `lines` as one bash script in `dir`; returns stdout, failing with everything on error.
fn walk(dir: &std::path::Path, lines: &[String], envs: &[(&str, &str)]) -> String {
    let port = free_port().to_string();
    let body: Vec<String> = lines
        .iter()
        .map(|l| l.replace("127.0.0.1:8000", "127.0.0.1:$PORT"))
        .collect();
    let script = format!("{PRELUDE}\n{}\n", body.join("\n"));
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env("BIN", env!("CARGO_BIN_EXE_keepsake"))
        .env("PORT", &port);
    for var in KEEPSAKE_ENV {
        cmd.env_remove(var);
    }
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let output = cmd.output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let server_err = std::fs::read_to_string(dir.join("server.err")).unwrap_or_default();
    assert!(
        output.status.success(),
        "the README's commands failed ({:?})\n--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- server\n{server_err}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
    stdout
}

#[test]
fn the_readme_commands_work_in_a_fresh_directory_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = readme_blocks()
        .into_iter()
        .flatten()
        .filter(|l| !l.contains("postgres://"))
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with("cargo run --release")),
        "the README starts the server: {lines:?}"
    );
    let stdout = walk(dir.path(), &lines, &[]);

    // The curl example answered as the user it created, with no errors.
    // curl prints no newline, so the answer may share its line with the next output.
    let answer: Value = stdout
        .lines()
        .find_map(|l| {
            serde_json::Deserializer::from_str(l)
                .into_iter::<Value>()
                .next()
                .and_then(Result::ok)
        })
        .unwrap_or_else(|| panic!("no JSON answer from the curl example in:\n{stdout}"));
    assert!(answer.get("errors").is_none(), "{answer}");
    assert!(
        answer["data"]["me"]["email"]
            .as_str()
            .is_some_and(|e| e.starts_with("you+")),
        "{answer}"
    );
    assert_eq!(answer["data"]["me"]["role"], "MEMBER", "{answer}");
    // The lifecycle and seeding examples said what they did.
    for said in [
        "the same bytes came back\nhello",
        "dry run: would purge",
        "seeded 10000 users",
        "seeded 11000 users",
    ] {
        assert!(stdout.contains(said), "{said:?} not in:\n{stdout}");
    }
    // The default database file, where the README says it is.
    assert!(dir.path().join("keepsake.db").exists());
    // The uploaded bytes, in the default store beside it.
    assert!(dir.path().join("keepsake-blobs").join("blobs").is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn the_readme_commands_work_on_postgresql() {
    let Backend::Postgres(base) = Backend::postgres() else {
        unreachable!("Backend::postgres() is PostgreSQL")
    };
    let name = format!("keepsake_readme_{}", std::process::id());
    let lines: Vec<String> = readme_blocks()
        .into_iter()
        .flatten()
        .filter(|l| l.contains("postgres://"))
        .map(|l| l.replace("127.0.0.1:5432/keepsake", &format!("127.0.0.1:5432/{name}")))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("--create-database")),
        "the README creates its database: {lines:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let walked = {
        let dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || walk(&dir, &lines, &[])).await
    };
    let admin = raw_connection(&base).await.expect("PostgreSQL");
    let _ = sea_orm::ConnectionTrait::execute_unprepared(
        &*admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    admin.close().await.ok();
    let stdout = walked.expect("the walk ran");
    assert!(stdout.contains("migrations applied"), "{stdout}");
}
