//! GraphQL over HTTP: media types from `Accept`, status codes per outcome and media type,
//! `extensions.code` on documents refused before execution, and refusals of malformed
//! requests as JSON sentences with a status and a code (never a debug string).
//!
//! The protocol does not depend on the database: those tests run on SQLite. What executes
//! as a viewer runs on both backends.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, data, on_both_backends};

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

on_both_backends!(
    executed_requests_answer_200_with_data_in_both_media_types,
    field_errors_keep_their_codes,
    get_queries_take_variables_and_an_operation_name,
);

/// An answer: status, `Content-Type`, JSON body.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

impl Answer {
    async fn from(response: reqwest::Response) -> Answer {
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {status} {text}"));
        Answer {
            status,
            content_type,
            body,
        }
    }

    /// Asserts a refusal: one error with `code`, no `data`.
    #[track_caller]
    fn assert_refused(&self, status: StatusCode, code: &str) -> &str {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(self.body.get("data").is_none(), "no data: {}", self.body);
        let errors = self.body["errors"].as_array().expect("errors");
        assert!(!errors.is_empty());
        for error in errors {
            assert_eq!(error["extensions"]["code"], code, "{}", self.body);
        }
        errors[0]["message"].as_str().expect("a message")
    }
}

/// POSTs `body` as JSON with `Accept: accept`, without a token.
async fn post(app: &TestApp, accept: &str, body: Value) -> Answer {
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("accept", accept)
        .json(&body)
        .send()
        .await
        .unwrap();
    Answer::from(response).await
}

/// POSTs raw bytes with the given headers.
async fn post_raw(app: &TestApp, headers: &[(&str, &str)], body: &'static str) -> Answer {
    let mut request = app.http.post(format!("{}/graphql", app.base)).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Answer::from(request.send().await.unwrap()).await
}

/// A response read off a plain TCP connection.
struct RawAnswer {
    status: u16,
    headers: HashMap<String, String>,
    body: Value,
}

/// Sends `head` (request line and headers) and then `body` over a plain TCP connection, as
/// reqwest cannot: without any `Accept`, or chunked. The body is written from another thread
/// while the answer is read, since the server may answer before reading it all.
async fn raw_http(app: &TestApp, head: String, body: Vec<Vec<u8>>) -> RawAnswer {
    let address = app.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(b"\r\n").unwrap();
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            for chunk in body {
                if writer.write_all(&chunk).is_err() {
                    break; // the server answered and closed: fine
                }
            }
        });
        let mut answer = Vec::new();
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
                Err(err) if answer.is_empty() => panic!("no answer: {err}"),
                Err(_) => break,
            }
            if complete(&answer) {
                break;
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let _ = sender.join();
        parse_answer(&answer)
    })
    .await
    .unwrap()
}

/// Whether `answer` holds a whole response with a `Content-Length` body.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|length| body.len() >= length)
}

fn parse_answer(answer: &[u8]) -> RawAnswer {
    let text = String::from_utf8(answer.to_vec()).unwrap();
    // Skip interim answers (100 Continue).
    let mut rest = text.as_str();
    loop {
        let (head, body) = rest.split_once("\r\n\r\n").expect("a whole head");
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        if status == 100 {
            rest = body;
            continue;
        }
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        return RawAnswer {
            status,
            headers,
            body: serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: {body}")),
        };
    }
}

// --- media types --------------------------------------------------------------------------

#[tokio::test]
async fn a_client_accepting_only_application_json_gets_application_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let answer = post(&app, JSON, json!({ "query": "{ __typename }" })).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json; charset=utf-8");
    assert_eq!(answer.body, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn a_client_accepting_graphql_response_json_gets_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for accept in [
        GRAPHQL_RESPONSE,
        "application/graphql-response+json, application/json;q=0.9",
        "application/json;q=0.5, application/graphql-response+json",
        // What GraphiQL's fetcher sends.
        "application/graphql-response+json, multipart/mixed;q=0.9, application/json;q=0.8",
    ] {
        let answer = post(&app, accept, json!({ "query": "{ __typename }" })).await;
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(
            answer.content_type, "application/graphql-response+json; charset=utf-8",
            "{accept}"
        );
    }
}

