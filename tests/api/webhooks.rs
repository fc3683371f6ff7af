//! Webhooks: each event POSTed to a receiver in event order, signed as Standard Webhooks
//! has it (checked here by an HMAC of the test's own over the raw bytes received), retried
//! after a failure, shown to admins while pending, delivered once by two servers sharing a
//! database, and sent again once a crashed server's lease expires.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use keepsake::config::{Settings, WebhookSettings};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{
    Backend, TestApp, assert_error, data, id_of, keepsake, metric, on_both_backends, succeeded,
};

on_both_backends!(
    events_are_signed_retried_after_a_500_and_delivered_in_order,
    a_failing_receiver_blocks_later_events_and_shows_in_webhook_deliveries_for_admins_only,
    two_servers_on_one_database_deliver_each_event_once,
    an_expired_lease_of_a_crashed_server_is_delivered_again,
    a_python_receiver_verifies_each_signature_with_its_own_hmac,
);

/// The test's secret: `whsec_` and the base64 of 32 bytes.
pub(crate) const SECRET: &str = "whsec_a2VlcHNha2Ugd2ViaG9vayB0ZXN0IGtleSAzMiBieXRlcyE=";

/// What the receiver answers.
#[derive(Clone, Copy)]
enum Answer {
    /// 500 to the first attempt of each event, 200 to the next ones.
    FailFirst,
    /// 500 always.
    Fail,
    /// 200 always.
    Ok,
}

/// One request the receiver got, as it came over the wire.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) id: String,
    pub(crate) timestamp: String,
    pub(crate) signature: String,
    pub(crate) content_type: String,
    pub(crate) body: Bytes,
    pub(crate) answered: u16,
    pub(crate) at: chrono::DateTime<chrono::Utc>,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A webhook receiver on a port of its own.
struct Receiver {
    url: String,
    log: Log,
}

impl Receiver {
    async fn start(answer: Answer) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let log = Log::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state((log.clone(), answer));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, log }
    }

    fn log(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (30 s at most) until `done` holds of what was received.
    async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..600 {
            let log = self.log();
            if done(&log) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver never got {what}: {:#?}", self.log());
    }

    /// Webhook settings for this receiver with `lease` and 200 ms between attempts.
    fn settings(&self, lease: Duration) -> impl FnOnce(&mut Settings) {
        to(self.url.clone(), lease)
    }
}

/// Webhook settings for `url` with `lease` and 200 ms between attempts.
fn to(url: String, lease: Duration) -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        let mut hook = WebhookSettings::from_args(Some(&url), Some(SECRET))
            .expect("valid webhook settings")
            .expect("a webhook");
        hook.lease = lease;
        hook.schedule = vec![Duration::from_millis(200)];
        settings.webhook = Some(hook);
    }
}

async fn receive(
    State((log, answer)): State<(Log, Answer)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut log = log.lock().unwrap();
    let id = header("webhook-id");
    let answered = match answer {
        Answer::FailFirst if log.iter().any(|r| r.id == id) => 200,
        Answer::FailFirst | Answer::Fail => 500,
        Answer::Ok => 200,
    };
    log.push(Received {
        id,
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body,
        answered,
        at: chrono::Utc::now(),
    });
    StatusCode::from_u16(answered).unwrap()
}

/// Whether `r` carries a valid signature, computed as a receiver would, from the secret, the
/// headers and the raw body: `v1,` base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub(crate) fn signed(r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(r.id.as_bytes());
    mac.update(b".");
    mac.update(r.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// The outbox's event ids, oldest first.
pub(crate) async fn event_ids(app: &TestApp) -> Vec<String> {
    keepsake::service::events::for_operator(&app.state.db, None, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.id.to_string())
        .collect()
}

pub(crate) const DELIVERIES: &str = "query($first: Int, $after: String) {
    webhookDeliveries(first: $first, after: $after) {
        nodes { eventId attempts lastStatus nextTryAt } endCursor hasNextPage } }";

