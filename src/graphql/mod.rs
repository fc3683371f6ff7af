//! The GraphQL schema: per-feature roots joined with `MergedObject`, output types of their
//! own (never SeaORM models), and the context every resolver reads the viewer and the
//! database handle from. Resolvers are thin: take the viewer and loaders, call one
//! `service::` function, convert. A failed nullable field is `null` beside its error:
//! [`KeepsakeSchema::execute`], the one way to run a request, puts it there.

mod arguments;
mod attachment;
mod connection;
mod context;
mod deletion;
mod erasure;
mod event;
mod hold;
mod leaves;
mod lifecycle;
pub mod limits;
pub mod loaders;
mod node;
pub mod roots;
mod scalars;
mod schema;
mod slots;
mod stats;
mod subscription;
mod types;
mod upload;
mod user;
mod webhook;

use async_graphql::MergedObject;

pub(crate) use context::ContextExt;
pub use context::{RequestAuth, RequestContext, Services};
pub use event::DeletionEvent;
pub use slots::Slots;
pub use subscription::{Subscriber, Subscription};
pub use types::{Attachment, User};

pub use schema::KeepsakeSchema;

/// Every query field.
#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    attachment::AttachmentQuery,
    deletion::DeletionQuery,
    stats::StatsQuery,
    lifecycle::LifecycleQuery,
    node::NodeQuery,
    webhook::WebhookQuery,
);

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    user::UserMutation,
    attachment::AttachmentMutation,
    deletion::DeletionMutation,
    lifecycle::LifecycleMutation,
    hold::HoldMutation,
    erasure::ErasureMutation,
);

pub use limits::{MAX_COST, MAX_DEPTH, STATEMENT_COST};

/// The schema without data: enough for `keepsake schema` and the drift test.
pub fn schema() -> KeepsakeSchema {
    KeepsakeSchema::build(|builder| builder)
}

/// The schema serving requests; `services` are what every request shares (each request
/// brings its own [`RequestContext`]).
pub fn schema_with(services: std::sync::Arc<Services>) -> KeepsakeSchema {
    KeepsakeSchema::build(|builder| builder.data(services.clone()))
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}
