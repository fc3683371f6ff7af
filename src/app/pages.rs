//! The browser pages and everything they load: GraphiQL at `/playground` (its script and its
//! vendored React, GraphiQL and stylesheet) and the trash at `/trash` (its script), with the
//! sign-in through an OpenID Connect provider that both offer when one is configured
//! (`/oidc-sign-in.js`, `/sign-in.json`). All are served whole from the binary (no CDN, no
//! build step), and all go out under one set of headers, [`page_headers`]: a
//! Content-Security-Policy that runs no script but these files, no referrer, and no content
//! sniffing.
//!
//! The pages hold bearer tokens (in localStorage, and the trash holds the one credential that
//! can undo an account's deletion), so a script injected into them could carry those off: the
//! policy allows scripts from this origin only, never inline or `eval`, which is why each
//! page's script is a file of its own here.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// The policy of the pages, directive by directive:
/// - `default-src 'self'`: anything not named below comes from this origin or not at all;
/// - `script-src 'self'`: the pages' script files and the vendored ones; no inline script,
///   no `eval`;
/// - `style-src 'self' 'unsafe-inline'`: the pages keep their styles in a `<style>` block
///   (and the trash's chart legend in `style` attributes), and GraphiQL's bundle injects a
///   `<style>` element of its own (react-remove-scroll-bar, under its dialogs). A style
///   cannot run code, so this opens no way to the tokens;
/// - `img-src 'self' data:` and `font-src 'self' data:`: GraphiQL's stylesheet carries its
///   images and fonts inline as `data:` URLs;
/// - `connect-src 'self'`: `/graphql`, the attachments' content, and the playground's
///   subscriptions' WebSocket to `/graphql/ws` (CSP's `'self'` matches `ws:` and `wss:` on
///   this host and port), on this origin;
/// - `base-uri 'none'`, `form-action 'self'`: no `<base>` to reroute relative URLs, and no form
///   posting elsewhere (the pages' forms are handled by their scripts);
/// - `frame-ancestors 'none'`: no other site may frame the pages (clickjacking the trash's
///   Restore, Purge or Delete my account).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The pages' routes, under [`page_headers`].
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/playground", get(playground))
        .route("/playground/playground.js", get(playground_script))
        .route("/playground/vendor/{file}", get(playground_asset))
        .route("/trash", get(trash))
        .route("/trash.js", get(trash_script))
        .route("/token-paste.js", get(token_paste_script))
        .route("/oidc-sign-in.js", get(oidc_sign_in_script))
        .route("/sign-in.json", get(sign_in_config))
        .layer(middleware::map_response_with_state(
            state.clone(),
            page_headers,
        ))
}

/// What the pages need to sign in through the OpenID Connect issuer (authorization code with
/// PKCE, as a public client): its endpoints and the client id; `{}` when no issuer and client
/// id are configured, and the pages offer only a pasted token.
async fn sign_in_config(State(state): State<AppState>) -> Response {
    let config = state
        .services
        .tokens
        .issuer()
        .and_then(|issuer| issuer.browser_sign_in());
    let body = match config {
        Some(config) => serde_json::to_string(&config).unwrap_or_else(|_| "{}".into()),
        None => "{}".into(),
    };
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The policy, with the issuer's token endpoint among the places a page may connect to
/// when the pages sign in through it (the code is exchanged for a token there).
fn content_security_policy(state: &AppState) -> HeaderValue {
    let token_origin = state
        .services
        .tokens
        .issuer()
        .and_then(|issuer| issuer.browser_sign_in())
        .and_then(|config| origin(&config.token_endpoint));
    match token_origin {
        Some(origin) => HeaderValue::from_str(&CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ))
        .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        None => HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    }
}

/// `scheme://host[:port]` of an http(s) URL, when it is one plainly.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    (matches!(scheme, "http" | "https") && !host.is_empty() && host.chars().all(plain))
        .then(|| format!("{scheme}://{host}"))
}

/// The headers every page and asset above goes out with (a 404 for an unknown asset too):
/// the [`CONTENT_SECURITY_POLICY`]; `Referrer-Policy: no-referrer`, so no link followed from
/// a page tells another site where it came from; `X-Content-Type-Options: nosniff`, so a
/// browser runs a file as a script or a stylesheet only when its `Content-Type` says so.
async fn page_headers(State(state): State<AppState>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        content_security_policy(&state),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// GraphiQL, pointed at `/graphql`. Paste `{"Authorization": "Bearer <token>"}` into its
/// headers pane.
async fn playground() -> Html<&'static str> {
    Html(include_str!("../../playground/index.html"))
}

/// The playground's own script: it mounts GraphiQL.
async fn playground_script() -> Response {
    script(include_str!("../../playground/playground.js"))
}

/// The trash: the deletion log, searched and filtered, with restore for admins; signed in
/// with a bearer token pasted in or carried in the `#token=` fragment of the link the first
/// start prints.
async fn trash() -> Html<&'static str> {
    Html(include_str!("../../playground/trash.html"))
}

/// The trash's script: everything the page does.
async fn trash_script() -> Response {
    script(include_str!("../../playground/trash.js"))
}

/// What the trash's sign-in box makes of a pasted token (`Bearer …`, the playground's
/// headers JSON): a script of its own, so that `node --test` checks it without a browser.
async fn token_paste_script() -> Response {
    script(include_str!("../../playground/token-paste.js"))
}

/// Sign-in through the OpenID Connect provider (authorization code with PKCE), for the pages.
async fn oidc_sign_in_script() -> Response {
    script(include_str!("../../playground/oidc-sign-in.js"))
}

/// A page's script. Not cached: it changes with the binary, and must stay in step with the
/// page that loads it.
fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
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
        _ => {
            return (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("404: the playground has no asset {file}\n"),
            )
                .into_response();
        }
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
