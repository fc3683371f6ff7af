//! A webhook delivery cut short by SIGKILL, with real `keepsake serve` processes: the
//! receiver takes the POST and does not answer, so the delivery is in flight when every
//! server is killed; the receiver then answers, one server is started again, and the
//! interrupted event arrives again, signed, followed by every event made before the kill, in
//! order, none lost. On PostgreSQL two servers share the database (one of them holds the
//! lease, the other stands by); SQLite is served by one process, so there it is one server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::crash::{Server, graphql_at, number};
use crate::helpers::ops::{DELETE_ATTACHMENT, RESTORE};
use crate::helpers::{
    Backend, TestApp, assert_ok, data, id_of, keepsake, on_both_backends, succeeded,
};
use crate::webhooks::{DELIVERIES, Received, SECRET, event_ids, signed};

on_both_backends!(a_delivery_cut_short_by_sigkill_is_delivered_after_a_restart);

/// What the receiver shares with its handler: every request, as it came, and whether it may
/// answer yet.
#[derive(Clone)]
struct Hook {
    log: Arc<Mutex<Vec<Received>>>,
    open: tokio::sync::watch::Sender<bool>,
}

/// A receiver that logs each request the moment it arrives and answers 200 only once
/// [`HoldingReceiver::answer`] was called: until then, a delivery stays in flight.
struct HoldingReceiver {
    url: String,
    hook: Hook,
}

impl HoldingReceiver {
    async fn start() -> HoldingReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hook = Hook {
            log: Arc::default(),
            open: tokio::sync::watch::Sender::new(false),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hold_then_answer))
            .with_state(hook.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        HoldingReceiver { url, hook }
    }

    fn log(&self) -> Vec<Received> {
        self.hook.log.lock().unwrap().clone()
    }

    /// From now on every request is answered 200, those held so far included.
    fn answer(&self) {
        self.hook.open.send_replace(true);
    }

    /// Waits until `done` holds of what was received; two minutes at most, a bound that
    /// only keeps a broken delivery from hanging the suite.
    async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..2_400 {
            let log = self.log();
            if done(&log) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver never got {what}: {:#?}", self.log());
    }
}

async fn hold_then_answer(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut open = hook.open.subscribe();
    let held = !*open.borrow();
    hook.log.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body,
        // 0: taken in and held, the sender left waiting.
        answered: if held { 0 } else { 200 },
        at: chrono::Utc::now(),
    });
    let _ = open.wait_for(|open| *open).await;
    StatusCode::OK
}

/// `keepsake serve` on `app`'s database and blob store, delivering to `url`.
async fn serve_with_webhook(app: &TestApp, url: &str) -> Server {
    let storage = format!("file://{}", app.blobs.path().display());
    Server::start_command(
        keepsake(&app.db.url)
            .env("KEEPSAKE_STORAGE", storage)
            .env("KEEPSAKE_WEBHOOK_URL", url)
            .env("KEEPSAKE_WEBHOOK_SECRET", SECRET)
            .args(["serve", "--bind", "127.0.0.1:0"]),
    )
    .await
}

