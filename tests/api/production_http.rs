//! What a GraphQL server in production is expected to speak besides GraphQL: CORS for
//! browser pages on other origins, gzip negotiated by `Accept-Encoding`, and Apollo's
//! Automatic Persisted Queries (a document's hash instead of the document, over POST and GET).
//!
//! CORS and compression are HTTP layers that do not touch the database: those tests run on
//! SQLite. Persisted queries execute as a viewer and run on both backends.

use std::io::Read as _;

use keepsake::config::CorsOrigins;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_ok, data, keepsake, on_both_backends};

const APP_ORIGIN: &str = "https://app.example.com";

on_both_backends!(
    an_unknown_persisted_query_hash_asks_for_the_document,
    a_registered_persisted_query_runs_by_hash_over_post_and_get,
    a_hash_that_is_not_the_documents_is_refused,
    a_document_the_schema_refuses_is_not_persisted,
    a_persisted_mutation_is_still_refused_over_get,
);

/// A server whose CORS setting is `origins`.
async fn with_cors(origins: &str) -> TestApp {
    let origins = CorsOrigins::parse(origins).expect("a valid setting");
    TestApp::spawn_with(Backend::Sqlite, |settings| settings.cors_origins = origins).await
}

/// A preflight for a POST with a token, as a browser sends it from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

/// A POST of `{ me { id } }` as the admin from `origin`.
async fn post_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/graphql", app.base))
        .header("origin", origin)
        .bearer_auth(&app.admin_token)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// The `Access-Control-*` headers of a response.
fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .map(|name| name.to_string())
        .collect()
}

#[tokio::test]
async fn a_preflight_may_ask_for_the_headers_graphql_clients_send_and_no_others() {
    let app = with_cors(APP_ORIGIN).await;
    let ask = |headers: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
            .header("origin", APP_ORIGIN)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .send()
    };
    // What Apollo Client sends: its name and version, and a preflight it asks for.
    let apollo = ask(
        "content-type,Apollographql-Client-Name,apollographql-client-version,apollo-require-preflight",
    )
    .await
    .unwrap();
    assert_eq!(apollo.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(apollo.headers(), "access-control-allow-headers"),
        Some(
            "content-type, apollographql-client-name, apollographql-client-version, \
             apollo-require-preflight"
        )
    );
    // A header off the safe list is left out (the browser then refuses to send it).
    let other = ask("authorization, x-forwarded-for, cookie").await.unwrap();
    assert_eq!(
        header(other.headers(), "access-control-allow-headers"),
        Some("authorization")
    );
    // Asking for nothing gets the headers Keepsake reads.
    let none = preflight_without_headers(&app).await;
    assert_eq!(
        header(none.headers(), "access-control-allow-headers"),
        Some("authorization, content-type, range, if-none-match, if-range")
    );
}

