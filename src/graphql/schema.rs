//! [`KeepsakeSchema`]: the one way to execute a request, so every execution gets the limits
//! before it and the response shape after it.
//!
//! Both could be async-graphql extensions, and were; but a schema with any extension sends
//! every field through the extension chain (a registry lookup and two boxed futures a field,
//! whether or not an extension hooks fields), and neither needs fields. So the schema that
//! executes has no extensions, and this wrapper does their work around it:
//!
//! - **Limits**: the document is measured first (`limits::measure`). One over a limit is
//!   handed to a second schema that carries the [`Limits`] extension, which validates it and
//!   then refuses it, exactly as before: a misspelt field is still reported as such first.
//! - **Shape**: keys in the query's order, and null propagation when fields failed
//!   ([`nulls::shape`]). Placing a `null` needs the schema's types; the registry is read once
//!   from the second schema, the first time a response has field errors.

use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{EmptySubscription, Request, Response, Schema, SchemaEnv, ServerResult};

use super::limits::{self, Limits};
use super::{Mutation, Query, nulls};

type Inner = Schema<Query, Mutation, EmptySubscription>;

/// Keepsake's executable schema; see the module's docs.
#[derive(Clone)]
pub struct KeepsakeSchema {
    /// Executes documents within the limits; no extensions.
    fast: Inner,
    /// Answers documents over a limit (validation, then the refusal), and lends its types.
    checked: Inner,
    /// The schema's types, once read from `checked`.
    env: Arc<OnceLock<SchemaEnv>>,
}

impl KeepsakeSchema {
    /// Both schemas from one builder (`data` adds the request-independent data).
    pub(super) fn build(data: impl Fn(SchemaBuilder) -> SchemaBuilder) -> KeepsakeSchema {
        let env = Arc::new(OnceLock::new());
        let base = || Schema::build(Query::default(), Mutation::default(), EmptySubscription);
        KeepsakeSchema {
            fast: data(base()).finish(),
            checked: data(base())
                .extension(Limits)
                .extension(LendTypes(env.clone()))
                .finish(),
            env,
        }
    }

    /// Executes `request`: refused when over a limit, and answered in the spec's shape.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let mut request = request.into();
        // Execution consumes the document; the keys' order needs it afterwards.
        let document = match request.parsed_query() {
            Ok(document) => document.clone(),
            // The checked schema reports what does not parse.
            Err(_) => return self.checked.execute(request).await,
        };
        if limits::check(limits::measure(&document, &request.variables)).is_err() {
            return self.checked.execute(request).await;
        }
        let operation = request.operation_name.clone();
        let mut response = self.fast.execute(request).await;
        let registry = if nulls::needs_types(&response) {
            self.types().await.map(|env| &env.registry)
        } else {
            None
        };
        nulls::shape(registry, &document, operation.as_deref(), &mut response);
        code_every_error(&mut response);
        response
    }

    /// The schema in SDL.
    pub fn sdl(&self) -> String {
        self.fast.sdl()
    }

    /// The schema's types: the checked schema hands them over while it prepares any request.
    async fn types(&self) -> Option<&SchemaEnv> {
        if self.env.get().is_none() {
            self.checked.execute("{ __typename }").await;
        }
        self.env.get()
    }
}

/// Gives every field error an `extensions.code`. Keepsake's own errors carry one already;
/// the ones async-graphql makes itself do not: an argument its scalar cannot parse (a file
/// marker where no file was sent, a malformed date) is the client's to fix.
fn code_every_error(response: &mut Response) {
    // Errors without a path are refusals before execution; `graphql_http` codes those.
    for error in response.errors.iter_mut().filter(|e| !e.path.is_empty()) {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            let code = if error.message.starts_with("Failed to parse") {
                "BAD_USER_INPUT"
            } else {
                "INTERNAL"
            };
            extensions.set("code", code);
        }
    }
}

/// What [`KeepsakeSchema::build`] starts from.
pub(super) type SchemaBuilder = async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription>;

/// Lends the checked schema's types to the wrapper (the first request it sees fills the slot).
struct LendTypes(Arc<OnceLock<SchemaEnv>>);

impl ExtensionFactory for LendTypes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LendTypes(self.0.clone()))
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for LendTypes {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let _ = self.0.set(ctx.schema_env.clone());
        next.run(ctx, request).await
    }
}
