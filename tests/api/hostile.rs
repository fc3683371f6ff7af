//! Hostile or careless clients: each test sends what one would, and checks that it is
//! refused or bounded, that it costs no more than its budget (statements read from the
//! server's counter, never timings), and that everyone else is still served.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_error, assert_ok, data, error_codes, metric, on_both_backends,
};
use crate::uploads::{field, file, operations};

on_both_backends!(
    a_document_past_the_token_limit_is_refused_before_it_is_parsed,
    answers_to_get_are_private_to_their_caller,
    metrics_answer_an_admin_or_the_metrics_address_only,
    a_persisted_hash_finds_only_documents_of_the_same_role,
    a_viewer_past_their_requests_in_flight_gets_429_and_others_do_not,
    a_request_runs_no_more_statements_than_its_budget,
    a_request_holds_at_most_two_connections_at_once,
    recent_deletions_cost_the_same_few_statements_however_many_there_are,
    the_deletion_log_with_what_each_deletion_hid_is_a_fixed_number_of_statements,
    aliases_that_would_run_past_the_budget_are_refused_before_they_run,
    a_content_type_is_one_media_type_stored_lower_case,
);

/// A 1 MiB document of `__typename`s (95,000 of them), sent without a token, used to be parsed
/// whole. Now it is refused from its first 5,001 tokens, with no SQL run, and the limit is a
/// setting: a document of exactly the limit parses, one token more does not.
async fn a_document_past_the_token_limit_is_refused_before_it_is_parsed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bomb = format!("{{ {}}}", "__typename ".repeat(95_000));
    assert!(bomb.len() < 1024 * 1024, "under the body limit");
    let before = app.statements().await;
    let body = app.graphql(None, &bomb, json!({})).await;
    assert_error(&body, "GRAPHQL_PARSE_FAILED");
    assert!(
        body.get("data").is_none(),
        "refused before execution: {body:.200}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("5000 tokens"), "{message}");
    assert_eq!(app.statements().await - before, 0.0, "no SQL for a refusal");
    // With a token too: the bound is the same for everyone.
    let body = app.graphql(Some(&app.admin_token), &bomb, json!({})).await;
    assert_error(&body, "GRAPHQL_PARSE_FAILED");

    let app = TestApp::spawn_with(app_backend(&app), |s| s.limits.max_tokens = 102).await;
    // `{` + 100 names + `}`: 102 tokens, comments and commas not counted.
    let at_limit = format!("{{ # a comment\n {}}}", "__typename, ".repeat(100));
    assert_ok(&app.graphql(None, &at_limit, json!({})).await);
    let over = format!("{{ {}}}", "__typename ".repeat(101));
    let body = app.graphql(None, &over, json!({})).await;
    assert_error(&body, "GRAPHQL_PARSE_FAILED");
}

/// The backend a running app is on, for a second app on the same kind of database.
fn app_backend(app: &TestApp) -> Backend {
    if app.is_postgres() {
        Backend::postgres()
    } else {
        Backend::Sqlite
    }
}

/// An answer to GET carries private data (a user's email): no shared cache may keep it,
/// and no cache may serve one token's answer to another.
async fn answers_to_get_are_private_to_their_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .get(format!("{}/graphql", app.base))
        .query(&[("query", "{ me { email } }")])
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("private, no-store")
    );
    let vary: Vec<&str> = headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        vary.iter()
            .any(|v| v.to_ascii_lowercase().contains("authorization")),
        "{vary:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(data(&body)["me"]["email"], "admin@localhost");
}

