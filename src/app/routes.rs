//! The routes: which path answers what. `/graphql` has its own file, and so do the browser
//! pages (`pages`: the GraphiQL playground, the trash, their scripts and assets); the small
//! handlers (the health check, the metrics) live here.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::content;
use super::graphql::graphql_handler;
use super::pages;
use super::{AppState, middleware};
use crate::config::CorsOrigins;

/// The routes and their layers; CORS only when some origin is allowed.
pub fn router(state: AppState, cors_origins: &CorsOrigins) -> Router {
    let routes = Router::new()
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .route("/graphql", get(graphql_handler).post(graphql_handler))
        .route(
            "/attachments/{id}/content",
            get(content::get_content).put(content::put_content),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(pages::routes());
    middleware::around(routes, &state, cors_origins).with_state(state)
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
