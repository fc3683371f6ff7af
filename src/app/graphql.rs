//! The `/graphql` handler: one GraphQL request, read and answered as [`crate::graphql_http`]
//! lays out, executed as the viewer its bearer token names, within the request's limits.
//!
//! The order matters. The request has taken its place among its user's (or address's)
//! requests in flight before it gets here (`fairness`); a file is read only for a signed-in
//! user; a
//! persisted query's hash finds only documents of the caller's own audience; the document's
//! size in tokens is checked before it is parsed; who is signed in is read from the database
//! only when first needed (a document refused before execution runs no SQL); and execution
//! runs on a database handle with the request's statement budget.

use super::bearer::authorization;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;

use super::{AppState, MAX_BODY_BYTES};
use crate::graphql::{RequestAuth, RequestContext};
use crate::graphql_http::{self, Audience, Incoming, MediaType, Outcome, Reading, Refusal};

/// Executes one GraphQL request as the viewer its bearer token names, speaking GraphQL over
/// HTTP as [`graphql_http`] lays it out (media types, status codes, refusals). An answer to
/// GET is private to its caller: caches keep no copy, and none across tokens.
pub(super) async fn graphql_handler(State(state): State<AppState>, request: Request) -> Response {
    let get = request.method() == Method::GET;
    let mut response = answer(state, request).await;
    if get {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        headers.append(header::VARY, HeaderValue::from_static("authorization"));
    }
    response
}

async fn answer(state: AppState, request: Request) -> Response {
    let media = match graphql_http::negotiate(request.headers()) {
        Ok(media) => media,
        Err(refusal) => return refusal.into_response(MediaType::Json),
    };
    let method = request.method().clone();
    let authorization = authorization(request.headers()).map(str::to_owned);
    let multipart = graphql_http::is_multipart(&method, request.headers());
    // Who the request is from is read once, when first needed: a document refused before
    // execution runs no SQL at all.
    let mut auth: Option<RequestAuth> = None;
    let authenticate = || async {
        RequestAuth::from_result(
            state
                .services
                .tokens
                .authenticate(&state.db, authorization.as_deref())
                .await,
        )
    };
    // A request that may carry a file is read only for a signed-in user: nobody else gets
    // to fill the disk with temporary files.
    if multipart {
        let signed_in = authenticate().await;
        if !matches!(signed_in, RequestAuth::Viewer(_)) {
            graphql_http::drain(request.into_body()).await;
            return Refusal::Unauthenticated(
                "uploads need a signed-in user: send the multipart request with \
                 Authorization: Bearer <token> (keepsake token --email …)"
                    .into(),
            )
            .into_response(media);
        }
        auth = Some(signed_in);
    }
    let reading = Reading {
        max_body: MAX_BODY_BYTES,
        max_file: state.services.max_upload,
        max_files: state.limits.max_files as usize,
    };
    let Incoming {
        mut request,
        register,
        lookup,
    } = match graphql_http::read_request(request, reading).await {
        Ok(incoming) => incoming,
        Err(refusal) => return refusal.into_response(media),
    };
    // A persisted query's hash alone finds only a document the caller's audience has run.
    if let Some(hash) = lookup {
        let caller = match auth.take() {
            Some(known) => known,
            None => authenticate().await,
        };
        match state.persisted.get(audience(&caller), &hash) {
            Some(document) => request.query = document,
            None => return Refusal::PersistedQueryNotFound.into_response(media),
        }
        auth = Some(caller);
    }
    // Every GraphQL request counts, refused documents included; malformed HTTP does not.
    state.metrics.graphql_request();
    let max_tokens = state.limits.max_tokens as usize;
    if let Err(error) = graphql_http::parse_document(&mut request, &state.parsed, max_tokens) {
        return graphql_http::refused(media, &[error]);
    }
    if method == Method::GET && graphql_http::is_mutation(&mut request) {
        // GraphQL over HTTP: GET may not change anything.
        return Refusal::MutationOverGet.into_response(media);
    }
    let missing = graphql_http::check_required_variables(&mut request);
    if !missing.is_empty() {
        return graphql_http::refused(media, &missing);
    }
    let auth = match auth {
        Some(known) => known,
        None => authenticate().await,
    };
    match &auth {
        RequestAuth::Viewer(viewer) => {
            tracing::Span::current().record("viewer", viewer.id());
            tracing::debug!(
                viewer = viewer.id(),
                role = viewer.role().as_str(),
                "authenticated"
            );
        }
        RequestAuth::Undo(grant) => tracing::info!(
            user = grant.user(),
            deletion = grant.deletion(),
            "undo credential presented"
        ),
        RequestAuth::Unauthenticated(_) | RequestAuth::Failed => {}
    }
    let audience = audience(&auth);
    // APQ: a document sent with its hash is kept once the schema has accepted it.
    let register = register.map(|hash| (hash, request.query.clone()));
    // The request's own handle: its statements count against its budget, and it holds at
    // most two connections at once, its loaders' included.
    let db = state.db.budgeted(state.limits.max_statements);
    let by_field = graphql_http::repeats_object_keys(&mut request);
    let request = request.data(RequestContext::new(auth, db.clone(), by_field));
    let response = state.schema.execute(request).await;
    if let Some(budget) = db.budget() {
        tracing::debug!(
            statements = budget.used(),
            connections = budget.peak_connections(),
            "request's database use"
        );
    }
    match graphql_http::classify(response) {
        Outcome::Executed(response) => {
            if let Some((hash, text)) = register {
                state.persisted.insert(audience, hash, text);
            }
            graphql_http::executed(media, response)
        }
        Outcome::Refused(errors) => graphql_http::refused(media, &errors),
    }
}

/// Whose persisted documents a caller's hash may find: each role's own, and callers without
/// a valid token apart.
fn audience(auth: &RequestAuth) -> Audience {
    match auth {
        RequestAuth::Viewer(viewer) => viewer.role().as_str(),
        RequestAuth::Undo(_) => "undo",
        RequestAuth::Unauthenticated(_) | RequestAuth::Failed => "anonymous",
    }
}
