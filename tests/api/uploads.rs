//! Hostile uploads through `/graphql`: the `Upload` scalar where no file was sent, multipart
//! requests without a token or out of shape, a file at and past the limit, one file mapped
//! to two variables, and more files than a request may carry. Each must get an answer with a code, leave nothing behind, and
//! leave the server answering.

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::content::{get, put, sha256, stored, stored_within_5s, text};
use crate::helpers::{Backend, TestApp, assert_error, data, id_of, on_both_backends};

on_both_backends!(
    the_upload_scalar_without_a_file_is_refused_not_a_crash,
    multipart_requests_out_of_shape_or_unsigned_are_refused_before_anything_is_kept,
    a_file_of_exactly_the_limit_passes_and_one_byte_more_does_not,
    one_file_fills_one_variable_and_two_files_fill_two,
    more_files_than_the_limit_are_refused_before_any_is_read,
    a_map_of_many_paths_takes_no_descriptors_where_they_are_scarce,
    a_file_part_without_a_filename_is_named_upload,
    two_uploads_racing_on_one_attachment_each_erase_what_they_replaced,
    a_multipart_upload_cut_off_mid_file_leaves_nothing,
);

const LIMIT: usize = 64 * 1024;
const BOUNDARY: &str = "keepsake-hostile-boundary";

/// One multipart part: its headers and its content.
pub(crate) type Part<'a> = (String, &'a [u8]);

pub(crate) fn field<'a>(name: &str, content: &'a [u8]) -> Part<'a> {
    (
        format!("Content-Disposition: form-data; name=\"{name}\""),
        content,
    )
}

pub(crate) fn file<'a>(name: &str, filename: &str, content: &'a [u8]) -> Part<'a> {
    (
        format!(
            "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
             Content-Type: text/plain"
        ),
        content,
    )
}

/// `parts` as multipart/form-data, without the closing boundary.
fn parts_body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (headers, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body
}