#[tokio::test]
async fn wildcards_and_a_missing_accept_get_application_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for accept in ["*/*", "application/*", "text/html, */*;q=0.1"] {
        let answer = post(&app, accept, json!({ "query": "{ __typename }" })).await;
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(
            answer.content_type, "application/json; charset=utf-8",
            "{accept}"
        );
    }
    let body = br#"{"query":"{ __typename }"}"#.to_vec();
    let answer = raw_http(
        &app,
        format!(
            "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n",
            body.len()
        ),
        vec![body],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(answer.body["data"]["__typename"], "Query");
}

#[tokio::test]
async fn an_accept_that_allows_neither_type_gets_406() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for accept in ["text/html", "application/xml", "application/json;q=0"] {
        let answer = post(&app, accept, json!({ "query": "{ __typename }" })).await;
        let message = answer.assert_refused(StatusCode::NOT_ACCEPTABLE, "BAD_USER_INPUT");
        assert!(message.contains("application/json"), "{message}");
        assert_eq!(answer.content_type, "application/json; charset=utf-8");
    }
}

// --- request bodies -----------------------------------------------------------------------

#[tokio::test]
async fn a_post_without_a_json_content_type_gets_415() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let query = r#"{"query":"{ __typename }"}"#;
    for headers in [
        &[][..],
        &[("content-type", "text/plain")][..],
        &[("content-type", "application/x-www-form-urlencoded")][..],
        &[("content-type", "application/json; charset=latin1")][..],
    ] {
        let answer = post_raw(&app, headers, query).await;
        let message = answer.assert_refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_USER_INPUT");
        assert!(
            message.contains("Content-Type: application/json"),
            "{message}"
        );
    }
    // A charset of UTF-8 (any case) is welcome.
    let answer = post_raw(
        &app,
        &[("content-type", "application/json; charset=UTF-8")],
        query,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_sentence_not_a_debug_string() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for accept in [JSON, GRAPHQL_RESPONSE] {
        let answer = post_raw(
            &app,
            &[("content-type", "application/json"), ("accept", accept)],
            r#"{ "query"#,
        )
        .await;
        let message = answer.assert_refused(StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
        assert!(
            message.starts_with("the request body is not valid JSON (EOF while parsing"),
            "{message}"
        );
        assert!(message.contains("line 1 column 8"), "{message}");
        assert!(
            message.contains(r#"{"query": "#),
            "says what to send: {message}"
        );
        for debug in ["InvalidRequest", "Error(", "Custom {", "kind:"] {
            assert!(!message.contains(debug), "{message}");
        }
        assert!(
            answer.content_type.starts_with(accept),
            "{}",
            answer.content_type
        );
    }
}

#[tokio::test]
async fn requests_that_are_not_graphql_requests_get_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cases = [
        ("", "the request body is empty"),
        (
            r#"{"qeury": "{ __typename }"}"#,
            "the request has no \"query\"",
        ),
        (
            r#"{"query": {"obj": "ect"}}"#,
            "\"query\" must be a string, not an object",
        ),
        (
            r#"{"query": ["{ a }"]}"#,
            "\"query\" must be a string, not an array",
        ),
        (
            r#"{"query": "{ __typename }", "operationName": 0}"#,
            "\"operationName\" must be a string, not a number",
        ),
        (
            r#"{"query": "{ __typename }", "variables": "{}"}"#,
            "\"variables\" must be a JSON object",
        ),
        (
            r#"{"query": "{ __typename }", "extensions": false}"#,
            "\"extensions\" must be a JSON object",
        ),
        (r#"[{"query": "{ __typename }"}]"#, "batched requests"),
        (r#""{ __typename }""#, "must be a JSON object"),
    ];
    for (body, says) in cases {
        let answer = post_raw(&app, &[("content-type", "application/json")], body).await;
        let message = answer.assert_refused(StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
        assert!(message.contains(says), "{body}: {message}");
    }
}

#[tokio::test]
async fn null_parameters_are_allowed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let answer = post(
        &app,
        GRAPHQL_RESPONSE,
        json!({ "query": "{ __typename }", "operationName": null, "variables": null,
                "extensions": null }),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn an_oversized_body_gets_413_as_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let huge = "x".repeat(keepsake::app::MAX_BODY_BYTES);
    let response = app
        .http
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": "{ __typename }", "variables": { "pad": huge } }))
        .send()
        .await
        .unwrap();
    let answer = Answer::from(response).await;
    let message = answer.assert_refused(StatusCode::PAYLOAD_TOO_LARGE, "BAD_USER_INPUT");
    assert!(
        message.contains("larger than the limit of 1 MiB"),
        "{message}"
    );
}

/// `parts` framed for `Transfer-Encoding: chunked`, one chunk each, and the last chunk.
fn chunked(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut chunks: Vec<Vec<u8>> = parts
        .iter()
        .map(|part| [format!("{:x}\r\n", part.len()).as_bytes(), part, b"\r\n"].concat())
        .collect();
    chunks.push(b"0\r\n\r\n".to_vec());
    chunks
}

const CHUNKED_HEAD: &str = "POST /graphql HTTP/1.1\r\nHost: test\r\n\
    Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n";

#[tokio::test]
async fn an_oversized_chunked_body_gets_413_as_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let pad = vec![b'x'; 64 * 1024];
    let mut parts: Vec<&[u8]> = vec![br#"{"query":"{ __typename }","variables":{"pad":""#];
    parts.extend(std::iter::repeat_n(
        &pad[..],
        keepsake::app::MAX_BODY_BYTES / pad.len() + 1,
    ));
    parts.push(br#""}}"#);
    let answer = raw_http(&app, CHUNKED_HEAD.to_owned(), chunked(&parts)).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(
        answer.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        answer.body["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let message = answer.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("larger than the limit of 1 MiB"),
        "{message}"
    );
}

#[tokio::test]
async fn a_chunked_body_within_the_limit_is_read_whole() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let parts: [&[u8]; 3] = [br#"{"query":"{"#, b" __typename }", br#""}"#];
    let answer = raw_http(&app, CHUNKED_HEAD.to_owned(), chunked(&parts)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["__typename"], "Query");
}

// --- documents refused before execution ---------------------------------------------------

#[tokio::test]
async fn parse_errors_carry_graphql_parse_failed_and_no_data() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (accept, status) in [
        (JSON, StatusCode::OK),
        (GRAPHQL_RESPONSE, StatusCode::BAD_REQUEST),
    ] {
        let answer = post(&app, accept, json!({ "query": "{ me { id }" })).await;
        let message = answer.assert_refused(status, "GRAPHQL_PARSE_FAILED");
        assert!(
            message.starts_with("syntax error at line 1, column 12: "),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line, no drawing: {message}");
        assert_eq!(
            answer.body["errors"][0]["locations"],
            json!([{ "line": 1, "column": 12 }])
        );
    }
}

#[tokio::test]
async fn validation_errors_carry_graphql_validation_failed_and_no_data() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let deep = format!(
        "{{ me {} {{ id }} {} }}",
        "{ attachments { nodes { owner ".repeat(10),
        "} } }".repeat(10)
    );
    let costly = format!(
        "{{ {} }}",
        (0..200)
            .map(|i| format!("u{i}: users(first: 100) {{ nodes {{ id name }} }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // What each refusal's message says (lower-cased).
    let documents = [
        ("{ nope }", "unknown field"),
        ("{ me { nope } }", "nope"),
        (
            "query A { __typename } query A { __typename }",
            "defined twice",
        ),
        (
            "query A { __typename } query B { __typename }",
            "operation name",
        ),
        (deep.as_str(), "deep"),
        (costly.as_str(), "cost"),
    ];
    for (accept, status) in [
        (JSON, StatusCode::OK),
        (GRAPHQL_RESPONSE, StatusCode::BAD_REQUEST),
    ] {
        for (query, says) in documents {
            let answer = post(&app, accept, json!({ "query": query })).await;
            let message = answer.assert_refused(status, "GRAPHQL_VALIDATION_FAILED");
            assert!(
                message.to_lowercase().contains(says),
                "{says:?} in {message}"
            );
        }
    }
}

#[tokio::test]
async fn variable_coercion_failures_carry_graphql_validation_failed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user = "query($id: ID!) { user(id: $id) { id } }";
    let cases = [
        (json!({ "query": user }), "was not provided"),
        (
            json!({ "query": user, "variables": { "id": null } }),
            "must not be null",
        ),
        (
            json!({ "query": "query($n: Int) { users(first: $n) { totalCount } }",
                    "variables": { "n": "ten" } }),
            "Int",
        ),
        (
            json!({ "query": "query CoerceFailure($id: ID!) { __typename }",
                    "variables": { "id": null } }),
            "$id",
        ),
    ];
    for (accept, status) in [
        (JSON, StatusCode::OK),
        (GRAPHQL_RESPONSE, StatusCode::BAD_REQUEST),
    ] {
        for (request, says) in &cases {
            let answer = post(&app, accept, request.clone()).await;
            let message = answer.assert_refused(status, "GRAPHQL_VALIDATION_FAILED");
            assert!(message.contains(says), "{request}: {message}");
        }
    }
}

#[tokio::test]
async fn a_refused_document_runs_no_sql() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let statements = || app.state.metrics.render();
    let count = |text: String| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix("keepsake_db_statements_total ")?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap()
    };
    let before = count(statements());
    for query in [
        "{ me { id }",
        "{ me { nope } }",
        "query($id: ID!) { user(id: $id) { id } }",
    ] {
        let response = app
            .http
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&app.admin_token)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Parse and variable refusals come before authentication; the validation refusal costs
    // the viewer's lookup only.
    assert_eq!(count(statements()) - before, 1.0);
}

// --- GET ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_mutation_over_get_gets_405_with_allow_post() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for accept in [JSON, GRAPHQL_RESPONSE] {
        let response = app
            .http
            .get(format!("{}/graphql", app.base))
            .query(&[("query", "mutation { __typename }")])
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], "POST");
        let answer = Answer::from(response).await;
        let message = answer.assert_refused(StatusCode::METHOD_NOT_ALLOWED, "BAD_USER_INPUT");
        assert!(message.contains("POST"), "{message}");
    }
}

#[tokio::test]
async fn a_get_without_a_query_or_with_bad_variables_gets_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (params, says) in [
        (&[][..], "no \"query\""),
        (
            &[("query", "{ __typename }"), ("variables", "{nope")][..],
            "\"variables\" parameter is not valid JSON",
        ),
        (
            &[("query", "{ __typename }"), ("variables", "[1]")][..],
            "\"variables\" must be a JSON object",
        ),
    ] {
        let response = app
            .http
            .get(format!("{}/graphql", app.base))
            .query(params)
            .send()
            .await
            .unwrap();
        let answer = Answer::from(response).await;
        let message = answer.assert_refused(StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
        assert!(message.contains(says), "{message}");
    }
}

// --- executed requests, as a viewer -------------------------------------------------------

async fn executed_requests_answer_200_with_data_in_both_media_types(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for accept in [JSON, GRAPHQL_RESPONSE] {
        let response = app
            .http
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&app.admin_token)
            .header("accept", accept)
            .json(&json!({ "query": "{ me { email role } }" }))
            .send()
            .await
            .unwrap();
        let answer = Answer::from(response).await;
        assert_eq!(answer.status, 200);
        assert!(answer.content_type.starts_with(accept));
        assert_eq!(
            answer.body,
            json!({ "data": { "me": { "email": "admin@localhost", "role": "ADMIN" } } })
        );
    }
}

