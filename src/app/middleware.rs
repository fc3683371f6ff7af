//! The layers around every route: request timing for `/metrics`, gzip compression, CORS
//! (only when `KEEPSAKE_CORS_ORIGINS` allows some origin) and the tracing span of each
//! request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate as _, SizeAbove};
use tower_http::trace::TraceLayer;

use super::AppState;
use crate::config::CorsOrigins;

/// Responses smaller than this go uncompressed: gzip's framing would eat most of the gain.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// How long a browser may reuse a CORS preflight's answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// `routes` inside the layers, innermost first: request timing, compression, CORS (only
/// when some origin is allowed), then the request's tracing span.
pub(super) fn around(
    routes: Router<AppState>,
    state: &AppState,
    cors_origins: &CorsOrigins,
) -> Router<AppState> {
    let mut router = routes
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
    router.layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
        tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            viewer = tracing::field::Empty,
        )
    }))
}

/// The request headers a page may send: the ones Keepsake reads, and the ones common GraphQL
/// clients add (Apollo Client names itself and asks for a preflight on every request).
const SAFE_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "range",
    "if-none-match",
    "if-range",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollo-query-plan-experimental",
    "graphql-client-name",
    "graphql-client-version",
];

/// A preflight's `Access-Control-Allow-Headers`: the headers it asked for (in lower case)
/// that are on the safe list, or the headers Keepsake reads when it asked for none. A header
/// off the list is left out, so the browser refuses to send it and says which.
fn allowed_headers(asked: &str) -> String {
    let asked: Vec<String> = asked
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| SAFE_REQUEST_HEADERS.contains(&name.as_str()))
        .collect();
    if asked.is_empty() {
        "authorization, content-type, range, if-none-match, if-range".to_owned()
    } else {
        asked.join(", ")
    }
}

/// Says at start which origins CORS lets in, if any.
pub(super) fn announce_cors(origins: &CorsOrigins) {
    match origins {
        CorsOrigins::None => {}
        CorsOrigins::Any => tracing::info!("CORS: pages of any origin may call the API"),
        CorsOrigins::List(origins) => {
            tracing::info!(origins = %origins.join(","), "CORS: these origins may call the API");
        }
    }
}

/// CORS for the origins in `KEEPSAKE_CORS_ORIGINS`. A preflight from an allowed origin is
/// answered here: 204, methods GET, POST and PUT (an attachment's content), headers
/// `Authorization`, `Content-Type`, `Range`, `If-None-Match` and `If-Range`, reusable for
/// [`CORS_MAX_AGE`]. Any other request runs, and an allowed origin's answer carries
/// `Access-Control-Allow-Origin` and exposes the content's headers (`ETag`,
/// `Content-Disposition`, `Content-Range`, `Accept-Ranges`) to the page. Requests from other origins pass as if CORS were
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
        let asked = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT"),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    &allowed_headers(asked),
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
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("etag, content-disposition, content-range, accept-ranges"),
        );
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
