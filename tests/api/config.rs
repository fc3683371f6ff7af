//! Bad configuration fails fast: one line on stderr naming the setting, a non-zero exit.

use crate::helpers::keepsake;

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
        "KEEPSAKE_STORAGE",
        keepsake(&url)
            .env("KEEPSAKE_STORAGE", "ftp://files.example.com/blobs")
            .arg("migrate"),
    );
    fails_naming(
        "KEEPSAKE_STORAGE",
        keepsake(&url)
            .env("KEEPSAKE_STORAGE", "s3://")
            .arg("migrate"),
    );
    fails_naming(
        "KEEPSAKE_MAX_UPLOAD",
        keepsake(&url)
            .env("KEEPSAKE_MAX_UPLOAD", "a lot")
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

/// The embedded database holds the generated signing secret: only its owner may read it.
#[cfg(unix)]
#[test]
fn a_new_sqlite_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepsake.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // Whatever the umask lets through, the files come out 0600.
    let output = keepsake(&url).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("keepsake.db{suffix}"));
        if let Ok(meta) = std::fs::metadata(&file) {
            seen += 1;
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
        }
    }
    assert!(seen >= 1, "no database file was created");
}

/// An existing database file that others may read is reported at start, with the fix.
#[cfg(unix)]
#[test]
fn a_world_readable_sqlite_database_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepsake.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    assert!(
        keepsake(&url)
            .arg("migrate")
            .output()
            .unwrap()
            .status
            .success()
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = keepsake(&url).arg("migrate").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("readable by other accounts") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    // Owner-only again, as the warning says (`chmod 600 keepsake.db*`: SQLite may have left
    // -wal/-shm files made with the readable mode): no warning.
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("keepsake.db{suffix}"));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let output = keepsake(&url).arg("migrate").output().unwrap();
    assert!(!String::from_utf8_lossy(&output.stderr).contains("readable by other accounts"));
}

/// S3 gives a blob its name with one CopyObject, which copies at most 5 GiB: a server whose
/// upload limit is larger than that would take a 6 GiB upload and then fail to keep it. It
/// refuses to start instead, naming the setting.
#[test]
fn an_upload_limit_s3_cannot_keep_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    let s3 = |limit: &str| {
        let mut cmd = keepsake(&url);
        cmd.env("KEEPSAKE_STORAGE", "s3://a-bucket/prefix")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("KEEPSAKE_MAX_UPLOAD", limit)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    // Bounded: a server that starts after all is killed, and the test fails.
    let mut child = s3("6GiB").spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        status.is_some_and(|s| !s.success()),
        "a 6 GiB limit with S3 must not start: {stderr}"
    );
    assert!(
        stderr.contains("KEEPSAKE_MAX_UPLOAD") && stderr.contains("5GiB"),
        "{stderr}"
    );
}
