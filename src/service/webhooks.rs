//! Webhooks, as the Standard Webhooks specification has them: each event of the outbox is
//! POSTed to `KEEPSAKE_WEBHOOK_URL` as the JSON `keepsake events` prints, signed with
//! HMAC-SHA256 (`webhook-id`, `webhook-timestamp`, `webhook-signature`), in event order, at
//! least once, retried with backoff while the receiver fails ([`SCHEDULE`]). The delivery
//! state lives in the database (`soft_delete::webhooks`), so several servers share the work
//! and a restarted one picks up where it stopped. [`deliver_loop`] is the task `App::run`
//! starts; `webhookDeliveries` reads what is pending through [`backlog`].

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::auth::Viewer;
use crate::error::{Error, Result};
use crate::service::events;
use crate::service::permissions::{Action, require};
use crate::soft_delete::{self, Db, Handle, WebhookClaim, WebhookNext};

/// The wait after each failed attempt, before the next: 5 s, 30 s, 2 min, 10 min, 1 h, then
/// hourly (the last one repeats), each stretched or shrunk by up to a fifth at random.
pub const SCHEDULE: [Duration; 5] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];

/// How long one server holds an event it is sending before another may try it: after a
/// crash, how long the event waits before it is sent again.
///
/// It must outlast one attempt as its holder makes it: reading the event (one statement),
/// the POST (at most [`ATTEMPT_TIMEOUT`]) and recording the outcome (one statement). 20 s
/// leaves 10 s for the two statements, milliseconds each unless the database stalls, and for
/// servers' clocks drifting apart. An attempt that outlives its lease costs a duplicate,
/// never a loss or a reordering: its outcome is recorded only under the lease it claimed
/// (`soft_delete::record_webhook`), and no event is claimed before the one ahead of it is
/// delivered. (It was 60 s, which held an interrupted delivery back three times as long.)
pub const LEASE: Duration = Duration::from_secs(20);

// The margin above: a lease at least 10 s longer than an attempt.
const _: () = assert!(LEASE.as_secs() >= ATTEMPT_TIMEOUT.as_secs() + 10);

/// How long one attempt may take, connection and answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the task looks at the outbox even when nothing woke it.
const POLL: Duration = Duration::from_secs(10);

/// What the task reports as it goes (for metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An event was delivered.
    Delivered,
    /// An attempt failed; the event will be tried again.
    Failed,
    /// This many events wait for delivery (reported each time the task goes idle).
    Pending(u64),
}

/// Where and how events are delivered.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// The receiver (`KEEPSAKE_WEBHOOK_URL`).
    pub url: String,
    /// The signing key (`KEEPSAKE_WEBHOOK_SECRET`, base64-decoded, without `whsec_`).
    pub key: Vec<u8>,
    /// The lease of a claimed event ([`LEASE`]; shorter in tests).
    pub lease: Duration,
    /// The waits between attempts ([`SCHEDULE`]; shorter in tests).
    pub schedule: Vec<Duration>,
}

/// `v1,` and the base64 HMAC-SHA256, under `key`, of `{id}.{timestamp}.{body}`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts every key length")
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

/// The wait after attempt `attempt` (1 for the first) failed, with its jitter.
fn retry_delay(schedule: &[Duration], attempt: i32) -> Duration {
    let step = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    let Some(base) = schedule.get(step).or(schedule.last()) else {
        return Duration::ZERO;
    };
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    // 0.8 to 1.2 times the step.
    base.mul_f64(0.8 + 0.4 * f64::from(byte[0]) / 255.0)
}

/// What one attempt got: a status line for the log and whether it delivered.
async fn attempt(client: &reqwest013::Client, hook: &Webhook, db: &Db, id: i64) -> (String, bool) {
    let found = match events::for_operator(db, Some(id - 1), 1).await {
        Ok(found) => found,
        Err(err) => return (format!("cannot read event: {err}"), false),
    };
    let Some((event, logged)) = found.into_iter().find(|(e, _)| e.id == id) else {
        return ("event no longer in the outbox".into(), false);
    };
    let body = events::to_json(&event, &logged).to_string();
    let webhook_id = event.id.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let sent = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("webhook-id", &webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(&hook.key, &webhook_id, timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status();
            (status.as_u16().to_string(), status.is_success())
        }
        Err(err) => (format!("error: {err}"), false),
    }
}

