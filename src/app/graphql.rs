//! The `/graphql` handler: one GraphQL request, read and answered as [`crate::graphql_http`]
//! lays out, executed as the viewer its bearer token names.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::response::Response;

use super::{AppState, MAX_BODY_BYTES};
use crate::graphql::roots::RootLookups;
use crate::graphql::{RequestAuth, ResolveByField, loaders};
use crate::graphql_http::{self, Incoming, MediaType, Outcome, Refusal};

/// Executes one GraphQL request as the viewer its bearer token names, speaking GraphQL over
/// HTTP as [`graphql_http`] lays it out (media types, status codes, refusals).
pub(super) async fn graphql_handler(State(state): State<AppState>, request: Request) -> Response {
    let media = match graphql_http::negotiate(request.headers()) {
        Ok(media) => media,
        Err(refusal) => return refusal.into_response(MediaType::Json),
    };
    let method = request.method().clone();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let authenticate = || async {
        RequestAuth::from_result(
            state
                .tokens
                .authenticate(&state.db, authorization.as_deref())
                .await,
        )
    };
    // A request that may carry a file is signed in before a byte of it is read: only a
    // signed-in user may upload, and nobody else gets to fill the disk with temporary files.
    let early = if graphql_http::is_multipart(&method, request.headers()) {
        let auth = authenticate().await;
        if !matches!(auth, RequestAuth::Viewer(_)) {
            graphql_http::drain(request.into_body()).await;
            return Refusal::Unauthenticated(
                "uploads need a signed-in user: send the multipart request with \
                 Authorization: Bearer <token> (keepsake token --email …)"
                    .into(),
            )
            .into_response(media);
        }
        Some(auth)
    } else {
        None
    };
    let Incoming {
        mut request,
        register,
    } = match graphql_http::read_request(
        request,
        MAX_BODY_BYTES,
        state.max_upload,
        &state.persisted,
    )
    .await
    {
        Ok(incoming) => incoming,
        Err(refusal) => return refusal.into_response(media),
    };
    // Every GraphQL request counts, refused documents included; malformed HTTP does not.
    state.metrics.graphql_request();
    if let Err(error) = graphql_http::parse_document(&mut request, &state.parsed) {
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
    let auth = match early {
        Some(auth) => auth,
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
    // APQ: a document sent with its hash is kept once the schema has accepted it.
    let register = register.map(|hash| (hash, request.query.clone()));
    let loaders = loaders::for_request(state.db.clone());
    let mut request = request
        .data(auth)
        .data(loaders)
        .data(RootLookups::default());
    if graphql_http::repeats_object_keys(&mut request) {
        request = request.data(ResolveByField);
    }
    let response = state.schema.execute(request).await;
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
