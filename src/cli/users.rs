//! `keepsake user add` and `keepsake token`: creating a user, and signing a bearer token for
//! a live one.

use super::{Target, client_error};
use crate::app;
use crate::auth::Role;
use crate::duration;
use crate::ids::{self, Kind};
use crate::service::users;
use crate::soft_delete::Scope;

/// `keepsake user add`: creates the user and prints its id on the last line.
pub(super) async fn add(
    target: &Target,
    email: String,
    name: String,
    role: &str,
) -> anyhow::Result<()> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow::anyhow!("--role: '{role}' is not a role; use member, support or admin")
    })?;
    let db = target.connect().await?;
    let user = users::insert(&db, users::NewUser { email, name, role })
        .await
        .map_err(client_error)?;
    println!("created {} {} ({})", role.as_str(), user.email, user.name);
    println!("{}", ids::encode(Kind::User, user.id));
    Ok(())
}

/// `keepsake token`: prints a signed token for the live user named by `user` (an id) or
/// `email`, valid for `ttl`.
pub(super) async fn token(
    target: &Target,
    user: Option<String>,
    email: Option<String>,
    ttl: &str,
) -> anyhow::Result<()> {
    let ttl = duration::parse(ttl).map_err(|problem| anyhow::anyhow!("--ttl: {problem}"))?;
    let by_id = user
        .map(|user| {
            ids::decode(Kind::User, &user).map(|id| (id, user.clone())).map_err(|_| {
                anyhow::anyhow!(
                    "--user: '{user}' is not a user id (use the id `user add` printed, or --email)"
                )
            })
        })
        .transpose()?;
    let db = target.connect().await?;
    let id = match (by_id, email) {
        (Some((id, user)), _) => {
            users::get(&db, Scope::Live, id)
                .await
                .map_err(client_error)?
                .ok_or_else(|| anyhow::anyhow!("--user: no live user has the id {user}"))?;
            id
        }
        (None, Some(email)) => {
            users::find_by_email(&db, &email)
                .await
                .map_err(client_error)?
                .ok_or_else(|| anyhow::anyhow!("--email: no live user has the email {email}"))?
                .id
        }
        (None, None) => anyhow::bail!("name the user with --user ID or --email EMAIL"),
    };
    let tokens = app::load_tokens(&db, target.settings.jwt_secret.as_deref()).await?;
    println!("{}", tokens.issue(id, ttl)?);
    Ok(())
}
