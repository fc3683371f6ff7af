//! `deletionEvents` over WebSocket at `/graphql/ws` (graphql-transport-ws), driven by a
//! real WebSocket client: who receives what, resuming with `after` with no gap and no
//! duplicate, the stream ending for a deleted or demoted subscriber, the per-viewer cap,
//! hostile messages, and (PostgreSQL) events crossing from one server to another.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{Backend, TestApp, keepsake, on_both_backends};

on_both_backends!(
    members_receive_their_own_deletions_and_staff_every_one,
    after_replays_then_goes_live_with_no_gap_and_no_duplicate,
    a_deleted_subscriber_loses_the_stream_at_once,
    a_demoted_admin_loses_the_stream,
    a_connection_without_a_valid_token_is_closed_4403,
    subscriptions_past_the_cap_are_refused_until_one_completes,
    hostile_messages_close_only_their_socket,
    queries_and_mutations_over_the_socket_are_refused,
    keepsake_events_follow_prints_each_new_event_as_it_commits,
    a_socket_that_never_signs_in_is_closed_4408,
);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Long enough for anything that should arrive; a test never waits this long when it passes.
const PATIENCE: Duration = Duration::from_secs(15);

const SUBSCRIBE: &str = "subscription($after: ID) { deletionEvents(after: $after) { id type occurredAt \
     deletion { id entity reason } } }";

/// A graphql-transport-ws client on one socket.
struct Client {
    socket: Socket,
}

impl Client {
    /// Opens `/graphql/ws` on `base` without signing in.
    async fn open(base: &str) -> Client {
        let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket opens");
        Client { socket }
    }

    /// Opens a socket and signs in with `token`; asserts the server acknowledged.
    async fn signed_in(base: &str, token: &str) -> Client {
        let mut client = Client::open(base).await;
        client
            .send(json!({ "type": "connection_init",
                          "payload": { "Authorization": format!("Bearer {token}") } }))
            .await;
        let ack = client.next().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sent");
    }

    /// Subscribes as operation `id`.
    async fn subscribe(&mut self, id: &str, after: Option<&str>) {
        self.send(json!({ "id": id, "type": "subscribe",
                          "payload": { "query": SUBSCRIBE, "variables": { "after": after } } }))
            .await;
    }

    /// The next protocol message (pings answered on the way); panics after [`PATIENCE`].
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message in time")
                .expect("the socket is open")
                .expect("a readable message");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return value;
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next event's payload, `data.deletionEvents`.
    async fn event(&mut self) -> Value {
        let message = self.next().await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        message["payload"]["data"]["deletionEvents"].clone()
    }

    /// Nothing arrives within `wait` (pings aside).
    async fn quiet_for(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(message) = tokio::time::timeout_at(deadline, self.socket.next()).await {
            match message {
                Some(Ok(Message::Text(text))) if !text.contains("\"ping\"") => {
                    panic!("expected nothing, received {text}")
                }
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    }

    /// The close frame's code, once the server closes the socket.
    async fn closed_with(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("closed in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
                Some(Ok(Message::Close(None))) | None => return 1005,
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("not closed cleanly: {err}"),
            }
        }
    }
}

async fn members_receive_their_own_deletions_and_staff_every_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let ada_file = app.attachment(&ada, "ada.txt").await;
    let ada_second = app.attachment(&ada, "ada-2.txt").await;
    let bob_file = app.attachment(&bob, "bob.txt").await;
    let mut staff = Client::signed_in(&app.base, &app.admin_token).await;
    staff.subscribe("s", None).await;
    let mut member = Client::signed_in(&app.base, &ada.token).await;
    member.subscribe("m", None).await;

    let bobs = app
        .by(&bob)
        .delete_attachment(&bob_file, Some("mine"))
        .await;
    let adas = app
        .by(&ada)
        .delete_attachment(&ada_file, Some("typo"))
        .await;
    let event = staff.event().await;
    assert_eq!(event["type"], "deletion.created");
    assert_eq!(event["deletion"]["id"], bobs["id"]);
    assert_eq!(staff.event().await["deletion"]["id"], adas["id"]);
    // Ada's first event is her own: Bob's was not hers to receive.
    let first = member.event().await;
    assert_eq!(first["deletion"]["id"], adas["id"], "{first}");
    assert_eq!(first["deletion"]["reason"], "typo");
    // A restore is an event too, to both.
    app.by(&ada)
        .restore(adas["id"].as_str().unwrap(), None)
        .await;
    let restored = member.event().await;
    assert_eq!(restored["type"], "deletion.restored");
    assert!(
        restored["id"].as_str().unwrap().parse::<i64>().unwrap()
            > first["id"].as_str().unwrap().parse::<i64>().unwrap()
    );
    assert_eq!(staff.event().await["type"], "deletion.restored");
    // An admin deleting Ada's file is not Ada's deletion: the member's rule is the log's.
    app.admin().delete_attachment(&ada_second, None).await;
    assert_eq!(staff.event().await["type"], "deletion.created");
    member.quiet_for(Duration::from_millis(1500)).await;
}