/// `/metrics` tells what requests did (its statement counter is how a hidden row would
/// show), so only an admin reads it, or a scraper on the separate metrics address.
async fn metrics_answer_an_admin_or_the_metrics_address_only(backend: Backend) {
    let metrics_port = free_port();
    let app = TestApp::spawn_with(backend, |s| {
        s.metrics_bind = Some(format!("127.0.0.1:{metrics_port}").parse().unwrap());
    })
    .await;
    let ada = app.member("ada@example.com").await;
    let support = app.user("sam@example.com", "SUPPORT").await;
    let get = |token: Option<String>| {
        let mut request = app.http.get(format!("{}/metrics", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap() }
    };
    let nobody = get(None).await;
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    let text = nobody.text().await.unwrap();
    assert!(!text.contains("keepsake_db_statements_total"), "{text}");
    assert!(text.contains("KEEPSAKE_METRICS_BIND"), "{text}");
    assert_eq!(
        get(Some("not-a-token".into())).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for user in [&ada, &support] {
        let refused = get(Some(user.token.clone())).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(
            !refused
                .text()
                .await
                .unwrap()
                .contains("keepsake_db_statements_total")
        );
    }
    let admin = get(Some(app.admin_token.clone())).await;
    assert_eq!(admin.status(), StatusCode::OK);
    metric(&admin.text().await.unwrap(), "keepsake_db_statements_total");

    // The separate address answers anyone, and serves nothing else.
    let open = app
        .http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    metric(&open.text().await.unwrap(), "keepsake_db_statements_total");
    let graphql = app
        .http
        .post(format!("http://127.0.0.1:{metrics_port}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), StatusCode::NOT_FOUND);
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// The lower-case hex SHA-256 of `document`.
fn sha256_hex(document: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(document.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// POSTs `body` with `token`; the JSON answer.
async fn post(app: &TestApp, token: Option<&str>, body: Value) -> Value {
    let mut request = app.http.post(format!("{}/graphql", app.base)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// A hash alone used to find any document any client had run: a member could learn whether
/// an admin had run a document with a given literal in it (an email searched for, say).
/// Now a hash finds only documents the same role has run.
async fn a_persisted_hash_finds_only_documents_of_the_same_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let other_admin = app.user("root2@example.com", "ADMIN").await;
    let secret = r#"{ deletions(search: "alice@example.com", first: 1) { totalCount } }"#;
    let hash = sha256_hex(secret);
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let ran = post(
        &app,
        Some(&app.admin_token),
        json!({ "query": secret, "extensions": extensions }),
    )
    .await;
    assert_ok(&ran);
    // Another admin finds it by hash; a member, an anonymous caller do not.
    let found = post(
        &app,
        Some(&other_admin.token),
        json!({ "extensions": extensions }),
    )
    .await;
    assert_eq!(data(&found)["deletions"]["totalCount"], 0, "{found}");
    for token in [Some(ada.token.as_str()), None] {
        let missed = post(&app, token, json!({ "extensions": extensions })).await;
        assert_eq!(
            error_codes(&missed),
            ["PERSISTED_QUERY_NOT_FOUND"],
            "{missed}"
        );
    }
    // Members share their own: what one member ran, another finds.
    let own = "{ me { id } }";
    let own_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(own) } });
    assert_ok(
        &post(
            &app,
            Some(&ada.token),
            json!({ "query": own, "extensions": own_ext }),
        )
        .await,
    );
    let shared = post(&app, Some(&bob.token), json!({ "extensions": own_ext })).await;
    assert_eq!(data(&shared)["me"]["id"], json!(bob.id), "{shared}");
}

/// Requests held open by a slow upload body: each has taken its place in flight.
struct Parked {
    release: Vec<tokio::sync::oneshot::Sender<()>>,
    answers: Vec<tokio::task::JoinHandle<StatusCode>>,
}

/// Starts `n` multipart uploads by `token` whose file part waits for a release, so each
/// stays in flight until the test lets it finish.
async fn park_uploads(app: &TestApp, token: &str, owner: &str, n: usize) -> Parked {
    let mut parked = Parked {
        release: Vec::new(),
        answers: Vec::new(),
    };
    for _ in 0..n {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let boundary = "keepsake-parked";
        let ops = operations(owner);
        let mut head = Vec::new();
        for (headers, content) in [
            field("operations", &ops),
            field("map", br#"{"0": ["variables.f"]}"#),
        ] {
            head.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
            head.extend_from_slice(content);
            head.extend_from_slice(b"\r\n");
        }
        let (headers, _) = file("0", "slow.txt", b"");
        head.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\nhello").as_bytes());
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) });
        let rest = futures_util::stream::once(async move {
            let _ = rx.await;
            Ok::<_, std::io::Error>(tail)
        });
        let request = app
            .http
            .post(format!("{}/graphql", app.base))
            .bearer_auth(token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(reqwest::Body::wrap_stream(first.chain(rest)));
        parked.release.push(tx);
        parked.answers.push(tokio::spawn(async move {
            request
                .send()
                .await
                .map_or(StatusCode::IM_A_TEAPOT, |r| r.status())
        }));
    }
    parked
}

/// One viewer's requests in flight are capped (here at 2): the third gets 429 with
/// `Retry-After` at once, while another user and an anonymous caller are served. Once the
/// parked requests finish, the viewer is served again.
async fn a_viewer_past_their_requests_in_flight_gets_429_and_others_do_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.max_concurrent = 2).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let parked = park_uploads(&app, &ada.token, &ada.id, 2).await;
    let ada_row = keepsake::ids::decode(keepsake::ids::Kind::User, &ada.id).unwrap();
    let who = keepsake::app::Who::Viewer(ada_row);
    for _ in 0..200 {
        if app.state.in_flight.count(who) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.state.in_flight.count(who),
        2,
        "both uploads are in flight"
    );
    let refused = app
        .http
        .post(format!("{}/graphql", app.base))
        .bearer_auth(&ada.token)
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = refused.json().await.unwrap();
    assert_error(&body, "LIMIT_EXCEEDED");
    assert!(
        body.to_string().contains("KEEPSAKE_MAX_CONCURRENT"),
        "{body}"
    );
    // The content routes count too.
    let path = format!(
        "/attachments/{}/content",
        app.attachment(&bob, "b.txt").await
    );
    let (status, _, _) = crate::content::get(&app, Some(&ada.token), &path, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Others are not held back.
    let theirs = app.by(&bob).send("{ me { id } }", json!({})).await;
    assert_eq!(data(&theirs)["me"]["id"], json!(bob.id));
    assert_ok(&app.graphql(None, "{ __typename }", json!({})).await);
    // The parked uploads finish, and free their places.
    for release in parked.release {
        let _ = release.send(());
    }
    for answer in parked.answers {
        assert_eq!(answer.await.unwrap(), StatusCode::OK);
    }
    let again = app.by(&ada).send("{ me { id } }", json!({})).await;
    assert_eq!(data(&again)["me"]["id"], json!(ada.id));
}

/// With a budget of 10 statements, twenty aliased `me` lookups run ten statements (and the
/// token's check), then every remaining field fails with `LIMIT_EXCEEDED`, saying which
/// limit; the rest of the answer stands.
async fn a_request_runs_no_more_statements_than_its_budget(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.max_statements = 10).await;
    let ada = app.member("ada@example.com").await;
    let aliases: Vec<String> = (0..20).map(|i| format!("m{i}: me {{ id }}")).collect();
    let query = format!("{{ {} }}", aliases.join(" "));
    let before = app.statements().await;
    let body = app.by(&ada).send(&query, json!({})).await;
    let ran = app.statements().await - before;
    assert_eq!(ran, 11.0, "the token's check and ten lookups: {body}");
    let answered = (0..20)
        .filter(|i| data(&body)[format!("m{i}")]["id"] == json!(ada.id))
        .count();
    assert_eq!(answered, 10, "{body}");
    let codes = error_codes(&body);
    assert_eq!(codes.len(), 10, "{body}");
    assert!(codes.iter().all(|code| code == "LIMIT_EXCEEDED"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("KEEPSAKE_MAX_STATEMENTS"),
        "{body}"
    );
    // The next request has a budget of its own.
    let body = app.by(&ada).send("{ me { id } }", json!({})).await;
    assert_eq!(data(&body)["me"]["id"], json!(ada.id));
}

/// Aliases resolve concurrently, and each used to take a pool connection of its own: one
/// request could hold the whole pool. Now one request holds at most two. On PostgreSQL the
/// test locks the table the fields read and counts the server's statements waiting on the
/// lock; on both, it runs the request's reads on one budgeted handle and reads its peak.
async fn a_request_holds_at_most_two_connections_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let aliases: Vec<String> = (0..12)
        .map(|i| format!("a{i}: attachments(first: 1) {{ totalCount }}"))
        .collect();
    let query = format!("{{ {} }}", aliases.join(" "));
    if app.is_postgres() {
        use sea_orm::ConnectionTrait as _;
        let lock = crate::helpers::raw_connection(&app.db.url).await.unwrap();
        lock.execute_unprepared("BEGIN; LOCK TABLE attachments IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        let request = app.by(&ada).send(&query, json!({}));
        let waiting = async {
            let mut seen = 0;
            // Until two are waiting, then long enough for more to arrive if they could.
            for _ in 0..40 {
                seen = waiting_on_locks(&app).await;
                if seen >= 2 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    seen = waiting_on_locks(&app).await;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            lock.execute_unprepared("COMMIT").await.unwrap();
            seen
        };
        let (body, seen) = tokio::join!(request, waiting);
        assert_eq!(seen, 2, "the request's statements waiting at once");
        assert_ok(&body);
        lock.close().await.ok();
    } else {
        let body = app.by(&ada).send(&query, json!({})).await;
        assert_ok(&body);
    }
    // The same on one budgeted handle, in process: twelve reads at once, two at a time.
    let db = app.state.db.budgeted(100);
    let reads = (0..12).map(|_| keepsake::soft_delete::setting(&db, "jwt_secret"));
    let read = futures_util::future::join_all(reads).await;
    assert!(read.iter().all(Result::is_ok));
    let budget = db.budget().expect("a budget");
    assert_eq!(budget.used(), 12);
    assert!(budget.peak_connections() <= 2, "{budget:?}");
}

/// How many of the server's connections wait on a lock now (PostgreSQL).
async fn waiting_on_locks(app: &TestApp) -> i64 {
    use sea_orm::ConnectionTrait as _;
    let conn = crate::helpers::raw_connection(&app.db.url).await.unwrap();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ))
        .await
        .unwrap()
        .unwrap();
    let n = row.try_get::<i64>("", "n").unwrap();
    conn.close().await.ok();
    n
}

/// Deletes `n` attachments of `user`'s, one deletion each.
async fn deleted_attachments(app: &TestApp, user: &crate::helpers::TestUser, n: usize) {
    for i in 0..n {
        let id = app.attachment(user, &format!("file-{i}.txt")).await;
        let body = app.by(user).try_delete_attachment(&id, Some("tidy")).await;
        assert_ok(&body);
    }
}

/// What the trash page asks a member for: their recent deletions, each with what it hid.
const RECENT: &str = "{ recentDeletions(first: 100) { id entity cascadeCount reason deletedAt \
                      undoUntil attachments(includeDeleted: true, first: 5) { totalCount \
                      nodes { filename } } } }";

/// A member's `recentDeletions` used to check each deletion with two statements of its own,
/// and read each one's attachments and their count with two more: 200 aliases of it ran
/// 40,000 statements. Now the checks are in the query and the attachments are read for all
/// deletions at once: the same four statements for 3 deletions or 30.
async fn recent_deletions_cost_the_same_few_statements_however_many_there_are(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut costs = Vec::new();
    for n in [3, 30] {
        deleted_attachments(&app, &ada, n - costs.len() * 3).await;
        let before = app.statements().await;
        let body = app.by(&ada).send(RECENT, json!({})).await;
        let ran = app.statements().await - before;
        assert_ok(&body);
        let listed = data(&body)["recentDeletions"].as_array().unwrap().clone();
        assert_eq!(listed.len(), n, "{body}");
        assert!(
            listed.iter().all(|d| d["attachments"]["totalCount"] == 1
                && d["attachments"]["nodes"][0]["filename"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("file-"))),
            "{body}"
        );
        costs.push(ran);
    }
    assert_eq!(costs[0], costs[1], "3 deletions and 30 cost the same");
    // The token, the deletions, their pages of attachments, their counts.
    assert!(costs[0] <= 4.0, "{costs:?}");
    // Another member's deletions are not listed, nor are their attachments.
    let bob = app.member("bob@example.com").await;
    let body = app.by(&bob).send(RECENT, json!({})).await;
    assert_eq!(data(&body)["recentDeletions"], json!([]), "{body}");
}

/// Support reads the log with each deletion's user and hidden attachments: that used to be
/// three statements a row (4,800 for 48 aliases of a page of 100). Now each relationship is
/// one batched statement for the page.
async fn the_deletion_log_with_what_each_deletion_hid_is_a_fixed_number_of_statements(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let sam = app.user("sam@example.com", "SUPPORT").await;
    let ada = app.member("ada@example.com").await;
    let query = "{ deletions(first: 100) { totalCount nodes { id \
                 user(includeDeleted: true) { id email } \
                 attachments(includeDeleted: true, first: 0) { totalCount } } } }";
    let mut costs = Vec::new();
    for (target, already) in [(2, 0), (20, 2)] {
        deleted_attachments(&app, &ada, target - already).await;
        let user = app.member(&format!("gone{target}@example.com")).await;
        assert_ok(&app.admin().try_delete_user(&user.id, Some("asked")).await);
        let before = app.statements().await;
        let body = app.by(&sam).send(query, json!({})).await;
        costs.push(app.statements().await - before);
        assert_ok(&body);
        let nodes = data(&body)["deletions"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        let users = nodes.iter().filter(|d| d["user"]["id"].is_string()).count();
        let counted: i64 = nodes
            .iter()
            .map(|d| d["attachments"]["totalCount"].as_i64().unwrap())
            .sum();
        assert_eq!(users, if target == 2 { 1 } else { 2 }, "{body}");
        assert_eq!(counted, target as i64, "{body}");
    }
    assert_eq!(costs[0], costs[1], "{costs:?}");
    // The token, the page, its count, the users, the attachments' pages and their counts.
    assert!(costs[0] <= 6.0, "{costs:?}");
}

/// Aliases multiply what a document runs: 198 `recentDeletions`, 48 support pages of the log
/// with their attachments, 198 `storageStats` are refused before anything runs (only the
/// token is checked), while what fits the budget runs.
async fn aliases_that_would_run_past_the_budget_are_refused_before_they_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let sam = app.user("sam@example.com", "SUPPORT").await;
    let aliased = |n: usize, field: &str| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    for (who, query) in [
        (&ada, aliased(198, "recentDeletions(first: 100) { id }")),
        (
            &sam,
            aliased(
                48,
                "deletions(first: 100) { nodes { attachments(includeDeleted: true, first: 0) { totalCount } } }",
            ),
        ),
        (&sam, aliased(198, "storageStats { liveBytes }")),
    ] {
        let before = app.statements().await;
        let body = app.by(who).send(&query, json!({})).await;
        assert_error(&body, "GRAPHQL_VALIDATION_FAILED");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("budget")
        );
        assert_eq!(
            app.statements().await - before,
            1.0,
            "only the token's check"
        );
    }
    // Within the budget, aliases run.
    let body = app
        .by(&sam)
        .send(&aliased(30, "storageStats { liveBytes }"), json!({}))
        .await;
    assert_ok(&body);
}

/// `contentType` used to be stored as given, and goes out as the `Content-Type` of the
/// bytes: now it is one media type, stored wholly lower-case, or refused.
async fn a_content_type_is_one_media_type_stored_lower_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let create = |content_type: &'static str| {
        app.by(&ada)
            .try_create_attachment(json!({ "ownerId": ada.id, "filename": "a.txt",
                                                    "contentType": content_type, "sizeBytes": 1 }))
    };
    let body = create("TEXT/HTML,text/plain").await;
    assert_error(&body, "BAD_USER_INPUT");
    assert!(body.to_string().contains("contentType"), "{body}");
    for (given, stored) in [
        ("text/html;charset=utf-7", "text/html; charset=utf-7"),
        ("Text/Plain; Charset=UTF-8", "text/plain; charset=utf-8"),
    ] {
        let body = create(given).await;
        assert_ok(&body);
        let id = crate::helpers::id_of(&data(&body)["createAttachment"]);
        let read = app
            .by(&ada)
            .send(
                "query($id: ID!) { attachment(id: $id) { contentType } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(data(&read)["attachment"]["contentType"], stored, "{given}");
    }
    // The same rule for the Content-Type of an upload.
    let id = app.attachment(&ada, "b.txt").await;
    let (status, body) = crate::content::put(
        &app,
        &ada.token,
        &id,
        "TEXT/PLAIN; CHARSET=UTF-8",
        b"hi".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contentType"], "text/plain; charset=utf-8", "{body}");
}

/// Replacing content erases the old blob when no other row holds it, and used to do so before
/// answering: the answer came sooner when another row held the same bytes, which told a
/// member that someone else had uploaded them. Now the erase runs after the answer. The test
/// holds the old blob's lock (PostgreSQL's advisory lock, which the erase takes first): the
/// upload still answers, the old blob stays while the lock is held, and goes once it is let
/// go. (SQLite's one writer cannot park the erase alone, so this runs on PostgreSQL.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_replacing_content_answers_before_the_old_blob_is_erased() {
    use sea_orm::ConnectionTrait as _;
    let app = TestApp::spawn(Backend::postgres()).await;
    let ada = app.member("ada@example.com").await;
    let id = app.attachment(&ada, "a.txt").await;
    let (old, new) = (
        crate::content::text(3_000, 1),
        crate::content::text(3_000, 2),
    );
    let (status, body) =
        crate::content::put(&app, &ada.token, &id, "text/plain", old.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let old_hash = crate::content::sha256(&old);
    let lock = crate::helpers::raw_connection(&app.db.url).await.unwrap();
    lock.execute_unprepared(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('{old_hash}', 14))"
    ))
    .await
    .unwrap();
    let replaced = tokio::time::timeout(
        Duration::from_secs(30),
        crate::content::put(&app, &ada.token, &id, "text/plain", new.clone()),
    )
    .await
    .expect("the upload answers while the old blob's erase waits for its lock");
    assert_eq!(replaced.0, StatusCode::OK, "{}", replaced.1);
    let held = crate::content::stored(&app).0;
    assert!(held.contains(&old_hash), "the erase waits: {held:?}");
    lock.execute_unprepared("COMMIT").await.unwrap();
    lock.close().await.ok();
    let expected = (vec![crate::content::sha256(&new)], vec![]);
    assert_eq!(
        crate::content::stored_within_5s(&app, expected.clone()).await,
        expected
    );
}