/// POSTs `parts` as multipart/form-data to `/graphql`; the status and the body as JSON.
pub(crate) async fn multipart(
    app: &TestApp,
    token: Option<&str>,
    parts: &[Part<'_>],
) -> (StatusCode, Value) {
    multipart_at(&app.http, &app.base, token, parts).await
}

/// Like [`multipart`], to the server at `base`.
async fn multipart_at(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    parts: &[Part<'_>],
) -> (StatusCode, Value) {
    let mut body = parts_body(parts);
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let mut request = http
        .post(format!("{base}/graphql"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

pub(crate) const CREATE: &str = "mutation($o: ID!, $f: Upload!) { createAttachment(input: {ownerId: $o, file: $f}) { id sizeBytes sha256 } }";

pub(crate) fn operations(owner: &str) -> Vec<u8> {
    json!({ "query": CREATE, "variables": { "o": owner, "f": null } })
        .to_string()
        .into_bytes()
}

async fn row_count(app: &TestApp) -> Value {
    app.admin()
        .ok(
            "{ attachments(includeDeleted: true) { totalCount } }",
            json!({}),
            "attachments",
        )
        .await["totalCount"]
        .clone()
}

async fn the_upload_scalar_without_a_file_is_refused_not_a_crash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let before = row_count(&app).await;
    // The marker async-graphql's own scalar unwraps: not a number, and a file never sent.
    for (value, code) in [
        ("#__graphql_file__:x", "BAD_USER_INPUT"),
        ("#__graphql_file__:7", "BAD_USER_INPUT"),
        ("#__graphql_file__:0", "BAD_USER_INPUT"),
        ("just text", "BAD_USER_INPUT"),
    ] {
        for token in [Some(alan.token.as_str()), None] {
            let body = app
                .graphql(token, CREATE, json!({ "o": alan.id, "f": value }))
                .await;
            // Arguments are read before the resolver asks who is signed in, except for a
            // well-formed marker, which the resolver reads.
            let expected = match (token, value) {
                (None, "#__graphql_file__:7" | "#__graphql_file__:0") => "UNAUTHENTICATED",
                _ => code,
            };
            assert_error(&body, expected);
            assert!(!body.to_string().contains("panicked"), "{body}");
        }
    }
    // Written into the document itself.
    let inline = format!(
        "mutation {{ createAttachment(input: {{ownerId: \"{}\", file: \"#__graphql_file__:x\"}}) {{ id }} }}",
        alan.id
    );
    let body = app.graphql(Some(&alan.token), &inline, json!({})).await;
    assert_error(&body, "BAD_USER_INPUT");
    assert!(
        body.to_string().contains("multipart"),
        "the message says how a file is sent: {body}"
    );
    let body = app
        .graphql(
            Some(&alan.token),
            CREATE,
            json!({ "o": alan.id, "f": "#__graphql_file__:0" }),
        )
        .await;
    assert!(
        body.to_string().contains("multipart/form-data"),
        "the message says how a file is sent: {body}"
    );
    // Still serving, nothing created.
    assert_eq!(row_count(&app).await, before);
    assert_eq!(stored(&app), (vec![], vec![]));
}

async fn multipart_requests_out_of_shape_or_unsigned_are_refused_before_anything_is_kept(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, |settings| settings.max_upload = LIMIT as u64).await;
    let alan = app.member("alan@example.com").await;
    let before = row_count(&app).await;
    let ops = operations(&alan.id);
    let map = br#"{"0": ["variables.f"]}"#;
    let content = text(1000, 1);
    let well_formed = [
        field("operations", &ops),
        field("map", map),
        file("0", "a.txt", &content),
    ];

    // No token, a forged one, an undo credential: 401 before the body is read.
    for token in [None, Some("not.a.token")] {
        let (status, body) = multipart(&app, token, &well_formed).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_error(&body, "UNAUTHENTICATED");
        assert!(body.to_string().contains("Authorization: Bearer"), "{body}");
    }

    let two_maps = br#"{"0": ["variables.f"], "1": ["variables.f"]}"#;
    let cases: Vec<(&str, Vec<Part>)> = vec![
        (
            "more than one file",
            vec![
                field("operations", &ops),
                field("map", two_maps),
                file("0", "a.txt", &content),
                file("1", "b.txt", &content),
            ],
        ),
        (
            "which was not sent",
            vec![field("operations", &ops), field("map", map)],
        ),
        (
            "comes before map",
            vec![
                field("operations", &ops),
                file("0", "a.txt", &content),
                field("map", map),
            ],
        ),
        (
            "not named in map",
            vec![
                field("operations", &ops),
                field("map", map),
                file("9", "a.txt", &content),
            ],
        ),
        (
            "out of place or sent twice",
            vec![
                field("map", map),
                field("operations", &ops),
                file("0", "a.txt", &content),
            ],
        ),
        (
            "map is not a JSON object",
            vec![
                field("operations", &ops),
                field("map", b"[1, 2]"),
                file("0", "a.txt", &content),
            ],
        ),
        ("comes before map", vec![file("0", "a.txt", &content)]),
        ("the part map is missing", vec![field("operations", &ops)]),
        (
            "not valid JSON",
            vec![
                field("operations", b"{not json"),
                field("map", map),
                file("0", "a.txt", &content),
            ],
        ),
    ];
    for (says, parts) in cases {
        let (status, body) = multipart(&app, Some(&alan.token), &parts).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{says}: {body}");
        assert_error(&body, "BAD_USER_INPUT");
        assert!(body.to_string().contains(says), "{says}: {body}");
    }

    // `operations` is JSON and held to the JSON limit (1 MiB), not to the file's.
    let padded = json!({
        "query": CREATE,
        "variables": { "o": alan.id, "f": null, "pad": "x".repeat(1024 * 1024) },
    })
    .to_string();
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", padded.as_bytes()),
            field("map", map),
            file("0", "a.txt", &content),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "BAD_USER_INPUT");

    assert_eq!(row_count(&app).await, before);
    assert_eq!(stored(&app), (vec![], vec![]), "nothing kept or staged");
}

async fn a_file_of_exactly_the_limit_passes_and_one_byte_more_does_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.max_upload = LIMIT as u64).await;
    let alan = app.member("alan@example.com").await;
    let ops = operations(&alan.id);
    let map = br#"{"0": ["variables.f"]}"#;

    let over = text(LIMIT + 1, 3);
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", &ops),
            field("map", map),
            file("0", "over.txt", &over),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "BAD_USER_INPUT");
    assert!(body.to_string().contains("KEEPSAKE_MAX_UPLOAD"), "{body}");
    assert_eq!(stored(&app), (vec![], vec![]));

    let exact = text(LIMIT, 4);
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", &ops),
            field("map", map),
            file("0", "exact.txt", &exact),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &data(&body)["createAttachment"];
    assert_eq!(created["sizeBytes"], json!(LIMIT), "{body}");
    assert_eq!(created["sha256"], json!(sha256(&exact)), "{body}");
    assert_eq!(stored(&app), (vec![sha256(&exact)], vec![]));

    // A zero-byte file is a file.
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", &ops),
            field("map", map),
            file("0", "empty.txt", b""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(data(&body)["createAttachment"]["sizeBytes"], json!(0));
}

