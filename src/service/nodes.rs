//! Relay's `node(id)` and `nodes(ids)`: any object by its global id, under the visibility of
//! its own field, read through the request's loaders so that many lookups in one request
//! cost one statement per entity.

use crate::auth::Viewer;
use crate::entity::{attachment, deletion, user};
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::service::attachments::may_see;
use crate::service::keys::{AttachmentKey, DeletionKey, Rows, UserKey};
use crate::soft_delete::Scope;

/// The most ids one `nodes` takes.
pub const MAX_NODE_IDS: usize = 100;

/// What a global id named, read live.
#[derive(Clone, Debug)]
pub enum NodeRow {
    User(user::Model),
    Attachment(attachment::Model),
    /// An entry of the deletion log, for those who may read it (support and admins).
    Deletion(deletion::Model),
}

/// Whether the viewer may read deletion log entries; a member's answer is `null` for every
/// deletion id, read or not, like an id that never existed.
fn reads_log(viewer: &Viewer) -> bool {
    super::log::may_read_log(viewer).is_ok()
}

/// The live object with this global id, if the viewer may see it (a deletion, if they may
/// read the log).
pub async fn node(rows: &impl Rows, viewer: &Viewer, id: &str) -> Result<Option<NodeRow>> {
    lookup(rows, viewer, ids::decode_any(id)?).await
}

/// `nodes(ids)`: the live objects with these global ids, in order, `None` where the viewer
/// cannot see one. Every id is checked before anything is read; users and attachments are
/// each read in one batch.
pub async fn nodes(
    rows: &impl Rows,
    viewer: &Viewer,
    ids: &[&str],
) -> Result<Vec<Option<NodeRow>>> {
    if ids.len() > MAX_NODE_IDS {
        return Err(Error::bad_input(format!(
            "ids: at most {MAX_NODE_IDS} ids at once (got {})",
            ids.len()
        )));
    }
    let decoded = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            ids::decode_any(id).map_err(|err| Error::bad_input(format!("ids[{i}]: {err}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let user_keys = decoded.iter().filter(|(k, _)| *k == Kind::User);
    let attachment_keys = decoded.iter().filter(|(k, _)| *k == Kind::Attachment);
    let users = rows
        .users(user_keys.map(|(_, id)| UserKey(*id, Scope::Live)).collect())
        .await?;
    let attachments = rows
        .attachments(
            attachment_keys
                .map(|(_, id)| AttachmentKey(*id, Scope::Live))
                .collect(),
        )
        .await?;
    let deletion_keys = decoded.iter().filter(|(k, _)| *k == Kind::Deletion);
    let deletions = if reads_log(viewer) {
        rows.deletions(deletion_keys.map(|(_, id)| DeletionKey(*id)).collect())
            .await?
    } else {
        Default::default()
    };
    Ok(decoded
        .into_iter()
        .map(|(kind, id)| match kind {
            Kind::User => users
                .get(&UserKey(id, Scope::Live))
                .cloned()
                .flatten()
                .map(NodeRow::User),
            Kind::Attachment => attachments
                .get(&AttachmentKey(id, Scope::Live))
                .cloned()
                .flatten()
                .filter(|a| may_see(viewer, a))
                .map(NodeRow::Attachment),
            Kind::Deletion => deletions
                .get(&DeletionKey(id))
                .cloned()
                .map(NodeRow::Deletion),
        })
        .collect())
}

/// The object `(kind, id)` names, if the viewer may see it.
async fn lookup(
    rows: &impl Rows,
    viewer: &Viewer,
    (kind, id): (Kind, i64),
) -> Result<Option<NodeRow>> {
    Ok(match kind {
        Kind::User => rows
            .user(UserKey(id, Scope::Live))
            .await?
            .map(NodeRow::User),
        Kind::Attachment => rows
            .attachment(AttachmentKey(id, Scope::Live))
            .await?
            .filter(|a| may_see(viewer, a))
            .map(NodeRow::Attachment),
        Kind::Deletion if reads_log(viewer) => {
            rows.deletion(DeletionKey(id)).await?.map(NodeRow::Deletion)
        }
        Kind::Deletion => None,
    })
}