async fn a_delivery_cut_short_by_sigkill_is_delivered_after_a_restart(backend: Backend) {
    let receiver = HoldingReceiver::start().await;
    // The test's own server holds the database and makes the users; it delivers no webhooks.
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut files = Vec::new();
    for name in ["a.txt", "b.txt", "c.txt"] {
        files.push(app.attachment(&ada, name).await);
    }
    let fleet = if app.is_postgres() { 2 } else { 1 };
    let mut servers = Vec::new();
    for _ in 0..fleet {
        servers.push(serve_with_webhook(&app, &receiver.url).await);
    }
    let (first, last) = (servers[0].base.clone(), servers[fleet - 1].base.clone());

    // The first event: a server claims it and POSTs it, and the receiver holds the request.
    let deleted = graphql_at(
        &app.http,
        &first,
        &ada.token,
        DELETE_ATTACHMENT,
        json!({ "id": files[0], "reason": "crash test" }),
    )
    .await;
    assert_ok(&deleted);
    let deletion = id_of(&data(&deleted)["deleteAttachment"]);
    receiver
        .wait_until("the first event", |log| !log.is_empty())
        .await;
    // More events while it is in flight, through the other server: they wait their turn.
    for file in &files[1..] {
        let body = graphql_at(
            &app.http,
            &last,
            &ada.token,
            DELETE_ATTACHMENT,
            json!({ "id": file, "reason": null }),
        )
        .await;
        assert_ok(&body);
    }
    let body = graphql_at(
        &app.http,
        &last,
        &app.admin_token,
        RESTORE,
        json!({ "d": deletion, "reason": "not a crash" }),
    )
    .await;
    assert_ok(&body);
    let ids = event_ids(&app).await;
    assert_eq!(ids.len(), 4, "three deletions and a restore: {ids:?}");

    // The kill lands mid-delivery: the first event is claimed, its attempt has no outcome,
    // nothing is delivered, and the receiver holds the one request it got.
    let claimed = format!(
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_id = {} \
         AND claimed_until IS NOT NULL AND last_status IS NULL AND delivered_at IS NULL",
        ids[0]
    );
    assert_eq!(
        number(&app, &claimed).await,
        1,
        "the first event is in flight"
    );
    for server in &mut servers {
        server.kill();
    }
    let held = receiver.log();
    assert_eq!(held.len(), 1, "only the first event was sent: {held:#?}");
    assert_eq!(
        (held[0].id.as_str(), held[0].answered),
        (ids[0].as_str(), 0)
    );
    let delivered = "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE delivered_at IS NOT NULL";
    assert_eq!(number(&app, delivered).await, 0);
    let lease_end = keepsake::soft_delete::webhook_backlog(&app.state.db, None, 1)
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .and_then(|state| state.claimed_until)
        .expect("the killed server's lease");

    // The receiver answers the request of a server that is gone: nobody records it.
    receiver.answer();
    let server = serve_with_webhook(&app, &receiver.url).await;
    let log = receiver
        .wait_until("every event after the restart", |log| log.len() > ids.len())
        .await;
    // Every delivery recorded: nothing pending, so nothing more will be sent.
    let mut pending = Value::Null;
    for _ in 0..600 {
        pending = graphql_at(
            &app.http,
            &server.base,
            &app.admin_token,
            DELIVERIES,
            json!({}),
        )
        .await;
        if data(&pending)["webhookDeliveries"]["nodes"] == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        data(&pending)["webhookDeliveries"]["nodes"],
        json!([]),
        "{pending}"
    );
    let log_now = receiver.log();
    assert_eq!(
        log_now.len(),
        log.len(),
        "sent again after delivery: {log_now:#?}"
    );

    // After the held request, each event once, in order, the interrupted one first.
    let again: Vec<&str> = log[1..].iter().map(|r| r.id.as_str()).collect();
    assert_eq!(again, ids, "every event, in order, none lost: {log:#?}");
    for r in &log {
        assert!(signed(r), "a bad signature: {r:?}");
        assert_eq!(r.content_type, "application/json");
    }
    assert_eq!(log[1].body, log[0].body, "the same event, the same body");
    assert!(
        log[1].at >= lease_end,
        "sent again at {} while the killed server's lease held until {lease_end}",
        log[1].at
    );
    let printed = succeeded(&app.run(&["events"]).await);
    let lines: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bodies: Vec<Value> = log[1..]
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies, lines,
        "each body is the event as `keepsake events` prints it"
    );
    assert_eq!(number(&app, delivered).await, 4);
    let tries = format!(
        "SELECT SUM(attempts) AS n FROM webhook_deliveries WHERE event_id = {}",
        ids[0]
    );
    assert_eq!(number(&app, &tries).await, 2, "the killed attempt counts");
    app.assert_invariants().await;
}

/// The settings' default lease is the service's, whose comment says why it is what it is.
#[test]
fn the_default_lease_is_the_services() {
    let hook = keepsake::config::WebhookSettings::new("http://127.0.0.1:9/hook", vec![0; 32]);
    assert_eq!(hook.lease, keepsake::service::webhooks::LEASE);
    assert!(hook.lease > keepsake::service::webhooks::ATTEMPT_TIMEOUT);
}