/// One file mapped to two variables would be stored twice (and, mapped to two hundred, two
/// hundred times, each copy holding a file descriptor): refused before a byte of it is read.
/// Two files for two variables are fine.
async fn one_file_fills_one_variable_and_two_files_fill_two(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let before = row_count(&app).await;
    let query = "mutation($o: ID!, $a: Upload!, $b: Upload!) { \
                 a: createAttachment(input: {ownerId: $o, file: $a}) { id sizeBytes sha256 } \
                 b: createAttachment(input: {ownerId: $o, file: $b}) { id sizeBytes sha256 } }";
    let ops =
        json!({ "query": query, "variables": { "o": alan.id, "a": null, "b": null } }).to_string();
    let content = text(200_000, 5);
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", ops.as_bytes()),
            field("map", br#"{"0": ["variables.a", "variables.b"]}"#),
            file("0", "twice.txt", &content),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "BAD_USER_INPUT");
    assert!(body.to_string().contains("exactly one"), "{body}");
    assert_eq!(row_count(&app).await, before, "nothing was created");
    assert_eq!(stored(&app), (vec![], vec![]), "nothing kept or staged");

    let other = text(100_000, 6);
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", ops.as_bytes()),
            field("map", br#"{"0": ["variables.a"], "1": ["variables.b"]}"#),
            file("0", "first.txt", &content),
            file("1", "second.txt", &other),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (key, bytes) in [("a", &content), ("b", &other)] {
        let created = &data(&body)[key];
        assert_eq!(created["sizeBytes"], json!(bytes.len()), "{key}: {body}");
        assert_eq!(created["sha256"], json!(sha256(bytes)), "{key}: {body}");
        let path = format!("/attachments/{}/content", id_of(created));
        let (status, _, read) = get(&app, Some(&alan.token), &path, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(&read == bytes, "{key}: the bytes read back differ");
    }
    let mut blobs = vec![sha256(&content), sha256(&other)];
    blobs.sort();
    let (mut held, staged) = stored(&app);
    held.sort();
    assert_eq!((held, staged), (blobs, vec![]));
}

/// More files, or more `map` entries, than `KEEPSAKE_MAX_FILES` are refused with 400 before
/// a file is read: the 1,100 paths of the hostile request, and eleven files at the default
/// of ten.
async fn more_files_than_the_limit_are_refused_before_any_is_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let before = row_count(&app).await;
    let ops = operations(&alan.id);
    let content = text(10_000, 7);
    let paths: Vec<String> = (0..1_100).map(|i| format!("\"variables.v{i}\"")).collect();
    let many_paths = format!("{{\"0\": [{}]}}", paths.join(","));
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("\"{i}\": [\"variables.v{i}\"]"))
        .collect();
    let eleven = format!("{{{}}}", eleven.join(","));
    let names: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let mut eleven_files = vec![field("operations", &ops), field("map", eleven.as_bytes())];
    eleven_files.extend(names.iter().map(|name| file(name, "a.txt", &content)));
    for (says, parts) in [
        (
            "exactly one",
            vec![
                field("operations", &ops),
                field("map", many_paths.as_bytes()),
                file("0", "a.txt", &content),
            ],
        ),
        ("KEEPSAKE_MAX_FILES", eleven_files),
    ] {
        let (status, body) = multipart(&app, Some(&alan.token), &parts).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{says}: {body}");
        assert_error(&body, "BAD_USER_INPUT");
        assert!(body.to_string().contains(says), "{says}: {body}");
    }
    assert_eq!(row_count(&app).await, before);
    assert_eq!(stored(&app), (vec![], vec![]), "nothing kept or staged");
}

