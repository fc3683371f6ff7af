//! The roles table as code: what each role may do, and how far (nothing, its own, anyone's).
//! Every role check of the service goes through [`may`] or [`require`]; the table is unit
//! tested row by row against the README's "Roles" table, so the two cannot drift apart.
//!
//! Two rules sit beside the table, in the functions that need them: a member's undo lasts
//! the undo window (`restore.rs`), and a member knows only the deletions they made of their
//! own rows (`restore.rs`, `undo.rs`). Reading deleted rows also needs the `SeeDeleted` proof
//! (`auth::Viewer::see_deleted`), which follows the same table.

use crate::auth::{Role, Viewer};
use crate::error::{Error, Result};

/// Each capability of the README's roles table, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read live users (id, name, role, createdAt).
    ReadUsers,
    /// Read a user's email.
    ReadEmail,
    /// Read attachments.
    ReadAttachments,
    /// Ask with `includeDeleted` or `onlyDeleted`.
    SeeDeleted,
    /// Create users and change roles.
    ManageUsers,
    /// Update a user's name.
    UpdateName,
    /// Update a user's email.
    UpdateEmail,
    /// Create attachments (and upload their bytes).
    CreateAttachments,
    /// Delete users and attachments.
    Delete,
    /// Restore deletions.
    Restore,
    /// Read the deletion log and its statistics.
    ReadLog,
    /// Purge deleted rows and read the archive.
    Purge,
    /// See the webhook's pending deliveries.
    ReadWebhooks,
    /// Read legal holds (`User.legalHold`, `User.legalHolds`).
    ReadHolds,
    /// Place and release legal holds.
    Hold,
    /// Erase a user's personal data for good (`eraseUser`).
    Erase,
}

/// How far a role's right reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Not at all.
    No,
    /// Its own rows only (its account, the attachments it owns, the deletions it made).
    Own,
    /// Anyone's.
    All,
}

/// The table.
pub const fn reach(role: Role, action: Action) -> Reach {
    use Action::*;
    use Reach::*;
    match (action, role) {
        (ReadUsers, _) => All,
        (ReadEmail | ReadAttachments, Role::Member) => Own,
        (ReadEmail | ReadAttachments, Role::Support | Role::Admin) => All,
        (SeeDeleted | ReadLog | ReadHolds, Role::Member) => No,
        (SeeDeleted | ReadLog | ReadHolds, Role::Support | Role::Admin) => All,
        (ManageUsers | UpdateEmail | Purge | ReadWebhooks | Hold, Role::Member | Role::Support) => {
            No
        }
        (UpdateName | CreateAttachments, Role::Member | Role::Support) => Own,
        (Delete | Restore | Erase, Role::Member) => Own,
        (Delete | Restore | Erase, Role::Support) => No,
        (_, Role::Admin) => All,
    }
}

/// Whether `viewer` may do `action` to something `owner` owns (`None`: nobody's in
/// particular, as for a listing of everything or the log).
pub fn may(viewer: &Viewer, action: Action, owner: Option<i64>) -> bool {
    match reach(viewer.role(), action) {
        Reach::All => true,
        Reach::Own => owner == Some(viewer.id()),
        Reach::No => false,
    }
}

/// Whether `viewer` knows of every deletion (reads the whole log); anyone else knows only
/// the deletions they made of their own rows.
pub fn knows_every_deletion(viewer: &Viewer) -> bool {
    reach(viewer.role(), Action::ReadLog) == Reach::All
}

