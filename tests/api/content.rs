//! Attachment bytes over HTTP (docs/DESIGN.md#attachment-content), on both databases with the file store: upload with
//! `PUT`, download with `ETag`, `If-None-Match` and `Range`; the same visibility as the
//! GraphQL fields (a deleted or foreign attachment answers exactly like a missing one); one
//! blob for identical bytes, erased with the last row that refers to it; and refused or
//! broken uploads that leave nothing behind.

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpers::{Backend, TestApp, data, id_of, on_both_backends};

on_both_backends!(
    content_round_trips_with_its_hash_and_ranges,
    content_is_seen_exactly_as_its_attachment_is,
    identical_bytes_are_kept_once_and_erased_with_their_last_row,
    refused_or_broken_uploads_leave_nothing_behind,
    check_reports_blobs_without_rows_and_rows_without_blobs,
    create_attachment_takes_a_file_as_the_multipart_spec_says,
    seeded_attachments_can_hold_generated_content,
    an_upload_racing_the_erasure_of_the_same_bytes_keeps_them,
);

/// `n` bytes of text that differ from position to position.
pub(crate) fn text(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| b'a' + ((i * 7 + seed as usize) % 26) as u8)
        .collect()
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn url(app: &TestApp, id: &str) -> String {
    format!("{}/attachments/{id}/content", app.base)
}