/// gql's streaming uploads and `curl -F '0=<file'` send the file's part without a filename:
/// it is still the file, named `upload` unless the request names it.
async fn a_file_part_without_a_filename_is_named_upload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let content = text(1_000, 12);
    let unnamed = (
        "Content-Disposition: form-data; name=\"0\"\r\nContent-Type: text/plain".to_owned(),
        content.as_slice(),
    );
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", &operations(&alan.id)),
            field("map", br#"{"0": ["variables.f"]}"#),
            unnamed.clone(),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = id_of(&data(&body)["createAttachment"]);
    let read = app
        .by(&alan)
        .send(
            "query($id: ID!) { attachment(id: $id) { filename sizeBytes } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data(&read)["attachment"],
        json!({ "filename": "upload", "sizeBytes": 1_000 })
    );
    // Without even a Content-Type: the bytes are taken as they are.
    let bare = (
        "Content-Disposition: form-data; name=\"0\"".to_owned(),
        content.as_slice(),
    );
    let (status, body) = multipart(
        &app,
        Some(&alan.token),
        &[
            field("operations", &operations(&alan.id)),
            field("map", br#"{"0": ["variables.f"]}"#),
            bare,
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The server runs with `ulimit -n 128`. Before, a `map` of 1,100 paths to one file opened a
/// descriptor per path for the whole request, so such requests failed with "Too many open
/// files" and took everyone's uploads (and the accept loop) down with them. Now they are
/// refused from `map` alone, and uploads sent beside them, and after them, go through.
async fn a_map_of_many_paths_takes_no_descriptors_where_they_are_scarce(backend: Backend) {
    use crate::crash::Server;
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let server = Server::start_with_descriptors(&app, 128).await;
    let ops = operations(&alan.id);
    let content = text(50_000, 11);
    let paths: Vec<String> = (0..1_100).map(|i| format!("\"variables.v{i}\"")).collect();
    let many_paths = format!("{{\"0\": [{}]}}", paths.join(","));
    let hostile = [
        field("operations", &ops),
        field("map", many_paths.as_bytes()),
        file("0", "a.txt", &content),
    ];
    let honest = [
        field("operations", &ops),
        field("map", br#"{"0": ["variables.f"]}"#),
        file("0", "honest.txt", &content),
    ];
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let hostile_ones =
            (0..4).map(|_| multipart_at(&http, &server.base, Some(&alan.token), &hostile));
        let (refused, (status, body)) = tokio::join!(
            futures_util::future::join_all(hostile_ones),
            multipart_at(&http, &server.base, Some(&alan.token), &honest)
        );
        for (status, body) in refused {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(body.to_string().contains("exactly one"), "{body}");
        }
        assert_eq!(
            status,
            StatusCode::OK,
            "the honest upload beside them: {body}"
        );
        assert_eq!(
            data(&body)["createAttachment"]["sha256"],
            json!(sha256(&content))
        );
    }
}

/// Two `PUT`s of one attachment's content at once. Both read the row's old bytes (X) before
/// either takes the row's lock; the first replaces X with Y, the second then replaces Y with
/// Z. The second must erase Y (what it replaced under the lock), not X (what it read first):
/// else Y stays in the store with no row, and `check` fails.
async fn two_uploads_racing_on_one_attachment_each_erase_what_they_replaced(backend: Backend) {
    use crate::helpers::{Gate, race};
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let id = app.attachment(&alan, "a.txt").await;
    let (x, y, z) = (text(2_000, 1), text(2_000, 2), text(2_000, 3));
    let (status, body) = put(&app, &alan.token, &id, "text/plain", x.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gate = Gate::install(
        &app,
        "BEFORE UPDATE",
        "attachments",
        "OLD.sha256 IS DISTINCT FROM NEW.sha256",
    )
    .await;
    let raced = race(
        &app,
        gate,
        put(&app, &alan.token, &id, "text/plain", y.clone()),
        put(&app, &alan.token, &id, "text/plain", z.clone()),
    )
    .await;
    assert_eq!(raced.first.0, StatusCode::OK, "{}", raced.first.1);
    assert_eq!(raced.second.0, StatusCode::OK, "{}", raced.second.1);
    if app.is_postgres() {
        assert!(
            raced.second_waited,
            "the second upload must wait for the row"
        );
    }
    let path = format!("/attachments/{id}/content");
    let (_, _, bytes) = get(&app, Some(&alan.token), &path, &[]).await;
    assert!(bytes == z, "the last upload's bytes are the content");
    let expected = (vec![sha256(&z)], vec![]);
    assert_eq!(
        stored_within_5s(&app, expected.clone()).await,
        expected,
        "X and Y are gone"
    );
    let checked = app.run(&["check"]).await;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

/// A multipart request whose client goes away halfway through the file: no row, no blob, no
/// staged upload, and `check` finds nothing to report.
async fn a_multipart_upload_cut_off_mid_file_leaves_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let before = row_count(&app).await;
    let ops = operations(&alan.id);
    let mut head = parts_body(&[
        field("operations", &ops),
        field("map", br#"{"0": ["variables.f"]}"#),
    ]);
    let (headers, _) = file("0", "half.txt", b"");
    head.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
    head.extend_from_slice(&text(300_000, 9));
    let chunks = vec![Ok(head), Err(std::io::Error::other("the client went away"))];
    let sent = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&alan.token)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    assert!(
        sent.as_ref().map_or(true, |r| !r.status().is_success()),
        "{sent:?}"
    );
    assert_eq!(row_count(&app).await, before);
    assert_eq!(stored(&app), (vec![], vec![]));
    let checked = app.run(&["check"]).await;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}
