//! Attachment bytes in an S3-compatible store (docs/DESIGN.md#attachment-content), spoken to over the S3 protocol: a real
//! server, moto's (`pip install 'moto[server]'`, which `.ci/run` does), started here on a free
//! port with a bucket of its own. Outside CI, a machine without `moto_server` skips these tests
//! and says so; in CI (`CI` set) its absence fails them.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;
use sha2::Digest as _;

use crate::helpers::{Backend, TestApp, on_both_backends};

on_both_backends!(content_round_trips_through_s3_and_check_finds_orphans_there);

const BUCKET: &str = "keepsake-test";

/// A moto S3 server on a free port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts one with an empty bucket; `None` (after saying why) where moto is not installed
    /// and this is not CI.
    async fn start() -> Option<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = match Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(err) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: the S3 tests need moto_server (pip install 'moto[server]'): {err}"
                );
                return None;
            }
            Err(err) => panic!("moto_server does not start ({err}); .ci/run installs it"),
        };
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if let Ok(response) = http.put(format!("{}/{BUCKET}", moto.endpoint)).send().await
                && response.status().is_success()
            {
                return Some(moto);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {}", moto.endpoint);
    }

    /// The object_store options that reach it.
    fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// The keys of the multipart uploads begun under `prefix` and neither completed nor
    /// aborted (S3's ListMultipartUploads): parts the bucket keeps that no listing of
    /// objects shows.
    async fn unfinished_uploads(&self, prefix: &str) -> Vec<String> {
        self.listed(&format!("uploads&prefix={prefix}")).await
    }

    /// The keys under `prefix` in the bucket, as S3's ListObjectsV2 names them.
    async fn keys(&self, prefix: &str) -> Vec<String> {
        self.listed(&format!("list-type=2&prefix={prefix}")).await
    }

    /// The `<Key>`s of the bucket listing that `query` asks for.
    async fn listed(&self, query: &str) -> Vec<String> {
        let listing = reqwest::Client::new()
            .get(format!("{}/{BUCKET}?{query}", self.endpoint))
            .send()
            .await
            .expect("moto answers")
            .text()
            .await
            .unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }
}

fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn content_round_trips_through_s3_and_check_finds_orphans_there(backend: Backend) {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let prefix = format!("run-{}", std::process::id());
    let options = moto.options();
    let storage = format!("s3://{BUCKET}/{prefix}");
    let app = TestApp::spawn_with(backend, |settings| {
        settings.storage = storage;
        settings.storage_options = options;
        settings.max_upload = 8 * 1024 * 1024;
    })
    .await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    // Over 5 MiB: more than one part of S3's multipart upload.
    let bytes: Vec<u8> = (0..6 * 1024 * 1024 + 123)
        .map(|i: usize| b'a' + (i % 26) as u8)
        .collect();
    let mut ids = Vec::new();
    for user in [&alan, &bob] {
        let id = app.attachment(user, "big.txt").await;
        let response = app
            .http
            .put(format!("{}/attachments/{id}/content", app.base))
            .bearer_auth(&user.token)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["sha256"], json!(sha256(&bytes)), "{answer}");
        ids.push((user, id));
    }
    let blobs = format!("{prefix}/blobs/");
    // Over the limit while streaming (no Content-Length), and cut off mid-stream: the
    // multipart uploads are aborted, nothing is kept, the rows are as they were.
    let file = &ids[0].1;
    let too_big = (0..9).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024 * 1024]));
    let cut_off = [
        Ok(vec![b'y'; 6 * 1024 * 1024]),
        Err(std::io::Error::other("the client went away")),
    ];
    for (body, expected) in [
        (
            reqwest::Body::wrap_stream(futures_util::stream::iter(too_big.collect::<Vec<_>>())),
            Some(StatusCode::PAYLOAD_TOO_LARGE),
        ),
        (
            reqwest::Body::wrap_stream(futures_util::stream::iter(cut_off)),
            None,
        ),
    ] {
        let sent = app
            .http
            .put(format!("{}/attachments/{file}/content", app.base))
            .bearer_auth(&alan.token)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .await;
        if let Some(expected) = expected {
            assert_eq!(sent.unwrap().status(), expected);
        }
    }
    for _ in 0..50 {
        if moto.keys(&format!("{prefix}/uploads/")).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(moto.keys(&format!("{prefix}/uploads/")).await.is_empty());
    // Nor any multipart upload left open: its parts would stay in the bucket, unlisted.
    for _ in 0..50 {
        if moto.unfinished_uploads(&prefix).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(moto.unfinished_uploads(&prefix).await, Vec::<String>::new());
    assert_eq!(
        moto.keys(&blobs).await,
        vec![format!("{blobs}{}", sha256(&bytes))],
        "one object for the same bytes"
    );
    assert!(moto.keys(&format!("{prefix}/uploads/")).await.is_empty());

    // Back whole, and a range of it.
    let (alan_file, bob_file) = (&ids[0].1, &ids[1].1);
    let url = format!("{}/attachments/{alan_file}/content", app.base);
    let whole = app
        .http
        .get(&url)
        .bearer_auth(&alan.token)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(
        whole.headers()[header::ETAG],
        format!("\"{}\"", sha256(&bytes)).as_str()
    );
    assert!(
        whole.bytes().await.unwrap() == bytes,
        "the bytes came back changed"
    );
    let part = app
        .http
        .get(&url)
        .bearer_auth(&alan.token)
        .header(header::RANGE, "bytes=5242870-5242889")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), bytes[5_242_870..5_242_890]);

    // Purged one at a time: the object stays while a row refers to it, then goes.
    let purge = |user: &crate::helpers::TestUser, id: String| {
        let app = &app;
        let token = user.token.clone();
        async move {
            let deleted = app
                .graphql(
                    Some(&token),
                    "mutation($id: ID!) { deleteAttachment(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await;
            assert!(deleted["errors"].is_null(), "{deleted}");
            app.admin().purge("0s", false).await;
        }
    };
    purge(&alan, alan_file.clone()).await;
    assert_eq!(moto.keys(&blobs).await.len(), 1);
    purge(&bob, bob_file.clone()).await;
    assert!(
        moto.keys(&blobs).await.is_empty(),
        "the last row took its object"
    );

    // `keepsake check` over S3, with the AWS variables as an operator sets them: the state a
    // crash between a purge's commit and its erasure leaves (the row gone, the object kept)
    // is reported, and --fix removes the object.
    let carol = app.member("carol@example.com").await;
    let file = app.attachment(&carol, "c.txt").await;
    let response = app
        .http
        .put(format!("{}/attachments/{file}/content", app.base))
        .bearer_auth(&carol.token)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(b"orphan to be".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let check = |args: &'static [&'static str]| {
        let mut cmd = crate::helpers::keepsake(&app.db.url);
        cmd.env("KEEPSAKE_STORAGE", format!("s3://{BUCKET}/{prefix}"))
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .args(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("keepsake runs"))
    };
    let ok = check(&["check"]).await.unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    app.erase_attachment_row(&file).await;
    let found = check(&["check"]).await.unwrap();
    let said = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{said}");
    assert!(said.contains("orphan-blob"), "{said}");
    let fixed = check(&["check", "--fix"]).await.unwrap();
    assert!(
        fixed.status.success(),
        "{}",
        String::from_utf8_lossy(&fixed.stdout)
    );
    assert!(moto.keys(&blobs).await.is_empty(), "--fix took the orphan");

    // createAttachment with its file (the GraphQL multipart request spec), over S3: two
    // parts of S3's multipart upload, read back whole.
    use crate::uploads::{CREATE, field, file as file_part, multipart};
    let ops = serde_json::json!({ "query": CREATE, "variables": { "o": carol.id, "f": null } })
        .to_string();
    let (status, body) = multipart(
        &app,
        Some(&carol.token),
        &[
            field("operations", ops.as_bytes()),
            field("map", br#"{"0": ["variables.f"]}"#),
            file_part("0", "big.txt", &bytes),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &body["data"]["createAttachment"];
    assert_eq!(created["sha256"], json!(sha256(&bytes)), "{body}");
    let id = created["id"].as_str().unwrap();
    let back = app
        .http
        .get(format!("{}/attachments/{id}/content", app.base))
        .bearer_auth(&carol.token)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    assert!(
        back.bytes().await.unwrap() == bytes,
        "the bytes came back changed"
    );
    assert_eq!(
        moto.keys(&blobs).await,
        vec![format!("{blobs}{}", sha256(&bytes))]
    );
    assert!(moto.keys(&format!("{prefix}/uploads/")).await.is_empty());
    assert_eq!(moto.unfinished_uploads(&prefix).await, Vec::<String>::new());
}
