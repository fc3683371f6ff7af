//! The routes: which path answers what. `/graphql` has its own file, and so do the browser
//! pages (`pages`: the GraphiQL playground, the trash, their scripts and assets); the small
//! handlers (the health check, the metrics) live here.

use super::bearer::authorization;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::content;
use super::fairness;
use super::graphql::graphql_handler;
use super::pages;
use super::{AppState, middleware};
use crate::auth::{Bearer, Role};
use crate::config::CorsOrigins;
use crate::error::Error;

/// The routes and their layers; CORS only when some origin is allowed.
pub fn router(state: AppState, cors_origins: &CorsOrigins) -> Router {
    // The routes that do work for a user count against their requests in flight.
    let limited = Router::new()
        .route("/graphql", get(graphql_handler).post(graphql_handler))
        .route(
            "/attachments/{id}/content",
            get(content::get_content).put(content::put_content),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            fairness::in_flight,
        ));
    let routes = Router::new()
        .route("/", get(|| async { Redirect::temporary("/playground") }))
        .merge(limited)
        // Subscriptions count against their own cap, not the requests in flight.
        .route("/graphql/ws", get(super::ws::subscriptions))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(pages::routes(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    middleware::around(routes, &state, cors_origins).with_state(state)
}

/// Any other path: 404, with a body that says so. Under the API's paths (`/graphql…`,
/// `/attachments/…`) it is a GraphQL-shaped error, like the API's other errors; elsewhere a
/// line of text naming what is served.
async fn not_found(uri: Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    if path.starts_with("/graphql") || path.starts_with("/attachments") {
        Error::not_found(format!(
            "no route {path}: the API answers at /graphql and /attachments/{{id}}/content"
        ))
        .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "404: nothing at {path}; Keepsake serves /graphql, /playground, /trash and \
                 /healthz\n"
            ),
        )
            .into_response()
    }
}

/// A path that exists asked with a method it does not take: 405 with a line saying so (the
/// `Allow` header names the methods it takes).
async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("405: {path} does not take {method}; the Allow header lists what it takes\n"),
    )
        .into_response()
}

/// 200 when the database answers; 503 when it does not, and from the shutdown signal on (so
/// balancers stop sending before the server stops accepting).
async fn healthz(State(state): State<AppState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
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
    let authorization = authorization(&headers);
    let refused = |status: StatusCode, message: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{message}\n"),
        )
            .into_response()
    };
    match state
        .services
        .tokens
        .authenticate(&state.db, authorization)
        .await
    {
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
