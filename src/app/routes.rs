//! The routes: which path answers what. `/graphql` has its own file; the small handlers
//! (the GraphiQL playground and its vendored assets, the trash page, the health check, the
//! metrics) live here.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use super::content;
use super::graphql::graphql_handler;
use super::{AppState, middleware};
use crate::auth::{Bearer, Role};
use crate::config::CorsOrigins;
use crate::error::Error;

/// The routes and their layers; CORS only when some origin is allowed.
pub fn router(state: AppState, cors_origins: &CorsOrigins) -> Router {
    let routes = Router::new()
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .route("/graphql", get(graphql_handler).post(graphql_handler))
        .route("/playground", get(playground))
        .route("/playground/vendor/{file}", get(playground_asset))
        .route("/trash", get(trash))
        .route(
            "/attachments/{id}/content",
            get(content::get_content).put(content::put_content),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    middleware::around(routes, &state, cors_origins).with_state(state)
}

/// GraphiQL, pointed at `/graphql`, served whole from the binary (no CDN). Paste
/// `{"Authorization": "Bearer <token>"}` into its headers pane.
async fn playground() -> Html<&'static str> {
    Html(include_str!("../../playground/index.html"))
}

/// The trash: the deletion log, searched and filtered, with restore for admins; one page
/// with its script and styles inline (no CDN, no build step), signed in with a bearer token
/// pasted in or carried in the `#token=` fragment of the link the first start prints.
async fn trash() -> Html<&'static str> {
    Html(include_str!("../../playground/trash.html"))
}

/// The playground's vendored scripts and styles (playground/vendor).
async fn playground_asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (
            include_bytes!("../../playground/vendor/graphiql.min.js"),
            "text/javascript",
        ),
        "graphiql.min.css" => (
            include_bytes!("../../playground/vendor/graphiql.min.css"),
            "text/css",
        ),
        "react.production.min.js" => (
            include_bytes!("../../playground/vendor/react.production.min.js"),
            "text/javascript",
        ),
        "react-dom.production.min.js" => (
            include_bytes!("../../playground/vendor/react-dom.production.min.js"),
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

/// Prometheus text exposition, for an admin's bearer token only: the counters tell what
/// requests did (how many statements a lookup ran is how a hidden row would show), so they
/// are no one else's to read. A scraper without a token reads them on
/// `KEEPSAKE_METRICS_BIND` instead.
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    let refused = |status: StatusCode, message: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{message}\n"),
        )
            .into_response()
    };
    match state.tokens.authenticate(&state.db, authorization).await {
        Ok(Bearer::Viewer(viewer)) if viewer.role() == Role::Admin => open_metrics(state),
        Ok(_) => refused(
            StatusCode::FORBIDDEN,
            "/metrics is for admins: send an admin's bearer token, or scrape the address \
             KEEPSAKE_METRICS_BIND names",
        ),
        Err(Error::Unauthenticated(why)) => refused(
            StatusCode::UNAUTHORIZED,
            &format!(
                "/metrics needs an admin's bearer token ({why}), or scrape the address \
                 KEEPSAKE_METRICS_BIND names"
            ),
        ),
        Err(err) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(err)),
                "metrics: authentication failed"
            );
            refused(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The metrics, to whoever asks.
fn open_metrics(state: AppState) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The router of `KEEPSAKE_METRICS_BIND`: `/metrics` to anyone who reaches that address,
/// and nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { open_metrics(state) }),
        )
        .with_state(state)
}