async fn after_replays_then_goes_live_with_no_gap_and_no_duplicate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut files = Vec::new();
    for n in 0..6 {
        files.push(app.attachment(&ada, &format!("f{n}.txt")).await);
    }
    for file in &files[..3] {
        app.admin().delete_attachment(file, None).await;
    }
    let mut first = Client::signed_in(&app.base, &app.admin_token).await;
    first.subscribe("all", None).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(first.event().await["id"].as_str().unwrap().to_owned());
    }
    // Resume after the first: the other two are replayed, then new ones arrive live, while
    // deletions keep coming at the seam.
    let mut resumed = Client::signed_in(&app.base, &app.admin_token).await;
    resumed.subscribe("again", Some(&ids[0])).await;
    let deleting = {
        let app_files = files[3..].to_vec();
        let base = app.base.clone();
        let token = app.admin_token.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for file in app_files {
                let body: Value = http
                    .post(format!("{base}/graphql"))
                    .bearer_auth(&token)
                    .json(
                        &json!({ "query": "mutation($id: ID!) { deleteAttachment(id: $id) { id } }",
                                   "variables": { "id": file } }),
                    )
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(body["errors"].is_null(), "{body}");
            }
        })
    };
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(resumed.event().await["id"].as_str().unwrap().to_owned());
    }
    deleting.await.unwrap();
    for _ in 0..3 {
        ids.push(first.event().await["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ids[1..], "resumed after {}", ids[0]);
    let numbers: Vec<i64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    resumed.quiet_for(Duration::from_millis(1500)).await;
    // An id that is not one is refused, with a code.
    let mut bad = Client::signed_in(&app.base, &app.admin_token).await;
    bad.subscribe("bad", Some("yesterday")).await;
    let refused = bad.next().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(bad.next().await["type"], "complete");
}

async fn a_deleted_subscriber_loses_the_stream_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut member = Client::signed_in(&app.base, &ada.token).await;
    member.subscribe("m", None).await;
    app.admin().delete_user(&ada.id, Some("closed")).await;
    let ended = member.next().await;
    assert_eq!(ended["type"], "next", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{ended}"
    );
    assert_eq!(member.next().await["type"], "complete");
}

async fn a_demoted_admin_loses_the_stream(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let grace = app.user("grace@example.com", "ADMIN").await;
    let mut admin = Client::signed_in(&app.base, &grace.token).await;
    admin.subscribe("a", None).await;
    let demoted = app
        .admin()
        .send(
            "mutation($id: ID!) { updateUser(id: $id, input: { role: MEMBER }) { role } }",
            json!({ "id": grace.id }),
        )
        .await;
    assert_eq!(demoted["data"]["updateUser"]["role"], "MEMBER", "{demoted}");
    let ended = admin.next().await;
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{ended}"
    );
    assert_eq!(admin.next().await["type"], "complete");
}

