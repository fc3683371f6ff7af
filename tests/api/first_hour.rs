//! A newcomer's first hour, continued (issue 24): each trap a newcomer fell into, and the
//! message or behaviour that now meets them instead.

use std::process::Output;

use serde_json::json;

use crate::helpers::{
    Backend, TestApp, assert_ok, data, error_codes, keepsake, on_both_backends, succeeded,
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
