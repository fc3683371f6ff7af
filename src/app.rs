//! The HTTP server: [`App::build`] connects, migrates, binds its own listener (port 0 works)
//! and exposes its address; [`App::run`] serves until a shutdown signal, then drains.
//!
//! Routes: `POST`/`GET /graphql`, `GET /playground` (GraphiQL), `GET /healthz`,
//! `GET /metrics`. Every response is gzip-compressed when the client accepts it and the body
//! is large enough to gain; CORS headers are sent only when `KEEPSAKE_CORS_ORIGINS` is set.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate as _, SizeAbove};
use tower_http::trace::TraceLayer;

use crate::auth::{self, Tokens};
use crate::config::{CorsOrigins, Settings, redact_url};
use crate::graphql::{self, KeepsakeSchema, RequestAuth};
use crate::graphql_http::{self, Incoming, MediaType, Outcome, PersistedQueries, Refusal};
use crate::metrics::Metrics;
use crate::service::purge;
use crate::soft_delete::{self, Db};

/// The largest request body accepted (GraphQL documents and variables); `/graphql` refuses a
/// larger one with 413 however it is sent (`Content-Length` or chunked).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Responses smaller than this go uncompressed: gzip's framing would eat most of the gain.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// How long a browser may reuse a CORS preflight's answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// The settings key under which a generated JWT secret is kept.
const JWT_SECRET_KEY: &str = "jwt_secret";

/// A built, bound, not yet serving Keepsake server.
pub struct App {
    /// The bound listener; serving starts in [`App::run`].
    listener: TcpListener,
    /// The address actually bound (the real port when 0 was asked for).
    address: SocketAddr,
    /// Everything handlers share.
    state: AppState,
    /// The retention purge's age and interval, when it is on.
    retention: Option<(Duration, Duration)>,
    /// The browser origins CORS lets in.
    cors_origins: CorsOrigins,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database handle (the connection itself stays inside `soft_delete`).
    pub db: Db,
    /// The executable GraphQL schema.
    pub schema: KeepsakeSchema,
    /// Token signing and checking.
    pub tokens: Tokens,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Documents of Automatic Persisted Queries, by hash.
    pub persisted: Arc<PersistedQueries>,
}

impl App {
    /// Connects to the database, applies migrations, loads the signing secret and binds the
    /// listener. Fails with a message naming the setting at fault.
    pub async fn build(settings: &Settings) -> anyhow::Result<App> {
        let (db, metrics) = connect(&settings.database_url).await?;
        let tokens = load_tokens(&db, settings.jwt_secret.as_deref()).await?;
        let listener = TcpListener::bind(settings.bind).await.with_context(|| {
            format!("KEEPSAKE_BIND (--bind): cannot listen on {}", settings.bind)
        })?;
        let address = listener.local_addr()?;
        let state = AppState {
            schema: graphql::schema_with(db.clone(), graphql::UndoWindow(settings.undo_window)),
            db,
            tokens,
            metrics,
            persisted: Arc::new(PersistedQueries::default()),
        };
        Ok(App {
            listener,
            address,
            state,
            retention: settings
                .retention
                .map(|age| (age, settings.retention_interval)),
            cors_origins: settings.cors_origins.clone(),
        })
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shared state (the CLI uses its database and tokens at first start).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let retention = self.retention.map(|(age, every)| {
            tracing::info!(retention = ?age, every = ?every, "retention purge is on");
            let metrics = self.state.metrics.clone();
            tokio::spawn(purge::retention_loop(
                self.state.db.clone(),
                age,
                every,
                move |outcome| metrics.retention_tick(matches!(outcome, Ok(Some(_)))),
            ))
        });
        match &self.cors_origins {
            CorsOrigins::None => {}
            CorsOrigins::Any => tracing::info!("CORS: pages of any origin may call the API"),
            CorsOrigins::List(origins) => {
                tracing::info!(origins = %origins.join(","), "CORS: these origins may call the API");
            }
        }
        let served = axum::serve(self.listener, router(self.state, &self.cors_origins))
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP");
        if let Some(job) = retention {
            job.abort();
        }
        served
    }
}

/// Connects and migrates, counting statements into a fresh [`Metrics`].
pub async fn connect(database_url: &str) -> anyhow::Result<(Db, Arc<Metrics>)> {
    guard_sqlite_file(database_url)?;
    let metrics = Arc::new(Metrics::default());
    let counter = metrics.clone();
    let db = Db::connect(database_url, move || counter.db_statement())
        .await
        .with_context(|| {
            format!(
                "DATABASE_URL (--database-url): cannot connect to {}",
                redact_url(database_url)
            )
        })?;
    db.migrate().await?;
    Ok((db, metrics))
}

/// The SQLite file a `sqlite:` URL names, if it names one (not `:memory:`).
pub fn sqlite_path(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| path.into())
}

/// The embedded database holds the generated signing secret, so it must be readable by its
/// owner only: a new file is created `0600` before SQLite opens it (SQLite gives its `-wal`
/// and `-shm` files the same mode), and an existing one that others may read is reported at
/// start with the command that fixes it.
fn guard_sqlite_file(database_url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(database_url) else {
        return Ok(());
    };
    if !path.exists() && !database_url.contains("mode=rwc") {
        anyhow::bail!(
            "DATABASE_URL (--database-url): the SQLite file {} does not exist; add ?mode=rwc \
             to the URL to create it (sqlite://{}?mode=rwc)",
            path.display(),
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if !path.exists() && database_url.contains("mode=rwc") {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!(
                            "DATABASE_URL (--database-url): cannot create {}",
                            path.display()
                        )
                    });
                }
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(meta) = std::fs::metadata(&file) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        file = %file.display(),
                        mode = format!("{mode:o}"),
                        "the database file is readable by other accounts on this host, and it \
                         holds the token signing secret: run `chmod 600 {}*`, then rotate the \
                         secret (README: Security)",
                        path.display()
                    );
                }
            }
        }
    }
    Ok(())
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
    tracing::info!("shutting down: finishing requests in flight");
}

