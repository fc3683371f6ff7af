//! Bad configuration fails fast: one line on stderr naming the setting, a non-zero exit.

use crate::cli::keepsake;

fn fails_naming(setting: &str, command: &mut std::process::Command) {
    let output = command.output().unwrap();
    assert!(!output.status.success(), "must fail for {setting}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(
        lines[0].contains(setting),
        "{setting} not named in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unknown_database_url_is_named() {
    fails_naming(
        "DATABASE_URL",
        keepsake("mysql://root@localhost/db").arg("migrate"),
    );
    fails_naming("DATABASE_URL", keepsake("keepsake.db").arg("migrate"));
}

#[test]
fn an_unreachable_database_is_named() {
    // Nothing listens on port 1; the password must not be echoed.
    let mut cmd = keepsake("postgres://postgres:hunter2@127.0.0.1:1/keepsake");
    fails_naming("DATABASE_URL", cmd.arg("migrate"));
    let output = cmd.output().unwrap();
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
}

#[test]
fn bad_durations_and_addresses_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    fails_naming(
        "KEEPSAKE_UNDO_WINDOW",
        keepsake(&url)
            .env("KEEPSAKE_UNDO_WINDOW", "15 minutes")
            .arg("migrate"),
    );
    fails_naming(
        "KEEPSAKE_BIND",
        keepsake(&url)
            .env("KEEPSAKE_BIND", "localhost")
            .arg("serve"),
    );
    fails_naming(
        "RUST_LOG",
        keepsake(&url)
            .env("RUST_LOG", "keepsake=loud")
            .arg("migrate"),
    );
    fails_naming(
        "--ttl",
        keepsake(&url).args(["token", "--user", "VXNlcjox", "--ttl", "1w"]),
    );
    fails_naming(
        "KEEPSAKE_JWT_SECRET",
        keepsake(&url)
            .env("KEEPSAKE_JWT_SECRET", "short")
            .arg("migrate"),
    );
}
