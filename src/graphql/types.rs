//! The schema's object types as plain values: a row and the scope it was read in (and what
//! else its fields need). Their fields are resolved in their own files (`user/`,
//! `attachment/`, `deletion.rs`); here they are only built, so those files import this one
//! and never each other.

use crate::entity::{attachment, deletion, user};
use crate::error::{Error, Result};
use crate::service::{InScope, undo};
use crate::soft_delete::{Columns, Scope, SeeHidden};

use super::connection::connection;

/// A person who keeps attachments.
#[derive(Clone, Debug)]
pub struct User {
    pub(crate) row: user::Model,
    /// The scope this user was read in; its children inherit it.
    pub(crate) scope: Scope,
}

impl User {
    pub(crate) fn new(row: user::Model, scope: Scope) -> User {
        User { row, scope }
    }

    pub(crate) fn row_id(&self) -> i64 {
        self.row.id
    }
}

impl From<InScope<user::Model>> for User {
    fn from(found: InScope<user::Model>) -> User {
        User::new(found.row, found.scope)
    }
}

/// A file's metadata, kept by its owner.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub(crate) row: attachment::Model,
    /// The scope this attachment was read in; its owner inherits it.
    pub(crate) scope: Scope,
    /// The columns `row` was read with. A field whose column was not read answers an
    /// internal error, never the default that stands in the model for it.
    pub(super) columns: Columns<attachment::Entity>,
}

impl Attachment {
    /// An attachment read with every column.
    pub(crate) fn new(row: attachment::Model, scope: Scope) -> Attachment {
        Attachment::read_with(row, scope, Columns::all())
    }

    /// An attachment read with only `columns` (`attachment::columns_for` its selection).
    pub(crate) fn read_with(
        row: attachment::Model,
        scope: Scope,
        columns: Columns<attachment::Entity>,
    ) -> Attachment {
        Attachment {
            row,
            scope,
            columns,
        }
    }

    pub(crate) fn row_id(&self) -> i64 {
        self.row.id
    }

    /// Whether the row holds `column`, or the error that says it does not.
    pub(super) fn read(&self, column: attachment::Column) -> Result<()> {
        if self.columns.has(column) {
            return Ok(());
        }
        use sea_orm::IdenStatic as _;
        Err(Error::Internal(anyhow::anyhow!(
            "attachment {} was read without its column `{}`",
            self.row.id,
            column.as_str()
        )))
    }
}

impl From<InScope<attachment::Model>> for Attachment {
    fn from(found: InScope<attachment::Model>) -> Attachment {
        Attachment::new(found.row, found.scope)
    }
}

/// One soft delete: who, when, why, what it hid, and whether it was undone.
#[derive(Clone, Debug)]
pub struct Deletion {
    pub(super) row: deletion::Model,
    /// The scope of the read that reached this entry; `actor` and `restoredBy` inherit it.
    pub(super) scope: Scope,
    /// The undo credential, only in the answer of deleting one's own account.
    pub(super) undo_token: Option<String>,
    /// Proof that the viewer may undo it now (from `recentDeletions`): they may then list
    /// the rows it hides.
    pub(super) undoable: Option<SeeHidden>,
}

impl Deletion {
    pub(crate) fn new(row: deletion::Model, scope: Scope) -> Deletion {
        Deletion {
            row,
            scope,
            undo_token: None,
            undoable: None,
        }
    }

    /// One of `recentDeletions`: the viewer may undo it, and so see what it hides.
    pub(crate) fn undoable(found: undo::Undoable) -> Deletion {
        Deletion {
            undoable: Some(found.proof),
            ..Deletion::new(found.deletion, Scope::Live)
        }
    }

    /// The answer of deleting one's own account, carrying its undo credential.
    pub(crate) fn with_undo_token(self, undo_token: Option<String>) -> Deletion {
        Deletion { undo_token, ..self }
    }

    pub(crate) fn row_id(&self) -> i64 {
        self.row.id
    }
}

connection!(UserConnection, UserEdge, User, "users");

connection!(
    AttachmentConnection,
    AttachmentEdge,
    Attachment,
    "attachments"
);

connection!(DeletionConnection, DeletionEdge, Deletion, "deletions");
