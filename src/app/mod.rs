//! The HTTP server: [`App::build`] connects, migrates, binds its own listener (port 0 works)
//! and exposes its address; [`App::run`] serves until a shutdown signal, then drains.
//!
//! Routes: `POST`/`GET /graphql`, `GET /playground` (GraphiQL), `GET /trash`, `GET /healthz`,
//! `GET /metrics`. Every response is gzip-compressed when the client accepts it and the body
//! is large enough to gain; CORS headers are sent only when `KEEPSAKE_CORS_ORIGINS` is set.
//!
//! This file holds the server's life (build, run, the drain and grace of its shutdown) and
//! the signing keys it starts with; `database` connects and migrates; `routes` maps paths to handlers, `graphql` is the `/graphql`
//! handler, `pages` serves the browser pages with their scripts under a Content-Security-Policy,
//! and `middleware` holds the layers around every route (CORS, compression, request
//! timing, tracing).

mod bearer;
mod content;
mod database;
mod fairness;
mod graphql;
mod middleware;
mod pages;
mod routes;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::auth::{self, Tokens};
use crate::config::{CorsOrigins, Limits, Settings, WebhookSettings};
use crate::graphql::{KeepsakeSchema, Services, Slots, schema_with};
use crate::graphql_http::{ParsedDocuments, PersistedQueries};
use crate::metrics::Metrics;
use crate::service::{purge, webhooks};
use crate::soft_delete::{self, Db};
use crate::storage::Storage;

pub use database::connect;
pub use fairness::{InFlight, Who};
pub use middleware::{COMPRESS_ABOVE_BYTES, CORS_MAX_AGE};
pub use routes::router;

/// The largest request body accepted (GraphQL documents and variables); `/graphql` refuses a
/// larger one with 413 however it is sent (`Content-Length` or chunked).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The settings key under which a generated JWT secret is kept.
const JWT_SECRET_KEY: &str = "jwt_secret";

/// How long the CLI's first-start token lasts.
pub const FIRST_START_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// A built, bound, not yet serving Keepsake server.
pub struct App {
    /// The bound listener; serving starts in [`App::run`].
    listener: TcpListener,
    /// The address actually bound (the real port when 0 was asked for).
    address: SocketAddr,
    /// Everything handlers share.
    state: AppState,
    /// What the retention job removes, and how often it runs.
    retention: (purge::Retention, Duration),
    /// The browser origins CORS lets in.
    cors_origins: CorsOrigins,
    /// The second listener, serving `/metrics` to anyone (`KEEPSAKE_METRICS_BIND`).
    metrics_listener: Option<TcpListener>,
    /// On PostgreSQL, the database whose event notifications wake this server's
    /// subscriptions (every server's commits, not only this one's).
    events_url: Option<String>,
    /// Where events are POSTed, when `KEEPSAKE_WEBHOOK_URL` is set.
    webhook: Option<WebhookSettings>,
    /// After the shutdown signal: how long to keep serving while `/healthz` says 503, then
    /// how long requests in flight may take to finish.
    stopping: Stopping,
}