async fn events_are_signed_retried_after_a_500_and_delivered_in_order(backend: Backend) {
    let hook = Receiver::start(Answer::FailFirst).await;
    let app = TestApp::spawn_with(backend, hook.settings(Duration::from_secs(60))).await;
    let ada = app.member("ada@example.com").await;
    for name in ["a.txt", "b.txt", "c.txt"] {
        let attachment = app.attachment(&ada, name).await;
        app.by(&ada).delete_attachment(&attachment, None).await;
    }
    let log = hook
        .wait_until("three deliveries", |log| {
            log.iter().filter(|r| r.answered == 200).count() == 3
        })
        .await;

    let ids = event_ids(&app).await;
    assert_eq!(ids.len(), 3);
    // Each event twice (refused, then taken), the same id both times, strictly in order:
    // no event was sent before the one ahead of it was delivered.
    let expected: Vec<(String, u16)> = ids
        .iter()
        .flat_map(|id| [(id.clone(), 500), (id.clone(), 200)])
        .collect();
    let got: Vec<(String, u16)> = log.iter().map(|r| (r.id.clone(), r.answered)).collect();
    assert_eq!(got, expected);
    let now = chrono::Utc::now().timestamp();
    for r in &log {
        assert!(signed(r), "a bad signature: {r:?}");
        assert_eq!(r.content_type, "application/json");
        let at: i64 = r.timestamp.parse().expect("unix seconds");
        assert!((now - at).abs() < 300, "webhook-timestamp {at} is not now");
    }
    for pair in log.chunks(2) {
        assert_eq!(pair[0].body, pair[1].body, "a retry sends the same body");
    }
    // The body is the event as `keepsake events` prints it.
    let printed = succeeded(&app.run(&["events"]).await);
    let lines: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bodies: Vec<Value> = log
        .iter()
        .filter(|r| r.answered == 200)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies, lines);
    assert_eq!(bodies[0]["type"], "deletion.created");
    assert_eq!(bodies[0]["deletion"]["entity"], "ATTACHMENT");

    let pending = app.as_admin(DELIVERIES, json!({})).await;
    assert_eq!(
        data(&pending)["webhookDeliveries"]["nodes"],
        json!([]),
        "{pending}"
    );
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "keepsake_webhook_failures_total"), 3.0);
    assert_eq!(metric(&metrics, "keepsake_webhook_deliveries_total"), 3.0);
    pending_becomes(&app, 0.0).await;
    app.assert_invariants().await;
}

async fn a_failing_receiver_blocks_later_events_and_shows_in_webhook_deliveries_for_admins_only(
    backend: Backend,
) {
    let hook = Receiver::start(Answer::Fail).await;
    let app = TestApp::spawn_with(backend, hook.settings(Duration::from_secs(60))).await;
    let ada = app.member("ada@example.com").await;
    for name in ["a.txt", "b.txt"] {
        let attachment = app.attachment(&ada, name).await;
        app.by(&ada).delete_attachment(&attachment, None).await;
    }
    let ids = event_ids(&app).await;
    let log = hook
        .wait_until("three attempts", |log| log.len() >= 3)
        .await;
    assert!(
        log.iter().all(|r| r.id == ids[0]),
        "the second event waits for the first: {log:#?}"
    );

    let page = app.as_admin(DELIVERIES, json!({})).await;
    let nodes = &data(&page)["webhookDeliveries"]["nodes"];
    assert_eq!(nodes[0]["eventId"], ids[0].as_str(), "{page}");
    assert!(nodes[0]["attempts"].as_i64().unwrap() >= 2, "{page}");
    assert_eq!(nodes[0]["lastStatus"], "500");
    assert!(nodes[0]["nextTryAt"].is_string(), "{page}");
    assert_eq!(
        nodes[1],
        json!({ "eventId": ids[1], "attempts": 0, "lastStatus": null, "nextTryAt": null })
    );
    let first = app.as_admin(DELIVERIES, json!({ "first": 1 })).await;
    let first = &data(&first)["webhookDeliveries"];
    assert_eq!(first["hasNextPage"], true);
    let rest = app
        .as_admin(DELIVERIES, json!({ "after": first["endCursor"] }))
        .await;
    let rest = &data(&rest)["webhookDeliveries"];
    assert_eq!(rest["nodes"][0]["eventId"], ids[1].as_str(), "{rest}");
    assert_eq!(rest["hasNextPage"], false);

    let refused = app.graphql(Some(&ada.token), DELIVERIES, json!({})).await;
    assert_error(&refused, "FORBIDDEN");
    let support = app.user("sam@example.com", "SUPPORT").await;
    let refused = app
        .graphql(Some(&support.token), DELIVERIES, json!({}))
        .await;
    assert_error(&refused, "FORBIDDEN");
    assert!(metric(&app.metrics().await, "keepsake_webhook_failures_total") >= 2.0);
    pending_becomes(&app, 2.0).await;
}

/// Waits (30 s at most) until `/metrics` shows `n` events waiting for the webhook.
async fn pending_becomes(app: &TestApp, n: f64) {
    for _ in 0..300 {
        if metric(&app.metrics().await, "keepsake_webhook_pending") == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "keepsake_webhook_pending never became {n}: {}",
        app.metrics().await
    );
}

