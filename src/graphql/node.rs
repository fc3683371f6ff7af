//! Relay global object identification: `node(id)` under the same visibility as `user` and
//! `attachment`.

use async_graphql::{Context, ID, Interface, Object};

use super::{Attachment, ContextExt, User, or_null};
use crate::ids::{self, Kind};
use crate::service::{attachments, users};
use crate::soft_delete::Scope;

/// Anything with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    User(User),
    Attachment(Attachment),
}

/// `node(id)`.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global id, or null when the viewer cannot see one.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Option<Node> {
        let node = async {
            let viewer = ctx.viewer()?;
            let db = ctx.db()?;
            Ok(match ids::decode_any(&id)? {
                (Kind::User, id) => users::get(db, Scope::Live, id)
                    .await?
                    .map(|u| Node::User(User::new(u, Scope::Live))),
                (Kind::Attachment, id) => attachments::get(db, viewer, Scope::Live, id)
                    .await?
                    .map(|a| Node::Attachment(Attachment::new(a, Scope::Live))),
                (Kind::Deletion, _) => None,
            })
        };
        or_null(ctx, node.await)
    }
}
