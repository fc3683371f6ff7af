//! Relay's `node(id)`: any object by its global id, under the visibility of its own field.

use crate::auth::Viewer;
use crate::entity::{attachment, user};
use crate::error::Result;
use crate::ids::{self, Kind};
use crate::service::{attachments, users};
use crate::soft_delete::{Handle, Scope};

/// What a global id named, read live.
#[derive(Clone, Debug)]
pub enum NodeRow {
    User(user::Model),
    Attachment(attachment::Model),
}

/// The live object with this global id, if the viewer may see it. A deletion's id names no
/// node.
pub async fn node(h: &impl Handle, viewer: &Viewer, id: &str) -> Result<Option<NodeRow>> {
    Ok(match ids::decode_any(id)? {
        (Kind::User, id) => users::get(h, Scope::Live, id).await?.map(NodeRow::User),
        (Kind::Attachment, id) => attachments::get(h, viewer, Scope::Live, id)
            .await?
            .map(NodeRow::Attachment),
        (Kind::Deletion, _) => None,
    })
}