/// A preflight from the app's origin that asks for no header.
async fn preflight_without_headers(app: &TestApp) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
        .header("origin", APP_ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_gets_the_allow_headers() {
    let app = with_cors(&format!("{APP_ORIGIN}, http://localhost:5173")).await;
    let response = preflight(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        header(headers, "access-control-allow-methods"),
        Some("GET, POST, PUT")
    );
    // The headers it asked for, echoed.
    assert_eq!(
        header(headers, "access-control-allow-headers"),
        Some("authorization, content-type")
    );
    assert_eq!(
        header(headers, "access-control-expose-headers"),
        Some("etag, content-disposition, content-range, accept-ranges")
    );
    assert_eq!(header(headers, "access-control-max-age"), Some("600"));
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
    assert_eq!(header(headers, "vary"), Some("origin"));
    // The second origin of the list is as good as the first.
    let other = preflight(&app, "http://localhost:5173").await;
    assert_eq!(
        header(other.headers(), "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_headers() {
    let app = with_cors(APP_ORIGIN).await;
    for origin in [
        "https://evil.example",
        "http://app.example.com",
        "https://app.example.com.evil.example",
        "null",
    ] {
        let response = preflight(&app, origin).await;
        assert!(
            cors_headers(response.headers()).is_empty(),
            "{origin}: {:?}",
            response.headers()
        );
        // As if CORS were off: /graphql has no OPTIONS.
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn a_request_from_an_allowed_origin_gets_allow_origin() {
    let app = with_cors(APP_ORIGIN).await;
    let response = post_from(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(
        cors_headers(&headers),
        [
            "access-control-allow-origin",
            "access-control-expose-headers"
        ]
    );
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert!(
        headers
            .get_all("vary")
            .iter()
            .any(|value| value.to_str().unwrap().contains("origin")),
        "{headers:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(data(&body)["me"]["id"], app.admin_id.as_str());

    // Another origin's request still runs (CORS is the browser's check), without the header.
    let response = post_from(&app, "https://evil.example").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(cors_headers(response.headers()).is_empty());
}

#[tokio::test]
async fn a_star_allows_any_origin() {
    let app = with_cors("*").await;
    let response = preflight(&app, "https://anywhere.example").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some("*")
    );
    let response = post_from(&app, "https://anywhere.example").await;
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some("*")
    );
    assert_eq!(
        header(response.headers(), "access-control-allow-credentials"),
        None
    );
}

#[tokio::test]
async fn without_cors_origins_nothing_cors_is_sent() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = preflight(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(cors_headers(response.headers()).is_empty());
    let response = post_from(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(cors_headers(response.headers()).is_empty());
    assert!(
        response
            .headers()
            .get_all("vary")
            .iter()
            .all(|value| !value.to_str().unwrap().contains("origin"))
    );
}

#[test]
fn a_bad_cors_origin_fails_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    let serve = |origins: &str, flag: bool| {
        let mut command = keepsake(&url);
        command.env_remove("KEEPSAKE_CORS_ORIGINS");
        command.args(["serve", "--bind", "127.0.0.1:0"]);
        if flag {
            command.args(["--cors-origins", origins]);
        } else {
            command.env("KEEPSAKE_CORS_ORIGINS", origins);
        }
        command.output().unwrap()
    };
    for (origins, flag) in [
        ("https://app.example.com/", false),
        ("app.example.com", false),
        ("https://a.example,*", false),
        ("https://app.example.com/graphql", true),
    ] {
        let output = serve(origins, flag);
        assert!(!output.status.success(), "{origins} must be refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line, got: {stderr}");
        assert!(
            lines[0].contains("KEEPSAKE_CORS_ORIGINS (--cors-origins)"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A query whose answer is tens of kilobytes: every type of the schema with its fields.
const LARGE: &str = "{ __schema { types { name description fields { name description } } } }";

/// POSTs `query` as the admin with `accept_encoding`, if any.
async fn post_encoded(
    app: &TestApp,
    query: &str,
    accept_encoding: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "query": query }));
    if let Some(encoding) = accept_encoding {
        request = request.header("accept-encoding", encoding);
    }
    request.send().await.unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .expect("a gzip stream");
    plain
}

#[tokio::test]
async fn a_large_response_is_gzipped_when_asked_and_decodes_to_the_same_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let plain = post_encoded(&app, LARGE, None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(header(plain.headers(), "content-encoding"), None);
    let plain: Value = serde_json::from_slice(&plain.bytes().await.unwrap()).unwrap();
    assert_ok(&plain);

    let identity = post_encoded(&app, LARGE, Some("identity")).await;
    assert_eq!(header(identity.headers(), "content-encoding"), None);

    let gzipped = post_encoded(&app, LARGE, Some("br;q=1.0, gzip;q=0.8, *;q=0.1")).await;
    assert_eq!(gzipped.status(), StatusCode::OK);
    let headers = gzipped.headers().clone();
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert!(
        headers
            .get_all("vary")
            .iter()
            .any(|value| value.to_str().unwrap().contains("accept-encoding")),
        "{headers:?}"
    );
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json; charset=utf-8")
    );
    let compressed = gzipped.bytes().await.unwrap();
    let decoded = gunzip(&compressed);
    assert!(
        compressed.len() * 3 < decoded.len(),
        "{} bytes compressed to {}",
        decoded.len(),
        compressed.len()
    );
    let decoded: Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(decoded, plain);
}

#[tokio::test]
async fn small_responses_and_unasked_ones_go_plain_and_playground_assets_are_gzipped() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let small = post_encoded(&app, "{ __typename }", Some("gzip")).await;
    assert_eq!(header(small.headers(), "content-encoding"), None);
    assert_eq!(
        small.json::<Value>().await.unwrap(),
        json!({ "data": { "__typename": "Query" } })
    );

    let asset = |encoding: Option<&'static str>| {
        let mut request = app
            .http
            .get(format!("{}/playground/vendor/graphiql.min.js", app.base));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.send()
    };
    let plain = asset(None).await.unwrap();
    assert_eq!(header(plain.headers(), "content-encoding"), None);
    let plain = plain.bytes().await.unwrap();
    let gzipped = asset(Some("gzip")).await.unwrap();
    assert_eq!(header(gzipped.headers(), "content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gzipped.bytes().await.unwrap()), plain);
}

/// The lower-case hex SHA-256 of `document`, as Apollo clients compute it.
fn sha256_hex(document: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(document.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `{"persistedQuery": {"version": 1, "sha256Hash": hash}}`.
fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` to /graphql with the admin's token; returns the status and JSON body.
async fn post_json(app: &TestApp, body: Value) -> (StatusCode, HeaderMap, Value) {
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&app.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

/// GETs /graphql with these URL parameters and the admin's token.
async fn get_params(app: &TestApp, params: &[(&str, String)]) -> (StatusCode, HeaderMap, Value) {
    let response = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(params)
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

/// What Apollo clients wait for before sending the document.
fn not_found() -> Value {
    json!({ "errors": [{ "message": "PersistedQueryNotFound",
                         "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" } }] })
}

async fn an_unknown_persisted_query_hash_asks_for_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hash = sha256_hex("{ me { id } }");
    let (status, headers, body) = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, not_found());
    // A cache must not keep the miss: the next request may find the document.
    assert_eq!(
        header(&headers, "cache-control"),
        Some("private, no-cache, must-revalidate")
    );

    let extensions = persisted(&hash).to_string();
    let (status, _, body) = get_params(&app, &[("extensions", extensions)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, not_found());

    // The same in the newer media type.
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "extensions": persisted(&hash) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), not_found());
}

async fn a_registered_persisted_query_runs_by_hash_over_post_and_get(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let member = app.member("ada@example.com").await;
    let query = "query User($id: ID!) { user(id: $id) { email } }";
    let hash = sha256_hex(query);
    let variables = json!({ "id": member.id });
    let expected = json!({ "data": { "user": { "email": "ada@example.com" } } });

    // Apollo's sequence: the hash alone, a miss, then the document with its hash.
    let (_, _, miss) = post_json(
        &app,
        json!({ "variables": variables, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(miss, not_found());
    let (status, _, body) = post_json(
        &app,
        json!({ "query": query, "variables": variables, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));

    // From now on the hash is enough, in either case and over either method.
    let (status, _, body) = post_json(
        &app,
        json!({ "variables": variables, "operationName": "User",
                "extensions": persisted(&hash.to_ascii_uppercase()) }),
    )
    .await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    let (status, _, body) = get_params(
        &app,
        &[
            ("operationName", "User".into()),
            ("variables", variables.to_string()),
            ("extensions", persisted(&hash).to_string()),
        ],
    )
    .await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    // An empty `query` beside the hash is the hash alone.
    let (status, _, body) = get_params(
        &app,
        &[
            ("query", String::new()),
            ("variables", variables.to_string()),
            ("extensions", persisted(&hash).to_string()),
        ],
    )
    .await;
    assert_eq!((status, &body), (StatusCode::OK, &expected));
    assert_eq!(app.state.persisted.len(), 1);
}

async fn a_hash_that_is_not_the_documents_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let query = "{ me { id } }";
    let wrong = sha256_hex("{ me { email } }");
    let (status, _, body) = post_json(
        &app,
        json!({ "query": query, "extensions": persisted(&wrong) }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("sha256Hash"), "{message}");
    // Nothing was kept under either hash.
    for hash in [wrong, sha256_hex(query)] {
        let (_, _, body) = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
        assert_eq!(body, not_found());
    }

    // Malformed hashes and other versions say what to send.
    for extensions in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256_hex(query) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": { "version": 1 } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let (status, _, body) = post_json(&app, json!({ "extensions": extensions })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extensions}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
}

async fn a_document_the_schema_refuses_is_not_persisted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let query = "{ me { noSuchField } }";
    let hash = sha256_hex(query);
    let (status, _, body) = post_json(
        &app,
        json!({ "query": query, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    let (_, _, body) = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(body, not_found());
    assert!(app.state.persisted.is_empty());
}

async fn a_persisted_mutation_is_still_refused_over_get(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mutation = "mutation Add($input: CreateUserInput!) { createUser(input: $input) { email } }";
    let hash = sha256_hex(mutation);
    let input =
        |email: &str| json!({ "input": { "email": email, "name": "Grace", "role": "MEMBER" } });

    // Registering a mutation over GET is refused, and nothing is kept.
    let (status, headers, _) = get_params(
        &app,
        &[
            ("query", mutation.into()),
            ("variables", input("grace@example.com").to_string()),
            ("extensions", persisted(&hash).to_string()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&headers, "allow"), Some("POST"));
    assert!(app.state.persisted.is_empty());

    // Registered over POST, it runs by hash over POST…
    let (status, _, body) = post_json(
        &app,
        json!({ "query": mutation, "variables": input("grace@example.com"),
                "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data(&body)["createUser"]["email"], "grace@example.com");
    let (_, _, body) = post_json(
        &app,
        json!({ "variables": input("hopper@example.com"), "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(data(&body)["createUser"]["email"], "hopper@example.com");

    // …but its hash over GET is still a mutation over GET: the stored document decides.
    let (status, headers, body) = get_params(
        &app,
        &[
            ("variables", input("lovelace@example.com").to_string()),
            ("extensions", persisted(&hash).to_string()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(header(&headers, "allow"), Some("POST"));
    let body = app
        .as_admin("{ users(first: 10) { nodes { email } } }", json!({}))
        .await;
    let emails: Vec<_> = data(&body)["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !emails.iter().any(|email| email == "lovelace@example.com"),
        "{emails:?}"
    );
}