/// `PUT`s `body` as `token`, declared as `content_type`; the status and the JSON answer.
pub(crate) async fn put(
    app: &TestApp,
    token: &str,
    id: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = app
        .http
        .put(url(app, id))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET`s the content as `token` with extra `headers`; status, headers and body.
pub(crate) async fn get(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = app.http.get(format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let (status, head) = (response.status(), response.headers().clone());
    (status, head, response.bytes().await.unwrap().to_vec())
}

/// The error code of a content route's JSON error body.
pub(crate) fn code(body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_owned()
}

/// The blobs in the server's store, and the files left in its upload area.
/// [`stored`] once it equals `expected`, or as it stands after 5 s: a blob a replacing
/// upload released is erased off the request's path, within 5 s of its commit.
pub(crate) async fn stored_within_5s(
    app: &TestApp,
    expected: (Vec<String>, Vec<String>),
) -> (Vec<String>, Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = stored(app);
        if now == expected || std::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub(crate) fn stored(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let list = |dir: &str| -> Vec<String> {
        let mut names = Vec::new();
        let root = app.blobs.path().join(dir);
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                } else {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        names.sort();
        names
    };
    (list("blobs"), list("uploads"))
}

/// `storageStats`, as the admin sees it: live bytes and blobs, deleted bytes and blobs, and
/// what a purge of every deleted row would free.
async fn storage(app: &TestApp) -> [f64; 6] {
    let stats = app
        .admin()
        .ok(
            "{ storageStats { liveBytes liveBlobs deletedBytes deletedBlobs purgeFreesBytes purgeFreesBlobs } }",
            json!({}),
            "storageStats",
        )
        .await;
    [
        "liveBytes",
        "liveBlobs",
        "deletedBytes",
        "deletedBlobs",
        "purgeFreesBytes",
        "purgeFreesBlobs",
    ]
    .map(|k| {
        stats[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {stats}"))
    })
}

/// `purgeDeleted(olderThan: "0s")`: the attachments it took (or would) and the bytes it freed.
async fn purge(app: &TestApp, dry_run: bool) -> Value {
    app.admin()
        .ok(
            "mutation($dry: Boolean!) { purgeDeleted(olderThan: \"0s\", dryRun: $dry) { attachments freedBytes } }",
            json!({ "dry": dry_run }),
            "purgeDeleted",
        )
        .await
}

async fn metadata(app: &TestApp, id: &str) -> Value {
    app.admin()
        .ok(
            "query($id: ID!) { attachment(id: $id, includeDeleted: true) { sizeBytes sha256 contentType } }",
            json!({ "id": id }),
            "attachment",
        )
        .await
}

async fn content_round_trips_with_its_hash_and_ranges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let id = app.attachment(&alan, "notes.txt").await;
    let bytes = text(100_000, 3);
    let (status, answer) = put(
        &app,
        &alan.token,
        &id,
        "text/plain; charset=utf-8",
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["sizeBytes"], json!(100_000), "{answer}");
    assert_eq!(answer["sha256"], json!(sha256(&bytes)), "{answer}");
    // The metadata comes from the bytes, not from what the client said at creation (42),
    // and the type from the upload's Content-Type, its parameters kept.
    assert_eq!(
        metadata(&app, &id).await,
        json!({ "sizeBytes": 100_000, "sha256": sha256(&bytes),
                "contentType": "text/plain; charset=utf-8" })
    );

    let path = format!("/attachments/{id}/content");
    let (status, head, body) = get(&app, Some(&alan.token), &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == bytes, "the bytes came back changed");
    let etag = format!("\"{}\"", sha256(&bytes));
    assert_eq!(head[header::ETAG], etag.as_str());
    assert_eq!(head[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(head[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        head[header::CONTENT_DISPOSITION],
        "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    );

    let (status, _, body) = get(
        &app,
        Some(&alan.token),
        &path,
        &[(header::IF_NONE_MATCH, &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, _, _) = get(
        &app,
        Some(&alan.token),
        &path,
        &[(header::IF_NONE_MATCH, "\"other\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, head, body) = get(
        &app,
        Some(&alan.token),
        &path,
        &[(header::RANGE, "bytes=10-19")],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(head[header::CONTENT_RANGE], "bytes 10-19/100000");
    assert_eq!(body, bytes[10..20]);
    let (status, _, body) = get(
        &app,
        Some(&alan.token),
        &path,
        &[(header::RANGE, "bytes=-5")],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, bytes[100_000 - 5..]);
    let (status, head, body) = get(
        &app,
        Some(&alan.token),
        &path,
        &[(header::RANGE, "bytes=100000-")],
    )
    .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(head[header::CONTENT_RANGE], "bytes */100000");
    assert_eq!(code(&body), "BAD_USER_INPUT");

    // An attachment with no bytes yet says so.
    let empty = app.attachment(&alan, "later.txt").await;
    let (status, _, body) = get(
        &app,
        Some(&alan.token),
        &format!("/attachments/{empty}/content"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("holds no content yet"));
}

async fn content_is_seen_exactly_as_its_attachment_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let id = app.attachment(&alan, "notes.txt").await;
    let bytes = text(1_000, 1);
    assert_eq!(
        put(&app, &alan.token, &id, "text/plain", bytes.clone())
            .await
            .0,
        StatusCode::OK
    );
    let path = format!("/attachments/{id}/content");
    let missing = {
        let other = app.attachment(&alan, "gone.txt").await;
        app.admin().delete_attachment(&other, None).await;
        app.admin().purge("0s", false).await;
        other
    };

    // Another member: exactly as for an id that never existed (the ids masked).
    let masked = |body: &[u8], id: &str| String::from_utf8_lossy(body).replace(id, "ID");
    let (status, _, foreign) = get(&app, Some(&bob.token), &path, &[]).await;
    let (status_missing, _, absent) = get(
        &app,
        Some(&bob.token),
        &format!("/attachments/{missing}/content"),
        &[],
    )
    .await;
    assert_eq!(
        (status, status_missing),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
    assert_eq!(masked(&foreign, &id), masked(&absent, &missing));
    let (status, answer) = put(&app, &bob.token, &id, "text/plain", b"mine now".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // Support reads everyone's, changes no one's; no token, no bytes.
    let (status, _, body) = get(&app, Some(&grace.token), &path, &[]).await;
    assert_eq!((status, body == bytes), (StatusCode::OK, true));
    let (status, answer) = put(&app, &grace.token, &id, "text/plain", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, _, body) = get(&app, None, &path, &[]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED".into())
    );

    // Deleted: gone for everyone, as if missing; staff may ask for it; members may not.
    let deletion = id_of(&app.by(&alan).delete_attachment(&id, None).await);
    for token in [&alan.token, &app.admin_token] {
        let (status, _, body) = get(&app, Some(token), &path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(masked(&body, &id), masked(&absent, &missing));
    }
    let with_deleted = format!("{path}?includeDeleted=true");
    for token in [&grace.token, &app.admin_token] {
        let (status, _, body) = get(&app, Some(token), &with_deleted, &[]).await;
        assert_eq!((status, body == bytes), (StatusCode::OK, true));
    }
    let (status, _, body) = get(&app, Some(&alan.token), &with_deleted, &[]).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "FORBIDDEN".into())
    );
    // A deleted attachment's bytes cannot be replaced either.
    let (status, _) = put(&app, &app.admin_token, &id, "text/plain", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Restore is instant: the bytes never left.
    app.by(&alan).restore(&deletion, None).await;
    let (status, _, body) = get(&app, Some(&alan.token), &path, &[]).await;
    assert_eq!((status, body == bytes), (StatusCode::OK, true));
}

async fn identical_bytes_are_kept_once_and_erased_with_their_last_row(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let alans = app.attachment(&alan, "same.txt").await;
    let bobs = app.attachment(&bob, "same-too.txt").await;
    let bytes = text(5_000, 9);
    let hash = sha256(&bytes);
    for (user, id) in [(&alan, &alans), (&bob, &bobs)] {
        let (status, answer) = put(&app, &user.token, id, "text/plain", bytes.clone()).await;
        assert_eq!(
            (status, answer["sha256"].clone()),
            (StatusCode::OK, json!(hash))
        );
    }
    assert_eq!(
        stored(&app),
        (vec![hash.clone()], vec![]),
        "one blob for both"
    );
    assert_eq!(storage(&app).await, [5_000.0, 1.0, 0.0, 0.0, 0.0, 0.0]);

    // Alan's row deleted: Bob's still refers to the blob, so a purge frees nothing...
    app.by(&alan).delete_attachment(&alans, None).await;
    assert_eq!(storage(&app).await, [5_000.0, 1.0, 5_000.0, 1.0, 0.0, 0.0]);
    assert_eq!(
        purge(&app, true).await,
        json!({ "attachments": 1, "freedBytes": 0 })
    );
    assert_eq!(
        purge(&app, false).await,
        json!({ "attachments": 1, "freedBytes": 0 })
    );
    assert_eq!(stored(&app).0, vec![hash.clone()]);
    let (status, _, body) = get(
        &app,
        Some(&bob.token),
        &format!("/attachments/{bobs}/content"),
        &[],
    )
    .await;
    assert_eq!((status, body == bytes), (StatusCode::OK, true));
    // ...and Bob's too: no row refers to it then, so the purge erases it after committing.
    app.by(&bob).delete_attachment(&bobs, None).await;
    assert_eq!(storage(&app).await, [0.0, 0.0, 5_000.0, 1.0, 5_000.0, 1.0]);
    assert_eq!(
        purge(&app, true).await,
        json!({ "attachments": 1, "freedBytes": 5_000 })
    );
    assert_eq!(
        purge(&app, false).await,
        json!({ "attachments": 1, "freedBytes": 5_000 })
    );
    assert_eq!(stored(&app), (vec![], vec![]), "the last row took its blob");
    assert_eq!(storage(&app).await, [0.0; 6]);
    // The store's figures are staff's, like the log's.
    let body = app
        .graphql(
            Some(&alan.token),
            "{ storageStats { liveBytes } }",
            json!({}),
        )
        .await;
    crate::helpers::assert_error(&body, "FORBIDDEN");

    // New bytes for an attachment: the old blob goes when nothing else uses it.
    let carol = app.member("carol@example.com").await;
    let id = app.attachment(&carol, "draft.txt").await;
    let (first, second) = (text(300, 1), text(300, 2));
    put(&app, &carol.token, &id, "text/plain", first.clone()).await;
    put(&app, &carol.token, &id, "text/plain", second.clone()).await;
    let expected = (vec![sha256(&second)], vec![]);
    assert_eq!(stored_within_5s(&app, expected.clone()).await, expected);
    let row = metadata(&app, &id).await;
    assert_eq!(row["sha256"], json!(sha256(&second)), "{row}");
}

async fn refused_or_broken_uploads_leave_nothing_behind(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.max_upload = 4096).await;
    let alan = app.member("alan@example.com").await;
    let id = app.attachment(&alan, "notes.txt").await;
    let untouched = json!({ "sizeBytes": 42, "sha256": null, "contentType": "text/plain" });

    // Too large, said up front by Content-Length.
    let (status, answer) = put(&app, &alan.token, &id, "text/plain", text(5_000, 0)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("BAD_USER_INPUT")
    );
    // Too large, found out while streaming (no Content-Length).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|i| Ok(text(1_000, i))).collect();
    let response = app
        .http
        .put(url(&app, &id))
        .bearer_auth(&alan.token)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Bytes that are not what they are said to be.
    let (status, answer) = put(&app, &alan.token, &id, "image/png", text(100, 0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let said = answer["errors"][0]["message"].as_str().unwrap();
    assert!(said.contains("the bytes are not image/png"), "{said}");
    let (status, answer) = put(
        &app,
        &alan.token,
        &id,
        "text/plain",
        b"%PDF-1.7 rest".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // Cut off mid-stream: the client's body fails after some bytes.
    let broken: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(text(1_000, 1)),
        Err(std::io::Error::other("the client went away")),
    ];
    let _ = app
        .http
        .put(url(&app, &id))
        .bearer_auth(&alan.token)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            broken,
        )))
        .send()
        .await;
    // Give the server a moment to see the broken body end, then check: nothing anywhere.
    for _ in 0..50 {
        if stored(&app) == (vec![], vec![]) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored(&app), (vec![], vec![]));
    assert_eq!(metadata(&app, &id).await, untouched);

    // Within the limit it lands.
    let (status, answer) = put(&app, &alan.token, &id, "text/plain", text(4_096, 0)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let body = app
        .graphql(
            Some(&alan.token),
            "query($id: ID!) { attachment(id: $id) { sizeBytes } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&body)["attachment"]["sizeBytes"], json!(4096));
}

async fn check_reports_blobs_without_rows_and_rows_without_blobs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let id = app.attachment(&alan, "notes.txt").await;
    let bytes = text(2_000, 4);
    put(&app, &alan.token, &id, "text/plain", bytes.clone()).await;
    let ok = app.run(&["check"]).await;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // What a crash between a purge's commit and its erasure leaves: the row gone, the blob not.
    app.erase_attachment_row(&id).await;
    let found = app.run(&["check"]).await;
    let said = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "orphan-blob: blob {} is in the store",
            sha256(&bytes)
        )),
        "{said}"
    );
    // An upload staged two hours ago and never kept (a crash before its row committed) is
    // reported too; one staged a moment ago may still be on its way, and is not.
    let uploads = app.blobs.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    let old = std::fs::File::create(uploads.join("left-behind")).unwrap();
    old.set_modified(two_hours_ago).unwrap();
    // A server killed mid-upload leaves the file store's part in progress, a name its own
    // listing hides.
    let part = std::fs::File::create(uploads.join("left-mid-write#1")).unwrap();
    part.set_modified(two_hours_ago).unwrap();
    std::fs::write(uploads.join("on-its-way"), b"...").unwrap();
    let found = app.run(&["check"]).await;
    let said = String::from_utf8_lossy(&found.stdout).into_owned();
    assert!(
        said.contains("stale-upload: uploads/left-behind was uploaded over an hour ago"),
        "{said}"
    );
    assert!(
        said.contains("stale-upload: uploads/left-mid-write#1 was uploaded over an hour ago"),
        "{said}"
    );
    assert!(!said.contains("on-its-way"), "{said}");
    let fixed = app.run(&["check", "--fix"]).await;
    let said = String::from_utf8_lossy(&fixed.stdout).into_owned();
    assert!(fixed.status.success(), "{said}");
    assert!(
        String::from_utf8_lossy(&fixed.stderr)
            .contains("removed 1 blob(s) no attachment refers to and 2 stale upload(s)"),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert_eq!(
        stored(&app),
        (Vec::<String>::new(), vec!["on-its-way".to_owned()])
    );
    std::fs::remove_file(uploads.join("on-its-way")).unwrap();

    // A row whose blob went missing is reported, and --fix does not hide it.
    let other = app.attachment(&alan, "other.txt").await;
    let bytes = text(500, 5);
    put(&app, &alan.token, &other, "text/plain", bytes.clone()).await;
    std::fs::remove_file(app.blobs.path().join("blobs").join(sha256(&bytes))).unwrap();
    let found = app.run(&["check", "--fix", "--json"]).await;
    assert_eq!(found.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(doc["violations"][0]["kind"], json!("missing-blob"), "{doc}");
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR not a real picture, but PNG's signature";

/// A GraphQL multipart request (operations, map, one file part) for `createAttachment` of
/// `owner` with `file` named `filename` and declared `part_type`, plus `extra` input fields.
async fn upload(
    app: &TestApp,
    token: &str,
    owner: &str,
    extra: &str,
    (filename, part_type, file): (&str, &str, &[u8]),
) -> (StatusCode, Value) {
    let operations = json!({
        "query": format!("mutation($o: ID!, $f: Upload!) {{ createAttachment(input: {{ownerId: $o, file: $f{extra}}}) {{ id filename contentType sizeBytes sha256 }} }}"),
        "variables": { "o": owner, "f": null },
    });
    let boundary = "keepsake-test-boundary";
    let mut body = Vec::new();
    let mut part = |headers: &str, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"operations\"",
        operations.to_string().as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"map\"",
        br#"{"0": ["variables.f"]}"#,
    );
    part(
        &format!(
            "Content-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\nContent-Type: {part_type}"
        ),
        file,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(token)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_attachment_takes_a_file_as_the_multipart_spec_says(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.max_upload = 64 * 1024).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let (status, body) = upload(
        &app,
        &alan.token,
        &alan.id,
        "",
        ("photo.png", "image/png", PNG),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &data(&body)["createAttachment"];
    assert_eq!(created["filename"], json!("photo.png"), "{body}");
    assert_eq!(created["contentType"], json!("image/png"), "{body}");
    assert_eq!(created["sizeBytes"], json!(PNG.len()), "{body}");
    assert_eq!(created["sha256"], json!(sha256(PNG)), "{body}");
    let path = format!("/attachments/{}/content", id_of(created));
    let (status, head, bytes) = get(&app, Some(&alan.token), &path, &[]).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, PNG));
    assert_eq!(head[header::CONTENT_TYPE], "image/png");
    // The input's name wins over the part's.
    let (_, body) = upload(
        &app,
        &alan.token,
        &alan.id,
        ", filename: \"renamed.png\"",
        ("x.png", "image/png", PNG),
    )
    .await;
    assert_eq!(
        data(&body)["createAttachment"]["filename"],
        json!("renamed.png"),
        "{body}"
    );
    assert_eq!(
        stored(&app).0,
        vec![sha256(PNG)],
        "one blob for the same bytes"
    );

    // Refused, nothing stored and no row: bytes that are not what they say, another's
    // account, too large, no token.
    let rows = || async {
        app.admin()
            .ok(
                "query($o: ID!) { attachments(ownerId: $o, includeDeleted: true) { totalCount } }",
                json!({ "o": alan.id }),
                "attachments",
            )
            .await["totalCount"]
            .clone()
    };
    let before = rows().await;
    let (_, body) = upload(
        &app,
        &alan.token,
        &alan.id,
        "",
        ("notes.txt", "text/plain", PNG),
    )
    .await;
    crate::helpers::assert_error(&body, "BAD_USER_INPUT");
    let (_, body) = upload(
        &app,
        &bob.token,
        &alan.id,
        "",
        ("photo.png", "image/png", PNG),
    )
    .await;
    crate::helpers::assert_error(&body, "FORBIDDEN");
    let big = [PNG, &text(70 * 1024, 0)].concat();
    let (status, _) = upload(
        &app,
        &alan.token,
        &alan.id,
        "",
        ("big.png", "image/png", &big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&alan.token)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body("--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(rows().await, before);
    assert_eq!(stored(&app), (vec![sha256(PNG)], vec![]));

    // The metadata-only form still works, and says what it lacks.
    let body = app
        .graphql(
            Some(&alan.token),
            "mutation($o: ID!) { createAttachment(input: {ownerId: $o, filename: \"a.txt\", contentType: \"text/plain\"}) { id } }",
            json!({ "o": alan.id }),
        )
        .await;
    crate::helpers::assert_error(&body, "BAD_USER_INPUT");
    assert!(
        body.to_string()
            .contains("sizeBytes: required unless a file is uploaded"),
        "{body}"
    );
}

async fn seeded_attachments_can_hold_generated_content(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let seeded = app
        .run(&[
            "seed",
            "--users",
            "20",
            "--attachments-per-user",
            "2",
            "--deleted-fraction",
            "0.5",
            "--content-bytes",
            "100",
        ])
        .await;
    let said = crate::helpers::succeeded(&seeded);
    assert!(
        said.contains("gave 40 attachments 100 bytes of content each"),
        "{said}"
    );
    // Every attachment, live or deleted, holds its own 100 bytes.
    let [live_bytes, live_blobs, deleted_bytes, deleted_blobs, ..] = storage(&app).await;
    assert_eq!(live_blobs + deleted_blobs, 40.0);
    assert_eq!(live_bytes, 100.0 * live_blobs);
    assert_eq!(deleted_bytes, 100.0 * deleted_blobs);
    assert_eq!(stored(&app).0.len(), 40);
    // Deterministic: the bytes name their attachment.
    let page = app
        .admin()
        .ok(
            "{ attachments(first: 1) { nodes { id } } }",
            json!({}),
            "attachments",
        )
        .await;
    let id = id_of(&page["nodes"][0]);
    let (status, _, body) = get(
        &app,
        Some(&app.admin_token),
        &format!("/attachments/{id}/content"),
        &[],
    )
    .await;
    let row = keepsake::ids::decode(keepsake::ids::Kind::Attachment, &id).unwrap();
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            keepsake::service::seed::seed_content(row, 100)
        )
    );
    let checked = app.run(&["check"]).await;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

/// The interleaving a per-blob lock exists for: Bob uploads the bytes whose last row a purge
/// is taking. Bob's upload parks just before pointing his row at the blob (which it has made
/// sure exists); the purge erases the blob only if no row refers to it, so it must wait for
/// Bob's transaction, see his row, and keep the blob. Without the lock it erases the blob
/// under Bob's committed row.
async fn an_upload_racing_the_erasure_of_the_same_bytes_keeps_them(backend: Backend) {
    use crate::helpers::{Gate, race};
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let bytes = text(3_000, 7);
    let alans = app.attachment(&alan, "a.txt").await;
    put(&app, &alan.token, &alans, "text/plain", bytes.clone()).await;
    app.by(&alan).delete_attachment(&alans, None).await;
    let bobs = app.attachment(&bob, "b.txt").await;
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "attachments",
        "OLD.sha256 IS NULL AND NEW.sha256 IS NOT NULL",
    )
    .await;
    let raced = race(
        &app,
        gate,
        put(&app, &bob.token, &bobs, "text/plain", bytes.clone()),
        purge(&app, false),
    )
    .await;
    assert_eq!(raced.first.0, StatusCode::OK, "{}", raced.first.1);
    assert_eq!(raced.second["attachments"], json!(1), "{}", raced.second);
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the erasure must wait for the upload's blob lock"
        );
    }
    assert_eq!(raced.second["freedBytes"], json!(0), "{}", raced.second);
    let (status, _, body) = get(
        &app,
        Some(&bob.token),
        &format!("/attachments/{bobs}/content"),
        &[],
    )
    .await;
    assert_eq!((status, body == bytes), (StatusCode::OK, true));
    let checked = app.run(&["check"]).await;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}