async fn two_servers_on_one_database_deliver_each_event_once(backend: Backend) {
    let hook = Receiver::start(Answer::Ok).await;
    let first = TestApp::spawn_with(backend, hook.settings(Duration::from_secs(60))).await;
    let second = TestApp::beside_with(&first, hook.settings(Duration::from_secs(60))).await;
    let ada = first.member("ada@example.com").await;
    for (n, server) in [&first, &second, &first, &second, &first, &second]
        .into_iter()
        .enumerate()
    {
        let attachment = server.attachment(&ada, &format!("{n}.txt")).await;
        server.by(&ada).delete_attachment(&attachment, None).await;
    }
    let ids = event_ids(&first).await;
    assert_eq!(ids.len(), 6);
    hook.wait_until("six events", |log| log.len() >= 6).await;
    // Both servers have recorded every delivery: nothing is pending for either.
    for _ in 0..100 {
        let page = first.as_admin(DELIVERIES, json!({})).await;
        if data(&page)["webhookDeliveries"]["nodes"] == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got: Vec<String> = hook.log().into_iter().map(|r| r.id).collect();
    assert_eq!(got, ids, "each event once, in order");
    let (one, two) = (first.metrics().await, second.metrics().await);
    assert_eq!(
        metric(&one, "keepsake_webhook_deliveries_total")
            + metric(&two, "keepsake_webhook_deliveries_total"),
        6.0
    );
    first.assert_invariants().await;
}

async fn an_expired_lease_of_a_crashed_server_is_delivered_again(backend: Backend) {
    let hook = Receiver::start(Answer::Ok).await;
    // Events made while no server delivers them.
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let attachment = app.attachment(&ada, "a.txt").await;
    let deletion = app.by(&ada).delete_attachment(&attachment, None).await;
    let ids = event_ids(&app).await;
    // A server claimed the event and died while sending it: its lease runs 2 s more.
    let lease_end = keepsake::soft_delete::to_micros(chrono::Utc::now() + Duration::from_secs(2));
    let text = lease_end.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let moment = if app.db.url.starts_with("sqlite") {
        format!("'{text}'")
    } else {
        format!("'{text}'::timestamptz")
    };
    app.execute_sql(&[format!(
        "INSERT INTO webhook_deliveries (event_id, attempts, claimed_until) \
         VALUES ({}, 1, {moment})",
        ids[0]
    )])
    .await;

    let server = TestApp::beside_with(&app, hook.settings(Duration::from_secs(1))).await;
    let pending = server.as_admin(DELIVERIES, json!({})).await;
    assert_eq!(
        data(&pending)["webhookDeliveries"]["nodes"][0]["attempts"],
        1,
        "{pending}"
    );
    let log = hook.wait_until("the event", |log| !log.is_empty()).await;
    assert_eq!(log[0].id, ids[0]);
    assert!(signed(&log[0]));
    assert!(
        log[0].at >= lease_end,
        "sent at {} while the lease held until {lease_end}",
        log[0].at
    );
    let body: Value = serde_json::from_slice(&log[0].body).unwrap();
    assert_eq!(body["deletion"]["id"], id_of(&deletion).as_str());
    app.assert_invariants().await;
}

async fn a_python_receiver_verifies_each_signature_with_its_own_hmac(backend: Backend) {
    use std::io::BufRead as _;
    let mut receiver = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/.ci/webhook_receiver.py"
        ))
        .arg(SECRET)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs .ci/webhook_receiver.py");
    let stdout = receiver.stdout.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), lines.recv())
            .await
            .expect("the Python receiver answers within 30 s")
            .expect("the Python receiver is running")
    };
    let first = next().await;
    let port = first.strip_prefix("listening ").expect("its port");
    let app = TestApp::spawn_with(
        backend,
        to(
            format!("http://127.0.0.1:{port}/hook"),
            Duration::from_secs(60),
        ),
    )
    .await;
    let ada = app.member("ada@example.com").await;
    let attachment = app.attachment(&ada, "a.txt").await;
    let deletion = app
        .by(&ada)
        .delete_attachment(&attachment, Some("typo"))
        .await;
    app.admin().restore(&id_of(&deletion), None).await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let line: Value = serde_json::from_str(&next().await).unwrap();
        got.push(line);
    }
    let _ = receiver.kill();
    let _ = receiver.wait();
    let printed = succeeded(&app.run(&["events"]).await);
    let lines: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (got, printed) in got.iter().zip(&lines) {
        assert_eq!(
            got["valid"], true,
            "Python's hmac refused the signature: {got}"
        );
        assert_eq!(got["id"], printed["id"]);
        assert_eq!(&got["body"], printed);
    }
}

/// A bad webhook setting stops the server at start, with one line naming it.
#[test]
fn bad_webhook_settings_stop_the_server_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db?mode=rwc", dir.path().display());
    for (vars, named) in [
        (
            &[("KEEPSAKE_WEBHOOK_URL", "http://127.0.0.1:9/hook")][..],
            "KEEPSAKE_WEBHOOK_SECRET",
        ),
        (
            &[("KEEPSAKE_WEBHOOK_SECRET", SECRET)][..],
            "KEEPSAKE_WEBHOOK_URL",
        ),
        (
            &[
                ("KEEPSAKE_WEBHOOK_URL", "ftp://h/"),
                ("KEEPSAKE_WEBHOOK_SECRET", SECRET),
            ][..],
            "KEEPSAKE_WEBHOOK_URL",
        ),
        (
            &[
                ("KEEPSAKE_WEBHOOK_URL", "https://h/"),
                ("KEEPSAKE_WEBHOOK_SECRET", "hunter2"),
            ][..],
            "KEEPSAKE_WEBHOOK_SECRET",
        ),
    ] {
        let mut cmd = keepsake(&url);
        cmd.envs(vars.iter().copied())
            .env("KEEPSAKE_BIND", "127.0.0.1:0")
            .arg("serve");
        let output = cmd.output().unwrap();
        assert!(!output.status.success(), "must fail for {named}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line, got: {stderr}");
        assert!(lines[0].contains(named), "{named} not named in: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the secret is echoed: {stderr}"
        );
    }
}
