//! Single-row writes and lookups: insert, update a *live* row, which deletion hides a row.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter,
};

use super::{Handle, Scoped, SoftDeletable, Stored, Tx, exec};
use crate::entity::user;
use crate::role::Role;

/// Inserts a row ([`Stored`]: its folded columns set, its timestamps at microseconds) and
/// returns it as stored.
pub async fn insert<A>(h: &impl Handle, row: A) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
where
    A: ActiveModelTrait + ActiveModelBehavior + Stored + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    row.stored().insert(&exec(h)).await
}

/// Updates a *live* row ([`Stored`]: the folded column of each text it changes set with it)
/// and returns it as stored, or `None` when the row is deleted or gone (a concurrent delete
/// wins; the update never touches a deleted row).
pub async fn update_live<A>(
    h: &impl Handle,
    row: A,
) -> Result<Option<<A::Entity as EntityTrait>::Model>, DbErr>
where
    A: ActiveModelTrait + ActiveModelBehavior + Stored + Send,
    A::Entity: SoftDeletable,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let update = A::Entity::update(row.stored())
        .validate()?
        .filter(<A::Entity as SoftDeletable>::deleted_at_column().is_null());
    match update.exec(&exec(h)).await {
        Ok(model) => Ok(Some(model)),
        Err(DbErr::RecordNotUpdated) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether a live user has this role.
pub async fn live_user_with_role_exists(h: &impl Handle, role: Role) -> Result<bool, DbErr> {
    Ok(Scoped::<user::Entity>::live()
        .filter(user::Column::Role.eq(role.as_str()))
        .one(h)
        .await?
        .is_some())
}

/// What became of one row: gone, live, or hidden by a deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    /// No such row (never existed, or purged).
    Missing,
    /// The row is live.
    Live,
    /// The row is hidden by this deletion.
    HiddenBy(i64),
}

/// The [`RowState`] of row `id` of `E`. Tells nothing else of a deleted row, so restore
/// paths can find what to undo without a wide scope.
pub async fn row_state<E: SoftDeletable>(tx: &Tx, id: i64) -> Result<RowState, DbErr> {
    // No row lock: restores and purges serialise on the deletion's row, which the caller
    // locks next (locking the row first would order locks against the purge's).
    #[allow(clippy::disallowed_methods)] // reads only the deletion id of one row
    let select = E::find();
    let row = select.filter(E::id_column().eq(id)).one(&exec(tx)).await?;
    Ok(match row.as_ref().map(E::deletion_id_of) {
        None => RowState::Missing,
        Some(None) => RowState::Live,
        Some(Some(deletion)) => RowState::HiddenBy(deletion),
    })
}
