//! The GraphQL schema: per-feature roots joined with `MergedObject`, output types of their
//! own (never SeaORM models), and the context every resolver reads the viewer and the
//! database handle from. Resolvers are thin: take the viewer and loaders, call one
//! `service::` function, convert. A failed nullable field is `null` beside its error:
//! [`KeepsakeSchema::execute`], the one way to run a request, puts it there.

mod attachment;
mod connection;
mod deletion;
mod leaves;
pub use leaves::ResolveByField;
mod lifecycle;
pub mod limits;
pub mod loaders;
mod node;
pub mod roots;
mod scalars;
mod schema;
mod stats;
mod types;
mod upload;
mod user;

use async_graphql::{Context, MergedObject};

use crate::auth::{Bearer, Tokens, UndoGrant, Viewer};
use crate::error::{Error, Result};
use crate::soft_delete::Db;
use crate::storage::Storage;

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
);

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    user::UserMutation,
    attachment::AttachmentMutation,
    deletion::DeletionMutation,
    lifecycle::LifecycleMutation,
);

pub use limits::{MAX_COST, MAX_DEPTH, STATEMENT_COST};

/// The schema without data: enough for `keepsake schema` and the drift test.
pub fn schema() -> KeepsakeSchema {
    KeepsakeSchema::build(|builder| builder)
}

/// The schema serving requests against `db`; `tokens` signs the undo credentials that
/// deleting one's own account returns.
pub fn schema_with(
    db: Db,
    storage: (Storage, MaxUpload),
    undo_window: UndoWindow,
    tokens: Tokens,
) -> KeepsakeSchema {
    KeepsakeSchema::build(|builder| {
        builder
            .data(db.clone())
            .data(storage.0.clone())
            .data(storage.1)
            .data(undo_window)
            .data(tokens.clone())
    })
}

/// The largest upload accepted, in bytes (`KEEPSAKE_MAX_UPLOAD`).
#[derive(Clone, Copy, Debug)]
pub struct MaxUpload(pub u64);

/// How long a member may undo their own deletion (`KEEPSAKE_UNDO_WINDOW`).
#[derive(Clone, Copy, Debug)]
pub struct UndoWindow(pub std::time::Duration);

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().sdl()
}

/// Who a request is from, decided once per request before execution.
#[derive(Debug)]
pub enum RequestAuth {
    /// A valid token of a live user.
    Viewer(Viewer),
    /// An undo credential: it may only restore the deletion it names.
    Undo(UndoGrant),
    /// No token, or one that is bad, expired or of a user who is gone.
    Unauthenticated(String),
    /// The database could not be asked (already logged).
    Failed,
}

impl RequestAuth {
    /// Turns an authentication result into the request's auth state, logging what clients
    /// must not see.
    pub fn from_result(result: Result<Bearer>) -> RequestAuth {
        match result {
            Ok(Bearer::Viewer(viewer)) => RequestAuth::Viewer(viewer),
            Ok(Bearer::Undo(grant)) => RequestAuth::Undo(grant),
            Err(Error::Unauthenticated(msg)) => RequestAuth::Unauthenticated(msg),
            Err(err) => {
                tracing::error!(
                    error = format!("{:#}", anyhow::Error::from(err)),
                    "authentication failed"
                );
                RequestAuth::Failed
            }
        }
    }
}

/// What resolvers read from their context.
pub(crate) trait ContextExt {
    /// The signed-in viewer, or `UNAUTHENTICATED` (`FORBIDDEN` for an undo credential,
    /// which signs nobody in).
    fn viewer(&self) -> Result<&Viewer>;
    /// The request's undo credential, if that is what its token is.
    fn undo_grant(&self) -> Option<&UndoGrant>;
    /// The keys that sign undo credentials.
    fn tokens(&self) -> Result<&Tokens>;
    /// Where attachments' bytes live.
    fn storage(&self) -> Result<&Storage>;
    /// The largest upload accepted, in bytes.
    fn max_upload(&self) -> Result<u64>;
    /// The database handle.
    fn db(&self) -> Result<&Db>;
    /// The configured undo window.
    fn undo_window(&self) -> Result<std::time::Duration>;
    /// The request's batched loaders.
    fn loaders(&self) -> Result<&loaders::Loaders>;
}

impl ContextExt for Context<'_> {
    fn viewer(&self) -> Result<&Viewer> {
        match self.data_opt::<RequestAuth>() {
            Some(RequestAuth::Viewer(viewer)) => Ok(viewer),
            Some(RequestAuth::Unauthenticated(msg)) => Err(Error::Unauthenticated(msg.clone())),
            Some(RequestAuth::Undo(grant)) => Err(Error::forbidden(format!(
                "this token is an undo credential: it can only restore deletion {0}, with \
                 restore(deletionId: \"{0}\"), until {1}",
                crate::ids::encode(crate::ids::Kind::Deletion, grant.deletion()),
                grant.until().to_rfc3339()
            ))),
            Some(RequestAuth::Failed) => Err(Error::Internal(anyhow::anyhow!(
                "authentication failed earlier in this request"
            ))),
            None => Err(Error::Unauthenticated(
                "sign in: send an Authorization: Bearer <token> header".into(),
            )),
        }
    }

    fn undo_grant(&self) -> Option<&UndoGrant> {
        match self.data_opt::<RequestAuth>() {
            Some(RequestAuth::Undo(grant)) => Some(grant),
            _ => None,
        }
    }

    fn max_upload(&self) -> Result<u64> {
        self.data_opt::<MaxUpload>()
            .map(|m| m.0)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("schema built without an upload limit")))
    }

    fn storage(&self) -> Result<&Storage> {
        self.data_opt::<Storage>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("schema built without storage")))
    }

    fn tokens(&self) -> Result<&Tokens> {
        self.data_opt::<Tokens>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("schema built without token keys")))
    }

    fn db(&self) -> Result<&Db> {
        self.data_opt::<Db>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("schema built without a database")))
    }

    fn loaders(&self) -> Result<&loaders::Loaders> {
        self.data_opt::<loaders::Loaders>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("request without loaders")))
    }

    fn undo_window(&self) -> Result<std::time::Duration> {
        self.data_opt::<UndoWindow>()
            .map(|w| w.0)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("schema built without an undo window")))
    }
}