/// How a server stops (`KEEPSAKE_DRAIN`, `KEEPSAKE_SHUTDOWN_GRACE`).
#[derive(Clone, Copy, Debug)]
struct Stopping {
    drain: Duration,
    grace: Duration,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database handle (the connection itself stays inside `soft_delete`).
    pub db: Db,
    /// The executable GraphQL schema.
    pub schema: KeepsakeSchema,
    /// What every request shares (storage, token keys, the upload limit, the undo window),
    /// the same `Arc` the schema holds.
    pub services: Arc<Services>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Documents of Automatic Persisted Queries, by hash.
    pub persisted: Arc<PersistedQueries>,
    /// Documents parsed before, by their text.
    pub parsed: Arc<ParsedDocuments>,
    /// What one request and one viewer may take.
    pub limits: Limits,
    /// Requests in flight, per viewer or address.
    pub in_flight: Arc<InFlight>,
    /// Set once the server is shutting down: `/healthz` then answers 503 while requests
    /// are still served (the drain window).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl App {
    /// Connects to the database, applies migrations, loads the signing secret and binds the
    /// listener. Fails with a message naming the setting at fault.
    pub async fn build(settings: &Settings) -> anyhow::Result<App> {
        // The listeners first: a port already taken stops the start before the database is
        // created, migrated or given a secret.
        let listener = listen(settings.bind, "KEEPSAKE_BIND (--bind)").await?;
        let address = listener.local_addr()?;
        let metrics_listener = match settings.metrics_bind {
            Some(bind) => Some(listen(bind, "KEEPSAKE_METRICS_BIND (--metrics-bind)").await?),
            None => None,
        };
        // The issuer first too: one that does not answer stops the start before the database.
        let issuer = match &settings.oidc {
            Some(oidc) => Some(Arc::new(crate::oidc::Issuer::discover(oidc).await?)),
            None => None,
        };
        let (db, metrics) = connect(settings).await?;
        let mut tokens = load_tokens(&db, settings.jwt_secret.as_deref()).await?;
        if let Some(issuer) = issuer {
            tracing::info!(
                issuer = issuer.name(),
                "accepting the tokens of an OpenID Connect issuer"
            );
            tokens = tokens.with_issuer(issuer);
        }
        let storage = Storage::open(&settings.storage, &settings.storage_options)
            .context("KEEPSAKE_STORAGE (--storage): the store cannot be opened")?;
        if let Some(limit) = storage.largest_upload()
            && settings.max_upload > limit
        {
            anyhow::bail!(
                "KEEPSAKE_MAX_UPLOAD (--max-upload) is {} bytes, but {} takes at most {limit} \
                 bytes in one upload (S3 copies an object of at most 5 GiB in one request); set \
                 KEEPSAKE_MAX_UPLOAD=5GiB or less",
                settings.max_upload,
                storage.label()
            );
        }
        let services = Arc::new(Services {
            storage,
            tokens,
            max_upload: settings.max_upload,
            undo_window: settings.undo_window,
            subscriptions: Arc::new(Slots::new(settings.limits.max_subscriptions)),
            tail: Arc::new(crate::service::events::Tail::new()),
            metrics: metrics.clone(),
        });
        let state_backend = db.backend();
        let state = AppState {
            schema: schema_with(services.clone()),
            services,
            limits: settings.limits,
            in_flight: Arc::new(InFlight::new(settings.limits.max_concurrent)),
            db,
            metrics,
            persisted: Arc::new(PersistedQueries::default()),
            parsed: Arc::new(ParsedDocuments::default()),
            draining: Arc::default(),
        };
        Ok(App {
            listener,
            address,
            state,
            retention: (
                purge::Retention {
                    rows: settings.retention,
                    events: settings.event_retention,
                    archive: settings.archive_retention,
                },
                settings.retention_interval,
            ),
            cors_origins: settings.cors_origins.clone(),
            metrics_listener,
            events_url: database::events_url(settings, state_backend),
            webhook: settings.webhook.clone(),
            stopping: Stopping {
                drain: settings.drain,
                grace: settings.shutdown_grace,
            },
        })
    }

