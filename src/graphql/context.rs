//! What resolvers read: what every request shares ([`Services`], given once to the schema
//! and held once by the server's state) and one request's own ([`RequestContext`]: who it is
//! from, its budgeted database handle, its loaders), each one entry of async-graphql's data.

use std::sync::Arc;

use async_graphql::Context;
use tokio::sync::OnceCell;

use super::loaders::{self, Loaders};
use crate::auth::{Bearer, Tokens, UndoGrant, Viewer};
use crate::error::{Error, Result};
use crate::soft_delete::Db;
use crate::storage::Storage;

/// What every request shares: the server builds it once and holds it (`AppState`); the
/// schema gets the same `Arc`.
pub struct Services {
    /// Where attachments' bytes live.
    pub storage: Storage,
    /// The keys that sign and check tokens and undo credentials.
    pub tokens: Tokens,
    /// The largest upload accepted, in bytes (`KEEPSAKE_MAX_UPLOAD`).
    pub max_upload: u64,
    /// How long a member may undo their own deletion (`KEEPSAKE_UNDO_WINDOW`).
    pub undo_window: std::time::Duration,
    /// Every viewer's open subscriptions (`KEEPSAKE_MAX_SUBSCRIPTIONS`).
    pub subscriptions: Arc<super::slots::Slots>,
    /// The greatest event id known final, kept for every subscription at once.
    pub tail: Arc<crate::service::events::Tail>,
    /// The process's counters.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// One request's own context, the one entry a request adds to async-graphql's data.
pub struct RequestContext {
    /// Who the request is from.
    pub auth: RequestAuth,
    /// The request's database handle: its statements count against its budget.
    pub db: Db,
    /// The request's batched, cached loaders over `db`.
    pub loaders: Loaders,
    /// Whether the root's ids were read ahead (`roots::loaders`).
    pub(crate) roots_read: OnceCell<()>,
    /// Resolve every list field by field: set when the document asks for one response key
    /// twice with a selection under it (async-graphql merges what each gives, and a list
    /// written in one pass would not be merged). `graphql_http::repeats_object_keys` decides.
    pub by_field: bool,
}

impl RequestContext {
    /// The context of a request from `auth` against `db`.
    pub fn new(auth: RequestAuth, db: Db, by_field: bool) -> RequestContext {
        RequestContext {
            auth,
            loaders: loaders::for_request(db.clone()),
            db,
            roots_read: OnceCell::new(),
            by_field,
        }
    }
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
    fn loaders(&self) -> Result<&Loaders>;
    /// The request's own context.
    fn request(&self) -> Result<&RequestContext>;
    /// What every request shares.
    fn services(&self) -> Result<&Arc<Services>>;
}

impl ContextExt for Context<'_> {
    fn viewer(&self) -> Result<&Viewer> {
        match self.data_opt::<RequestContext>().map(|r| &r.auth) {
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
        match self.data_opt::<RequestContext>().map(|r| &r.auth) {
            Some(RequestAuth::Undo(grant)) => Some(grant),
            _ => None,
        }
    }

    fn max_upload(&self) -> Result<u64> {
        services(self).map(|s| s.max_upload)
    }

    fn storage(&self) -> Result<&Storage> {
        services(self).map(|s| &s.storage)
    }

    fn tokens(&self) -> Result<&Tokens> {
        services(self).map(|s| &s.tokens)
    }

    fn db(&self) -> Result<&Db> {
        self.request().map(|r| &r.db)
    }

    fn loaders(&self) -> Result<&Loaders> {
        self.request().map(|r| &r.loaders)
    }

    fn undo_window(&self) -> Result<std::time::Duration> {
        services(self).map(|s| s.undo_window)
    }

    fn services(&self) -> Result<&Arc<Services>> {
        self.data_opt::<Arc<Services>>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a schema built without its services")))
    }

    fn request(&self) -> Result<&RequestContext> {
        self.data_opt::<RequestContext>()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("a request without its context")))
    }
}

/// What every request shares.
fn services<'a>(ctx: &'a Context<'_>) -> Result<&'a Services> {
    ctx.data_opt::<Arc<Services>>()
        .map(|s| &**s)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a schema built without its services")))
}