/// The routes and their layers; CORS only when some origin is allowed.
pub fn router(state: AppState, cors_origins: &CorsOrigins) -> Router {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .route("/graphql", get(graphql_handler).post(graphql_handler))
        .route("/playground", get(playground))
        .route("/playground/vendor/{file}", get(playground_asset))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        );
    if *cors_origins != CorsOrigins::None {
        router = router.layer(middleware::from_fn_with_state(
            Arc::new(cors_origins.clone()),
            cors,
        ));
    }
    router
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            tracing::info_span!(
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                viewer = tracing::field::Empty,
            )
        }))
        .with_state(state)
}

/// CORS for the origins in `KEEPSAKE_CORS_ORIGINS`. A preflight from an allowed origin is
/// answered here: 204, methods GET and POST, headers `Authorization` and `Content-Type`,
/// reusable for [`CORS_MAX_AGE`]. Any other request runs, and an allowed origin's answer
/// carries `Access-Control-Allow-Origin`. Requests from other origins pass as if CORS were
/// off (only `Vary: Origin` is added). Never credentials: tokens travel in `Authorization`,
/// not in cookies.
async fn cors(State(origins): State<Arc<CorsOrigins>>, request: Request, next: Next) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| origins.allows(origin.as_bytes()))
        .cloned();
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if allowed.is_some() && preflight {
        (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "authorization, content-type",
                ),
                (
                    header::ACCESS_CONTROL_MAX_AGE,
                    &CORS_MAX_AGE.as_secs().to_string(),
                ),
            ],
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    if let Some(origin) = allowed {
        let origin = match *origins {
            CorsOrigins::Any => HeaderValue::from_static("*"),
            _ => origin,
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    if matches!(*origins, CorsOrigins::List(_)) {
        // The answer depends on the Origin: caches must keep one per origin.
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

/// Records every request's duration.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_request(started.elapsed());
    response
}

/// Executes one GraphQL request as the viewer its bearer token names, speaking GraphQL over
/// HTTP as [`graphql_http`] lays it out (media types, status codes, refusals).
async fn graphql_handler(State(state): State<AppState>, request: Request) -> Response {
    let media = match graphql_http::negotiate(request.headers()) {
        Ok(media) => media,
        Err(refusal) => return refusal.into_response(MediaType::Json),
    };
    let method = request.method().clone();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let Incoming {
        mut request,
        register,
    } = match graphql_http::read_request(request, MAX_BODY_BYTES, &state.persisted).await {
        Ok(incoming) => incoming,
        Err(refusal) => return refusal.into_response(media),
    };
    // Every GraphQL request counts, refused documents included; malformed HTTP does not.
    state.metrics.graphql_request();
    if let Err(error) = graphql_http::parse_document(&mut request) {
        return graphql_http::refused(media, &[error]);
    }
    if method == Method::GET && is_mutation(&mut request) {
        // GraphQL over HTTP: GET may not change anything.
        return Refusal::MutationOverGet.into_response(media);
    }
    let missing = graphql_http::check_required_variables(&mut request);
    if !missing.is_empty() {
        return graphql_http::refused(media, &missing);
    }
    let auth = RequestAuth::from_result(
        state
            .tokens
            .authenticate(&state.db, authorization.as_deref())
            .await,
    );
    if let RequestAuth::Viewer(viewer) = &auth {
        tracing::Span::current().record("viewer", viewer.id());
        tracing::debug!(
            viewer = viewer.id(),
            role = viewer.role().as_str(),
            "authenticated"
        );
    }
    // APQ: a document sent with its hash is kept once the schema has accepted it.
    let register = register.map(|hash| (hash, request.query.clone()));
    let loaders = graphql::loaders::for_request(state.db.clone());
    let response = state.schema.execute(request.data(auth).data(loaders)).await;
    match graphql_http::classify(response) {
        Outcome::Executed(response) => {
            if let Some((hash, text)) = register {
                state.persisted.insert(hash, text);
            }
            graphql_http::executed(media, response)
        }
        Outcome::Refused(errors) => graphql_http::refused(media, &errors),
    }
}

/// Whether the operation a request would run is a mutation.
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false; // parse_document has answered it already
    };
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => match name {
            Some(name) => ops
                .iter()
                .any(|(n, op)| n.as_str() == name && op.node.ty == OperationType::Mutation),
            None => ops.values().any(|op| op.node.ty == OperationType::Mutation),
        },
    }
}

/// GraphiQL, pointed at `/graphql`, served whole from the binary (no CDN). Paste
/// `{"Authorization": "Bearer <token>"}` into its headers pane.
async fn playground() -> Html<&'static str> {
    Html(include_str!("../playground/index.html"))
}

/// The playground's vendored scripts and styles (playground/vendor).
async fn playground_asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (
            include_bytes!("../playground/vendor/graphiql.min.js"),
            "text/javascript",
        ),
        "graphiql.min.css" => (
            include_bytes!("../playground/vendor/graphiql.min.css"),
            "text/css",
        ),
        "react.production.min.js" => (
            include_bytes!("../playground/vendor/react.production.min.js"),
            "text/javascript",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../playground/vendor/react-dom.production.min.js"),
            "text/javascript",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    if state.db.ping().await {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        tracing::warn!("health check: the database does not answer");
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
    }
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// How long the CLI's first-start token lasts.
pub const FIRST_START_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
