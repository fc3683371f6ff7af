//! Relay global object identification: `node(id)` and `nodes(ids)` under the same
//! visibility as `user` and `attachment`.

use async_graphql::{Context, ID, Interface, Object};

use super::types::Deletion;
use super::{Attachment, ContextExt, User, roots};
use crate::error::Result;
use crate::service::nodes::{self, NodeRow};
use crate::soft_delete::Scope;

/// Anything with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    User(User),
    Attachment(Attachment),
    Deletion(Deletion),
}

/// `node(id)`, `nodes(ids)`.
#[derive(Default)]
pub struct NodeQuery;

impl From<NodeRow> for Node {
    fn from(row: NodeRow) -> Node {
        match row {
            NodeRow::User(u) => Node::User(User::new(u, Scope::Live)),
            NodeRow::Attachment(a) => Node::Attachment(Attachment::new(a, Scope::Live)),
            NodeRow::Deletion(d) => Node::Deletion(Deletion::new(d, Scope::Live)),
        }
    }
}

#[Object]
impl NodeQuery {
    /// The object with this global id, or null when the viewer cannot see one: a user, an
    /// attachment, or a deletion (support and admins, who may read the log).
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> Result<Option<Node>> {
        let viewer = ctx.viewer()?;
        Ok(nodes::node(roots::loaders(ctx).await?, viewer, &id)
            .await?
            .map(Node::from))
    }

    /// The objects with these global ids (at most 100), in order: `null` where the viewer
    /// cannot see one. Users, attachments and deletions are each read in one batch.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        let viewer = ctx.viewer()?;
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        let found = nodes::nodes(roots::loaders(ctx).await?, viewer, &ids).await?;
        Ok(found.into_iter().map(|row| row.map(Node::from)).collect())
    }
}
