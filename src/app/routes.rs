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
use crate::config::CorsOrigins;

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

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