/// Sends `claim`'s event and records the outcome; `on_outcome` learns whether it delivered.
async fn deliver(
    client: &reqwest013::Client,
    hook: &Webhook,
    db: &Db,
    claim: WebhookClaim,
    on_outcome: &(impl Fn(Outcome) + Send + Sync),
) {
    let (status, delivered) = attempt(client, hook, db, claim.event_id).await;
    let now = soft_delete::now();
    let retry_at = (!delivered).then(|| {
        now + chrono::Duration::from_std(retry_delay(&hook.schedule, claim.attempt))
            .unwrap_or(chrono::Duration::hours(1))
    });
    if delivered {
        tracing::debug!(event = claim.event_id, "webhook delivered");
    } else {
        tracing::warn!(event = claim.event_id, attempt = claim.attempt, %status, ?retry_at,
            "webhook delivery failed; it will be tried again");
    }
    on_outcome(if delivered {
        Outcome::Delivered
    } else {
        Outcome::Failed
    });
    match soft_delete::record_webhook(db, &claim, &status, delivered.then_some(now), retry_at).await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            event = claim.event_id,
            "the webhook lease expired before the outcome was recorded; another try will follow"
        ),
        Err(err) => tracing::error!(event = claim.event_id, error = %err,
            "cannot record a webhook delivery; the lease will expire and it will be sent again"),
    }
}

/// Delivers the outbox's events to `hook`, in order, until the task is stopped: woken by each
/// commit that wrote events (`soft_delete::wakeups`), by a retry's time, and every few
/// seconds. `on_outcome` learns of each attempt, and of the backlog when the task idles.
pub async fn deliver_loop(db: Db, hook: Webhook, on_outcome: impl Fn(Outcome) + Send + Sync) {
    let client = match reqwest013::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot make the webhook's HTTP client; no webhooks");
            return;
        }
    };
    let mut wake = soft_delete::wakeups();
    loop {
        let now = soft_delete::now();
        let until = match soft_delete::claim_webhook(&db, now, hook.lease).await {
            Ok(WebhookNext::Claimed(claim)) => {
                deliver(&client, &hook, &db, claim, &on_outcome).await;
                continue;
            }
            Ok(WebhookNext::Wait(until)) => until,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim a webhook delivery; trying again in 1 s");
                Some(now + chrono::Duration::seconds(1))
            }
        };
        let pause = until
            .and_then(|at| (at - now).to_std().ok())
            .unwrap_or(if until.is_some() {
                Duration::ZERO
            } else {
                POLL
            })
            .min(POLL);
        if pause.is_zero() {
            tokio::task::yield_now().await;
            continue;
        }
        if let Ok(pending) = soft_delete::webhook_pending(&db).await {
            on_outcome(Outcome::Pending(pending));
        }
        tokio::select! {
            _ = wake.changed() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// One event not yet delivered, for `webhookDeliveries`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The event's id.
    pub event_id: i64,
    /// Attempts so far (0: not tried yet).
    pub attempts: i32,
    /// The last attempt's HTTP status or error.
    pub last_status: Option<String>,
    /// When it will be tried again, if it failed.
    pub next_try_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The most `webhookDeliveries` returns at once.
pub const MAX_BACKLOG_PAGE: u64 = 100;

/// Up to `first` undelivered events after event `after`, oldest first, and whether more
/// follow: admins only.
pub async fn backlog(
    h: &impl Handle,
    viewer: &Viewer,
    first: Option<i32>,
    after: Option<i64>,
) -> Result<(Vec<Pending>, bool)> {
    require(
        viewer,
        Action::ReadWebhooks,
        None,
        "only admins see webhook deliveries",
    )?;
    let limit = match first {
        None => 20,
        Some(n) if n >= 1 && (n as u64) <= MAX_BACKLOG_PAGE => n as u64,
        Some(_) => {
            return Err(Error::bad_input(format!(
                "first: must be between 1 and {MAX_BACKLOG_PAGE}"
            )));
        }
    };
    let mut found = soft_delete::webhook_backlog(h, after, limit + 1).await?;
    let more = found.len() as u64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or(0));
    let found = found
        .into_iter()
        .map(|(event_id, state)| Pending {
            event_id,
            attempts: state.as_ref().map_or(0, |s| s.attempts),
            last_status: state.as_ref().and_then(|s| s.last_status.clone()),
            next_try_at: state.and_then(|s| s.next_try_at),
        })
        .collect();
    Ok((found, more))
}
