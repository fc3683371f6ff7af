//! `user_identities`: the user a token of an external issuer speaks for, by the token's
//! (`iss`, `sub`); a first sign-in creates the user and its identity in one transaction.

use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, Set};

use super::{Db, Handle, Scoped, Tx, exec, insert, now};
use crate::entity::{user, user_identity};

/// What an identity's user is now.
#[derive(Clone, Debug)]
pub enum IdentityUser {
    /// Live: this row.
    Live(user::Model),
    /// Soft-deleted (a purged user's identity goes with its row).
    Deleted,
}

/// The user of (`issuer`, `subject`), if the identity is known.
pub async fn identity_user(
    h: &impl Handle,
    issuer: &str,
    subject: &str,
) -> Result<Option<IdentityUser>, DbErr> {
    #[allow(clippy::disallowed_methods)] // not a soft-deletable table
    let select = user_identity::Entity::find();
    let Some(identity) = select
        .filter(user_identity::Column::Issuer.eq(issuer))
        .filter(user_identity::Column::Subject.eq(subject))
        .one(&exec(h))
        .await?
    else {
        return Ok(None);
    };
    // The identity exists, so the user's row does (the foreign key cascades a purge): not
    // live means deleted.
    Ok(Some(
        match Scoped::<user::Entity>::live()
            .by_id(h, identity.user_id)
            .await?
        {
            Some(user) => IdentityUser::Live(user),
            None => IdentityUser::Deleted,
        },
    ))
}

/// Creates the user `row` and its identity (`issuer`, `subject`) in one transaction. A
/// concurrent first sign-in of the same identity, or a live user with the same email, fails
/// it on a unique index and nothing is written.
pub async fn provision(
    db: &Db,
    issuer: &str,
    subject: &str,
    row: user::ActiveModel,
) -> Result<user::Model, DbErr> {
    let tx = db.begin().await?;
    let user = insert(&tx, row).await?;
    link_in(&tx, issuer, subject, user.id).await?;
    tx.commit().await?;
    Ok(user)
}

/// Records that (`issuer`, `subject`) is the existing user `user_id`.
pub async fn link_identity(
    h: &impl Handle,
    issuer: &str,
    subject: &str,
    user_id: i64,
) -> Result<(), DbErr> {
    link_in(h, issuer, subject, user_id).await
}

async fn link_in(h: &impl Handle, issuer: &str, subject: &str, user_id: i64) -> Result<(), DbErr> {
    user_identity::ActiveModel {
        issuer: Set(issuer.to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(user_id),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&exec(h))
    .await?;
    Ok(())
}

/// Forgets which identities user `user_id` had (an erasure's: the provider's id of a person is
/// theirs too). The person's next sign-in makes a new user.
pub(super) async fn forget_identities(tx: &Tx, user_id: i64) -> Result<(), DbErr> {
    #[allow(clippy::disallowed_methods)] // not a soft-deletable table
    let delete = user_identity::Entity::delete_many();
    delete
        .filter(user_identity::Column::UserId.eq(user_id))
        .exec(&exec(tx))
        .await?;
    Ok(())
}
