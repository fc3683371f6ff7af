//! Users: reads under the role table, creation and updates.

use sea_orm::{ColumnTrait, Set};

use crate::auth::{Role, Viewer};
use crate::entity::user;
use crate::error::{Error, LIVE_USER_EMAIL, Result, ResultExt};
use crate::ids::{self, Kind};
use crate::service::keys::{Rows, UserKey};
use crate::service::permissions::{Action, may, require};
use crate::service::{InScope, Listing, PageArgs, PageRequest, Total, required_text};
use crate::soft_delete::{self, Handle, Scope, Scoped};

/// A user to create.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
}

/// Normalises an email (trimmed, lower-case) and checks its shape: a local part of at most
/// 64 characters (letters, digits and ``!#$%&'*+/=?^_`{|}~.-``, no leading, trailing or
/// doubled dot) and a domain of dot-separated labels (letters, digits, inner hyphens; at
/// most 63 characters each, 253 in all). `admin@localhost` is fine; quoted local parts and
/// IP literals are not accepted.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = required_text("email", email, 320)?.to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => valid_local_part(local) && valid_domain(domain),
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(Error::bad_input(format!(
            "email: '{email}' is not an email address like name@example.com"
        )))
    }
}

fn valid_local_part(local: &str) -> bool {
    let allowed = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    (1..=64).contains(&local.chars().count())
        && local.chars().all(allowed)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn valid_domain(domain: &str) -> bool {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.chars().count())
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    domain.chars().count() <= 253 && domain.split('.').all(label_ok)
}

fn email_taken(email: &str) -> impl FnOnce() -> String + '_ {
    move || format!("email: {email} is already used by another user")
}

/// `User.email`: readable by the user themself, support and admins; `FORBIDDEN` to anyone
/// else.
pub fn email<'a>(viewer: &Viewer, user: &'a user::Model) -> Result<&'a str> {
    if may(viewer, Action::ReadEmail, Some(user.id)) {
        Ok(&user.email)
    } else {
        Err(Error::forbidden(
            "email: only the user themself, support and admins may read it",
        ))
    }
}

/// `User.role`: the stored role; an unknown one is an internal error.
pub fn role(user: &user::Model) -> Result<Role> {
    Role::parse(&user.role).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "user {} has an unknown role {:?}",
            user.id,
            user.role
        ))
    })
}

/// `me`: the viewer's own live row.
pub async fn me(h: &impl Handle, viewer: &Viewer) -> Result<Option<user::Model>> {
    get(h, Scope::Live, viewer.id()).await
}

/// `user(id, includeDeleted)`: the user with this global id, if the viewer's scope shows it.
pub async fn find(
    rows: &impl Rows,
    viewer: &Viewer,
    id: &str,
    include_deleted: bool,
) -> Result<Option<InScope<user::Model>>> {
    let scope = viewer.scope(include_deleted, false)?;
    let id = ids::decode(Kind::User, id)?;
    let found = rows.user(UserKey(id, scope)).await?;
    Ok(found.map(|row| InScope { row, scope }))
}

/// The user with this id, if `scope` shows it.
pub async fn get(h: &impl Handle, scope: Scope, id: i64) -> Result<Option<user::Model>> {
    Ok(Scoped::<user::Entity>::new(scope).by_id(h, id).await?)
}

/// The live user with this email.
pub async fn find_by_email(h: &impl Handle, email: &str) -> Result<Option<user::Model>> {
    let email = normalize_email(email)?;
    Ok(Scoped::<user::Entity>::live()
        .filter(user::Column::Email.eq(email))
        .one(h)
        .await?)
}

/// `users`: every user the scope shows is listed to every signed-in viewer (names are
/// public; emails are not).
pub async fn list(
    h: &impl Handle,
    viewer: &Viewer,
    include_deleted: bool,
    only_deleted: bool,
    page: PageArgs<'_>,
) -> Result<Listing<user::Model>> {
    let scope = viewer.scope(include_deleted, only_deleted)?;
    let page = PageRequest::parse(page)?;
    let query = Scoped::<user::Entity>::new(scope);
    let found = query.clone().page(h, page).await?;
    Ok(Listing::of(found, page, scope, Total::Users(query)))
}

/// Creates a user, without a permission check: for the CLI and first start.
pub async fn insert(h: &impl Handle, new: NewUser) -> Result<user::Model> {
    let email = normalize_email(&new.email)?;
    let name = required_text("name", &new.name, 200)?;
    let now = soft_delete::now();
    let row = user::ActiveModel {
        email: Set(email.clone()),
        name: Set(name),
        role: Set(new.role.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    soft_delete::insert(h, row)
        .await
        .on_constraint(LIVE_USER_EMAIL, email_taken(&email))
}

/// `createUser`: admins only.
pub async fn create(h: &impl Handle, viewer: &Viewer, new: NewUser) -> Result<user::Model> {
    require(
        viewer,
        Action::ManageUsers,
        None,
        "only an admin may create users",
    )?;
    insert(h, new).await
}

/// `updateUser`: the user themself or an admin; only an admin changes a role.
pub async fn update(
    h: &impl Handle,
    viewer: &Viewer,
    id: i64,
    changes: UserChanges,
) -> Result<user::Model> {
    require(
        viewer,
        Action::UpdateName,
        Some(id),
        "you may update only your own account",
    )?;
    if changes.role.is_some() {
        require(
            viewer,
            Action::ManageUsers,
            None,
            "only an admin may change a role",
        )?;
    }
    // A member who could set their own email would learn from a `CONFLICT` which addresses
    // other live users hold. Emails are changed by admins (who see every email anyway).
    if changes.email.is_some() {
        require(
            viewer,
            Action::UpdateEmail,
            Some(id),
            "only an admin may change an email address; ask one to change yours",
        )?;
    }
    let mut row = user::ActiveModel {
        id: Set(id),
        updated_at: Set(soft_delete::now()),
        ..Default::default()
    };
    let mut email = String::new();
    if let Some(new_email) = &changes.email {
        email = normalize_email(new_email)?;
        row.email = Set(email.clone());
    }
    if let Some(name) = &changes.name {
        row.name = Set(required_text("name", name, 200)?);
    }
    if let Some(role) = changes.role {
        row.role = Set(role.as_str().to_owned());
    }
    soft_delete::update_live(h, row)
        .await
        .on_constraint(LIVE_USER_EMAIL, email_taken(&email))?
        .ok_or_else(|| Error::not_found(format!("no user with id {}", ids::encode(Kind::User, id))))
}
