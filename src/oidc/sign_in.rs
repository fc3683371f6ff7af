//! Who a verified token of the issuer is: the user of its (`iss`, `sub`), created from its
//! `email` and `name` claims on first sight. With a role claim configured, each sign-in writes
//! the claim's role to the user's row; the request's role is still read from that row.

use sea_orm::{ColumnTrait as _, Set, SqlErr};

use super::{Identity, Issuer};
use crate::entity::user;
use crate::error::{Error, Result};
use crate::role::Role;
use crate::soft_delete::{self, Db, IdentityUser, Scoped};

/// The longest name kept from a token (the column's width).
const NAME_CHARS: usize = 200;

impl Issuer {
    /// The live user `identity` speaks for, created or linked on first sight, with the role
    /// the claim grants written to its row. A deleted user is `UNAUTHENTICATED`, as with
    /// Keepsake's own tokens.
    pub async fn sign_in(&self, db: &Db, identity: &Identity) -> Result<user::Model> {
        let claimed = self
            .role_claim
            .as_ref()
            .map(|claim| claim.role(&identity.claims));
        let found = soft_delete::identity_user(db, &self.issuer, &identity.subject).await?;
        let user = match found {
            Some(IdentityUser::Live(user)) => user,
            Some(IdentityUser::Deleted) => return Err(gone()),
            None => match self.first_sight(db, identity, claimed).await {
                Ok(user) => user,
                // A concurrent first sign-in of the same person won the race: theirs is ours.
                Err(err) => {
                    match soft_delete::identity_user(db, &self.issuer, &identity.subject).await? {
                        Some(IdentityUser::Live(user)) => user,
                        Some(IdentityUser::Deleted) => return Err(gone()),
                        None => return Err(err),
                    }
                }
            },
        };
        match claimed {
            Some(role) if role.as_str() != user.role => set_role(db, user, role).await,
            _ => Ok(user),
        }
    }

    /// The user for an identity never seen: a new member (or the claim's role) from the
    /// token's email and name, or, when `KEEPSAKE_OIDC_LINK_BY_EMAIL` allows it, the live user
    /// who holds that email.
    async fn first_sight(
        &self,
        db: &Db,
        identity: &Identity,
        claimed: Option<Role>,
    ) -> Result<user::Model> {
        let refused = |why: &str| Error::Unauthenticated(format!("cannot sign in: {why}"));
        if identity.email_verified == Some(false) {
            return Err(refused(
                "the identity provider says the token's email is not verified (email_verified)",
            ));
        }
        let email = identity
            .email
            .as_deref()
            .map(|email| email.trim().to_lowercase())
            .filter(|email| plausible_email(email))
            .ok_or_else(|| {
                refused(
                    "the token has no usable email claim; Keepsake makes a user from it (ask \
                     for the `email` scope)",
                )
            })?;
        let holder = Scoped::<user::Entity>::live()
            .filter(user::Column::Email.eq(email.clone()))
            .one(db)
            .await?;
        if let Some(holder) = holder {
            if !self.link_by_email {
                return Err(refused(
                    "another account already holds this email; an admin may allow linking \
                     (KEEPSAKE_OIDC_LINK_BY_EMAIL) or change that account's email",
                ));
            }
            soft_delete::link_identity(db, &self.issuer, &identity.subject, holder.id).await?;
            tracing::info!(
                user = holder.id,
                "linked an identity provider's user by email"
            );
            return Ok(holder);
        }
        let name = identity
            .name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default())
            .chars()
            .take(NAME_CHARS)
            .collect::<String>();
        let now = soft_delete::now();
        let row = user::ActiveModel {
            email: Set(email),
            name: Set(name),
            role: Set(claimed.unwrap_or(Role::Member).as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        match soft_delete::provision(db, &self.issuer, &identity.subject, row).await {
            Ok(user) => {
                tracing::info!(
                    user = user.id,
                    "created a user for an identity provider's user"
                );
                Ok(user)
            }
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(refused("another account already holds this email"))
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// What a deleted user's token is told, as with Keepsake's own tokens.
fn gone() -> Error {
    Error::Unauthenticated("the token's user no longer exists".into())
}

/// The role of the claim written to the live row (a concurrent delete wins: `UNAUTHENTICATED`).
async fn set_role(db: &Db, user: user::Model, role: Role) -> Result<user::Model> {
    let row = user::ActiveModel {
        id: Set(user.id),
        role: Set(role.as_str().to_owned()),
        updated_at: Set(soft_delete::now()),
        ..Default::default()
    };
    tracing::info!(user = user.id, from = %user.role, to = role.as_str(), "the role claim changed a user's role");
    soft_delete::update_live(db, row).await?.ok_or_else(gone)
}

/// An address Keepsake can keep: one `@` with text on both sides, no spaces, 320 at most.
fn plausible_email(email: &str) -> bool {
    email.len() <= 320
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
}