async fn field_errors_keep_their_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let member = app.member("ada@example.com").await;
    for accept in [JSON, GRAPHQL_RESPONSE] {
        // Without a token: executed, `me` is null beside UNAUTHENTICATED, 200 either way.
        let answer = post(&app, accept, json!({ "query": "{ __typename me { id } }" })).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(data(&answer.body)["__typename"], "Query");
        assert_eq!(data(&answer.body)["me"], Value::Null);
        assert_eq!(
            answer.body["errors"][0]["extensions"]["code"],
            "UNAUTHENTICATED"
        );

        // A member's includeDeleted: FORBIDDEN, and the null reaches `data` (non-null root
        // field): still executed, so still 200 with a `data` key.
        let response = app
            .http
            .post(format!("{}/graphql", app.base))
            .bearer_auth(&member.token)
            .header("accept", accept)
            .json(&json!({ "query": "{ users(includeDeleted: true) { totalCount } }" }))
            .send()
            .await
            .unwrap();
        let answer = Answer::from(response).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.body.get("data"),
            Some(&Value::Null),
            "{}",
            answer.body
        );
        assert_eq!(answer.body["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(answer.body["errors"][0]["path"], json!(["users"]));
    }
}

async fn get_queries_take_variables_and_an_operation_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(&[
            (
                "query",
                "query Other { __typename } query Me($id: ID!) { user(id: $id) { email } }",
            ),
            ("operationName", "Me"),
            ("variables", &json!({ "id": app.admin_id }).to_string()),
        ])
        .bearer_auth(&app.admin_token)
        .header("accept", GRAPHQL_RESPONSE)
        .send()
        .await
        .unwrap();
    let answer = Answer::from(response).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.content_type,
        "application/graphql-response+json; charset=utf-8"
    );
    assert_eq!(data(&answer.body)["user"]["email"], "admin@localhost");
}
