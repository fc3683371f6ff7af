//! The `user_identities` table: a user's identity at an external OpenID Connect issuer (the
//! token's `iss` and `sub`). Owned by `soft_delete::identities`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_identities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The issuer's URL, as its tokens' `iss`.
    pub issuer: String,
    /// The user's id at that issuer, as its tokens' `sub`.
    pub subject: String,
    /// `users.id`; the row goes with a purged user.
    pub user_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