/// [`may`], or `FORBIDDEN` with `refusal` as its message.
pub fn require(viewer: &Viewer, action: Action, owner: Option<i64>, refusal: &str) -> Result<()> {
    if may(viewer, action, owner) {
        Ok(())
    } else {
        Err(Error::forbidden(refusal.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action a row of the README's table names.
    fn action_of(capability: &str) -> Option<Action> {
        use Action::*;
        let c = capability;
        Some(if c.contains("placeLegalHold") {
            Hold
        } else if c.contains("legalHold") {
            ReadHolds
        } else if c.starts_with("read live users") {
            ReadUsers
        } else if c.starts_with("read a user's email") {
            ReadEmail
        } else if c.starts_with("read attachments") {
            ReadAttachments
        } else if c.contains("includeDeleted") {
            SeeDeleted
        } else if c.starts_with("create users") {
            ManageUsers
        } else if c.starts_with("update a user") {
            UpdateName
        } else if c.starts_with("create attachments") {
            CreateAttachments
        } else if c.starts_with("delete") {
            Delete
        } else if c.starts_with("restore") {
            Restore
        } else if c.contains("deletions") {
            ReadLog
        } else if c.starts_with("purge") {
            Purge
        } else if c.contains("webhookDeliveries") {
            ReadWebhooks
        } else if c.starts_with("erase") {
            Erase
        } else {
            return None;
        })
    }

    /// A cell of the table: `yes`, `all`, `anything`, `anyone…` reach all; `own…` its own;
    /// `no` and `FORBIDDEN` nothing.
    fn reach_of(cell: &str) -> Reach {
        let cell = cell.trim();
        if cell == "no" || cell == "FORBIDDEN" {
            Reach::No
        } else if cell.starts_with("own") {
            Reach::Own
        } else if cell == "yes" || cell == "all" || cell.starts_with("any") {
            Reach::All
        } else {
            panic!("a cell of the roles table this test does not read: {cell:?}")
        }
    }

    #[test]
    fn the_table_is_the_readme_roles_table_row_by_row() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("| capability | member | support | admin |")
            .nth(1)
            .expect("the README's roles table");
        let mut seen = Vec::new();
        for line in table.lines().skip(2) {
            let cells: Vec<&str> = line.split('|').collect();
            if !line.starts_with('|') || cells.len() < 5 {
                break;
            }
            let action = action_of(cells[1].trim())
                .unwrap_or_else(|| panic!("a row this test does not know: {line}"));
            for (role, cell) in [Role::Member, Role::Support, Role::Admin]
                .iter()
                .zip(&cells[2..5])
            {
                assert_eq!(
                    reach(*role, action),
                    reach_of(cell),
                    "{role:?} may {action:?}: the README says {cell:?}"
                );
            }
            seen.push(action);
        }
        // Every action but one has its row; the README puts the email beside the name
        // ("anyone (email and role too)", "own name"): members and support change no email.
        for action in [
            Action::ReadUsers,
            Action::ReadEmail,
            Action::ReadAttachments,
            Action::SeeDeleted,
            Action::ManageUsers,
            Action::UpdateName,
            Action::CreateAttachments,
            Action::Delete,
            Action::Restore,
            Action::ReadLog,
            Action::Purge,
            Action::ReadWebhooks,
            Action::ReadHolds,
            Action::Hold,
            Action::Erase,
        ] {
            assert!(seen.contains(&action), "no row for {action:?}");
        }
        let update = table
            .lines()
            .find(|line| line.starts_with("| update a user"))
            .expect("the update row");
        assert!(update.contains("| own name | own name | anyone (email and role too) |"));
        for role in [Role::Member, Role::Support] {
            assert_eq!(reach(role, Action::UpdateEmail), Reach::No);
        }
        assert_eq!(reach(Role::Admin, Action::UpdateEmail), Reach::All);
    }

    #[test]
    fn own_reaches_only_ones_own_rows() {
        let member = Viewer::for_tests(7, Role::Member);
        assert!(may(&member, Action::Delete, Some(7)));
        assert!(!may(&member, Action::Delete, Some(8)));
        assert!(!may(&member, Action::Delete, None));
        let support = Viewer::for_tests(7, Role::Support);
        assert!(!may(&support, Action::Delete, Some(7)));
        assert!(may(&support, Action::ReadAttachments, Some(8)));
        let admin = Viewer::for_tests(7, Role::Admin);
        assert!(may(&admin, Action::Purge, None));
        assert!(require(&member, Action::Purge, None, "only an admin may purge").is_err());
    }
}
