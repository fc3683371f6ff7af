//! A role from a token's claim: `KEEPSAKE_OIDC_ROLE_CLAIM` is a JSON pointer into the token's
//! claims (`/realm_access/roles`, `/https:~1~1example.com~1role`) whose value is a role name
//! or a list of them, any case; the most powerful one that `KEEPSAKE_OIDC_ROLES` allows wins.

use serde_json::Value;

use crate::role::Role;

/// Where a token's role is read, and which roles a token may grant.
#[derive(Clone, Debug)]
pub struct RoleClaim {
    pub pointer: String,
    pub allowed: Vec<Role>,
}

impl RoleClaim {
    /// The role the claims grant: the most powerful allowed role named at the pointer, or
    /// `member` when it names none (missing, another type, only roles not allowed), so a
    /// role taken away at the provider is taken away here at the next sign-in.
    pub fn role(&self, claims: &Value) -> Role {
        let names: Vec<&str> = match claims.pointer(&self.pointer) {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        names
            .into_iter()
            .filter_map(Role::parse)
            .filter(|role| self.allowed.contains(role))
            .max()
            .unwrap_or(Role::Member)
    }
}

/// `KEEPSAKE_OIDC_ROLES`: comma-separated role names; an unknown one is named in the error.
pub fn parse_allowed(list: &str) -> Result<Vec<Role>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            Role::parse(name)
                .ok_or_else(|| format!("'{name}' is not a role (member, support or admin)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claim(pointer: &str, allowed: &str) -> RoleClaim {
        RoleClaim {
            pointer: pointer.into(),
            allowed: parse_allowed(allowed).unwrap(),
        }
    }

    #[test]
    fn the_most_powerful_allowed_role_wins() {
        let roles = claim("/realm_access/roles", "member,support");
        let token = |roles: Value| json!({ "realm_access": { "roles": roles } });
        assert_eq!(
            roles.role(&token(json!(["offline_access", "SUPPORT"]))),
            Role::Support
        );
        assert_eq!(roles.role(&token(json!("Support"))), Role::Support);
        assert_eq!(roles.role(&token(json!(["admin", "member"]))), Role::Member);
        assert_eq!(roles.role(&token(json!(["admin"]))), Role::Member);
        assert_eq!(roles.role(&token(json!(42))), Role::Member);
        assert_eq!(roles.role(&json!({})), Role::Member);
        let admins = claim("/https:~1~1example.com~1role", "member,support,admin");
        assert_eq!(
            admins.role(&json!({ "https://example.com/role": ["support", "Admin"] })),
            Role::Admin
        );
    }

    #[test]
    fn an_unknown_role_name_is_named() {
        let err = parse_allowed("member, superuser").unwrap_err();
        assert!(err.contains("'superuser'"), "{err}");
    }
}
