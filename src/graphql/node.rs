//! Relay global object identification: `node(id)` under the same visibility as `user` and
//! `attachment`.

use async_graphql::{Context, ID, Interface, Object};

use super::{Attachment, ContextExt, User};
use crate::error::Result;
use crate::service::nodes::{self, NodeRow};
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

impl From<NodeRow> for Node {
    fn from(row: NodeRow) -> Node {
        match row {
            NodeRow::User(u) => Node::User(User::new(u, Scope::Live)),
            NodeRow::Attachment(a) => Node::Attachment(Attachment::new(a, Scope::Live)),
        }
    }
}

#[Object]
impl NodeQuery {
    /// The object with this global id, or null when the viewer cannot see one.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let viewer = ctx.viewer()?;
        Ok(nodes::node(ctx.db()?, viewer, &id).await?.map(Node::from))
    }
}
