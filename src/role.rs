//! What a user may do: the role stored in `users.role` (docs/DESIGN.md#roles). A leaf: the core grants
//! the [`crate::soft_delete::SeeDeleted`] proof by role, and `auth` reads it from the live row.

/// What a user may do (the README's roles table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Support,
    Admin,
}

impl Role {
    /// The value stored in `users.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "member" => Some(Role::Member),
            "support" => Some(Role::Support),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}