    /// The address `/metrics` is served to anyone on, when `KEEPSAKE_METRICS_BIND` is set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shared state (the CLI uses its database and tokens at first start).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes; then `/healthz` answers 503 while the server keeps
    /// serving for the drain window, so balancers take it out of rotation; then it stops
    /// accepting, and returns once requests in flight have finished or the grace period is
    /// over. The retention job stops between two batches as soon as `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Always on: events are dropped after KEEPSAKE_EVENT_RETENTION; rows are purged only
        // with KEEPSAKE_RETENTION.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let retention = {
            let (retention, every) = self.retention;
            if let Some(age) = retention.rows {
                tracing::info!(retention = ?age, every = ?every, "retention purge is on");
            }
            if let Some(age) = retention.archive {
                tracing::info!(archive_retention = ?age, every = ?every,
                    "archived rows older than the archive retention are erased");
            }
            let metrics = self.state.metrics.clone();
            tokio::spawn(purge::retention_loop(
                self.state.db.clone(),
                self.state.services.storage.clone(),
                retention,
                every,
                stopped.clone(),
                move |outcome| {
                    let purged = matches!(outcome, Ok(Some(report)) if report.purge.is_some());
                    metrics.retention_tick(purged)
                },
            ))
        };
        let tail = tokio::spawn(self.state.services.tail.clone().run(self.state.db.clone()));
        // On PostgreSQL: hear every server's commits, and tell them of this one's.
        let events = self.events_url.map(|url| {
            (
                tokio::spawn(crate::soft_delete::listen(url.clone())),
                tokio::spawn(crate::soft_delete::announce(url.clone())),
            )
        });
        let webhook = self.webhook.map(|hook| {
            tracing::info!("delivering events to the webhook (KEEPSAKE_WEBHOOK_URL)");
            let metrics = self.state.metrics.clone();
            let hook = webhooks::Webhook {
                url: hook.url,
                key: hook.key,
                lease: hook.lease,
                schedule: hook.schedule,
            };
            tokio::spawn(webhooks::deliver_loop(
                self.state.db.unbudgeted(),
                hook,
                move |outcome| match outcome {
                    webhooks::Outcome::Delivered => metrics.webhook_attempt(true),
                    webhooks::Outcome::Failed => metrics.webhook_attempt(false),
                    webhooks::Outcome::Pending(n) => metrics.webhook_pending(n),
                },
            ))
        });
        middleware::announce_cors(&self.cors_origins);
        let metrics = self.metrics_listener.map(|listener| {
            tracing::info!(
                address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                "serving /metrics to anyone on this address (KEEPSAKE_METRICS_BIND)"
            );
            let open = routes::metrics_router(self.state.clone());
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, open).await {
                    tracing::error!(%err, "the metrics listener stopped");
                }
            })
        });
        // Each request knows its peer's address: requests without a token count against it.
        let draining = self.state.draining.clone();
        let service = router(self.state, &self.cors_origins)
            .into_make_service_with_connect_info::<SocketAddr>();
        let Stopping { drain, grace } = self.stopping;
        let (drained, mut accepting_ended) = tokio::sync::watch::channel(false);
        let signalled = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::SeqCst);
            stop.send_replace(true);
            tracing::info!(drain = ?drain,
                "shutting down: /healthz answers 503; still serving for the drain window (KEEPSAKE_DRAIN)");
            tokio::time::sleep(drain).await;
            tracing::info!(grace = ?grace,
                "drain window over: no longer accepting; finishing requests in flight (KEEPSAKE_SHUTDOWN_GRACE)");
            drained.send_replace(true);
        };
        let serving = axum::serve(self.listener, service)
            .with_graceful_shutdown(signalled)
            .into_future();
        let served = tokio::select! {
            served = serving => served.context("serving HTTP"),
            _ = async {
                let _ = accepting_ended.wait_for(|ended| *ended).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace = ?grace,
                    "the grace period is over with requests still in flight; stopping anyway");
                Ok(())
            }
        };
        if let Some(job) = metrics {
            job.abort();
        }
        // Between two batches by now, or soon: a batch is one transaction, done whole.
        if tokio::time::timeout(grace, retention).await.is_err() {
            tracing::warn!("the retention job did not stop within the grace period");
        }
        tail.abort();
        if let Some((listening, announcing)) = events {
            listening.abort();
            announcing.abort();
        }
        if let Some(job) = webhook {
            job.abort();
        }
        served
    }
}

/// A listener on `address`, or a message naming `setting`; a port in use says what to do.
async fn listen(address: SocketAddr, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.map_err(|err| {
        if err.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "{setting}: port {} is in use on {} — another Keepsake? stop it, or set {setting} \
                 to another address (like {})",
                address.port(),
                address.ip(),
                SocketAddr::new(address.ip(), address.port().saturating_add(1)),
            )
        } else {
            anyhow::Error::new(err).context(format!("{setting}: cannot listen on {address}"))
        }
    })
}

/// The signing keys: from `KEEPSAKE_JWT_SECRET`, else the secret kept in the database,
/// generated on first use.
pub async fn load_tokens(db: &Db, configured: Option<&str>) -> anyhow::Result<Tokens> {
    if let Some(secret) = configured {
        return Ok(Tokens::new(secret.as_bytes()));
    }
    let secret = match soft_delete::setting(db, JWT_SECRET_KEY).await? {
        Some(secret) => secret,
        None => {
            tracing::warn!(
                "KEEPSAKE_JWT_SECRET is not set: generated a signing secret and stored it in the \
                 database; set KEEPSAKE_JWT_SECRET in production"
            );
            soft_delete::setting_or_insert(db, JWT_SECRET_KEY, &auth::generate_secret()?).await?
        }
    };
    Ok(Tokens::new(secret.as_bytes()))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