async fn a_connection_without_a_valid_token_is_closed_4403(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut anonymous = Client::open(&app.base).await;
    anonymous
        .send(json!({ "type": "connection_init", "payload": {} }))
        .await;
    assert_eq!(anonymous.closed_with().await, 4403);
    let mut forged = Client::open(&app.base).await;
    forged
        .send(json!({ "type": "connection_init",
                      "payload": { "Authorization": "Bearer not.a.token" } }))
        .await;
    assert_eq!(forged.closed_with().await, 4403);
    // A plain GET is told what the path is for.
    let plain = app
        .http
        .get(format!("{}/graphql/ws", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    assert!(plain.text().await.unwrap().contains("graphql-transport-ws"));
}

async fn subscriptions_past_the_cap_are_refused_until_one_completes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.max_subscriptions = 2).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    let slots = &app.state.services.subscriptions;
    let ada_id = keepsake::ids::decode(keepsake::ids::Kind::User, &ada.id).unwrap();
    let settled = |open: u32| async move {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while slots.open(ada_id) != open {
            assert!(tokio::time::Instant::now() < deadline, "{open} open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let mut first = Client::signed_in(&app.base, &ada.token).await;
    first.subscribe("1", None).await;
    first.subscribe("2", None).await;
    settled(2).await;
    first.subscribe("3", None).await;
    let refused = first.next().await;
    assert_eq!(refused["id"], "3", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    assert_eq!(first.next().await, json!({ "id": "3", "type": "complete" }));
    // Another socket counts against the same viewer.
    let mut second = Client::signed_in(&app.base, &ada.token).await;
    second.subscribe("4", None).await;
    let refused = second.next().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    assert_eq!(
        second.next().await,
        json!({ "id": "4", "type": "complete" })
    );
    // Others are not held back by Ada's cap.
    let mut staff = Client::signed_in(&app.base, &app.admin_token).await;
    staff.subscribe("s", None).await;
    first.send(json!({ "id": "1", "type": "complete" })).await;
    // Once the server has let go of it, a new one is taken.
    assert_eq!(first.next().await, json!({ "id": "1", "type": "complete" }));
    settled(1).await;
    second.subscribe("5", None).await;
    settled(2).await;
    app.by(&ada).delete_attachment(&file, None).await;
    let live = second.next().await;
    assert_eq!(live["id"], "5", "{live}");
    assert_eq!(live["type"], "next", "{live}");
    assert_eq!(staff.event().await["type"], "deletion.created");
}

async fn hostile_messages_close_only_their_socket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bystander = Client::signed_in(&app.base, &app.admin_token).await;
    bystander.subscribe("b", None).await;
    let mut big = Client::signed_in(&app.base, &app.admin_token).await;
    let filler = "x".repeat(100 * 1024);
    big.send(json!({ "id": "x", "type": "subscribe",
                     "payload": { "query": SUBSCRIBE, "variables": { "after": filler } } }))
        .await;
    assert_eq!(big.closed_with().await, 1009);
    let mut garbled = Client::signed_in(&app.base, &app.admin_token).await;
    garbled
        .socket
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(garbled.closed_with().await, 4400);
    // The bystander's subscription still works.
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    app.admin().delete_attachment(&file, None).await;
    assert_eq!(bystander.event().await["type"], "deletion.created");
}

async fn queries_and_mutations_over_the_socket_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut client = Client::signed_in(&app.base, &app.admin_token).await;
    client
        .send(json!({ "id": "q", "type": "subscribe",
                      "payload": { "query": "{ users(first: 1) { totalCount } }" } }))
        .await;
    let refused = client.next().await;
    let errors = if refused["type"] == "error" {
        refused["payload"].clone()
    } else {
        refused["payload"]["errors"].clone()
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert!(
        errors[0]["message"].as_str().unwrap().contains("/graphql"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_an_event_committed_on_one_server_reaches_subscribers_on_another() {
    let a = TestApp::spawn(Backend::postgres()).await;
    let b = TestApp::beside(&a).await;
    let ada = a.member("ada@example.com").await;
    let file = a.attachment(&ada, "a.txt").await;
    let mut on_a = Client::signed_in(&a.base, &a.admin_token).await;
    on_a.subscribe("a", None).await;
    // Committed through B; A learns of it by PostgreSQL's notification.
    let deleted = b.admin().delete_attachment(&file, Some("via b")).await;
    let event = on_a.event().await;
    assert_eq!(event["deletion"]["id"], deleted["id"]);
    assert_eq!(event["deletion"]["reason"], "via b");
}

/// `keepsake events --follow`, a process of its own: the events kept, then each new one as
/// the server commits it (on PostgreSQL notified, on SQLite looked for each second).
async fn keepsake_events_follow_prints_each_new_event_as_it_commits(backend: Backend) {
    use std::io::BufRead as _;
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let first = app.attachment(&ada, "a.txt").await;
    let second = app.attachment(&ada, "b.txt").await;
    let before = app.admin().delete_attachment(&first, None).await;
    let mut child = keepsake(&app.db.url)
        .args(["events", "--follow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("keepsake events --follow starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, mut printed) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut next = async || -> Value {
        let line = tokio::time::timeout(PATIENCE, printed.recv())
            .await
            .expect("a line in time")
            .expect("the command is still running");
        serde_json::from_str(&line).unwrap()
    };
    let kept = next().await;
    assert_eq!(kept["deletion"]["id"], before["id"], "{kept}");
    let after = app.admin().delete_attachment(&second, Some("later")).await;
    let live = next().await;
    assert_eq!(live["deletion"]["id"], after["id"], "{live}");
    assert_eq!(live["type"], "deletion.created");
    child.kill().ok();
    child.wait().ok();
}

/// A socket that opens and never sends `connection_init` is closed with 4408 (the protocol's
/// code), after the server's wait of 10 seconds, and does not stay open.
async fn a_socket_that_never_signs_in_is_closed_4408(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut signed = Client::signed_in(&app.base, &app.admin_token).await;
    signed.subscribe("s", None).await;
    let mut idle = Client::open(&app.base).await;
    assert_eq!(idle.closed_with().await, 4408);
    // A socket that did sign in stays open past that wait.
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "a.txt").await;
    app.admin().delete_attachment(&file, None).await;
    assert_eq!(signed.event().await["type"], "deletion.created");
}
