//! Soft deletes: a user with its attachments, or attachments in bulk, as one deletion.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait as _, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryTrait as _, Set,
};

use super::events::{self, EventType};
use super::{EntityKind, Handle, SoftDeletable, Stored as _, Tx, exec, to_micros};
use crate::entity::{attachment, deletion, user};

/// Who deletes or restores, when and why.
#[derive(Clone, Debug)]
pub struct Stamp {
    /// The acting user's id.
    pub actor: i64,
    /// The reason given, if any.
    pub reason: Option<String>,
    /// The moment of the change ([`super::now`]; written at microseconds whatever it holds).
    pub at: DateTimeUtc,
}

/// Marks the live rows of `E` matching `condition` as hidden by `deletion`; returns how many.
async fn mark_deleted<E: SoftDeletable>(
    h: &impl Handle,
    condition: Condition,
    deletion: i64,
    stamp: &Stamp,
) -> Result<u64, DbErr> {
    #[allow(clippy::disallowed_methods)] // set-based soft delete, the core's own write
    let update = E::update_many();
    let result = update
        .col_expr(E::deleted_at_column(), Expr::val(to_micros(stamp.at)))
        .col_expr(E::deleted_by_column(), Expr::val(stamp.actor))
        .col_expr(E::deletion_id_column(), Expr::val(deletion))
        .filter(E::deleted_at_column().is_null())
        .filter(condition)
        .exec(&exec(h))
        .await?;
    Ok(result.rows_affected)
}

/// Logs a new deletion and writes its `deletion.created` event (on PostgreSQL in one
/// statement); the transaction is dropped, event and all, if the deletion then finds nothing.
async fn log_deletion(
    tx: &Tx,
    kind: EntityKind,
    entity_id: i64,
    stamp: &Stamp,
) -> Result<deletion::Model, DbErr> {
    let row = deletion::ActiveModel {
        entity: Set(kind.as_str().to_owned()),
        entity_id: Set(entity_id),
        actor_id: Set(Some(stamp.actor)),
        reason: Set(stamp.reason.clone()),
        deleted_at: Set(stamp.at),
        cascade_count: Set(0),
        ..Default::default()
    }
    .stored();
    if exec(tx).get_database_backend() == DbBackend::Postgres {
        let insert = deletion::Entity::insert(row).build(DbBackend::Postgres);
        return events::write_with_event(tx, insert, EventType::DeletionCreated, stamp.at)
            .await?
            .ok_or_else(|| DbErr::Custom("logging a deletion wrote no row".into()));
    }
    let logged = row.insert(&exec(tx)).await?;
    events::record(tx, EventType::DeletionCreated, logged.id, logged.deleted_at).await?;
    Ok(logged)
}

/// Records how many rows the deletion took besides the one asked for.
async fn set_cascade_count(
    tx: &Tx,
    logged: deletion::Model,
    cascade_count: u64,
) -> Result<deletion::Model, DbErr> {
    let cascade_count = i64::try_from(cascade_count).unwrap_or(i64::MAX);
    // Logged with 0: a deletion of one row alone (the common case) needs no update.
    if cascade_count == logged.cascade_count {
        return Ok(logged);
    }
    let mut row = logged.into_active_model();
    row.cascade_count = Set(cascade_count);
    row.update(&exec(tx)).await
}

/// Soft-deletes live user `id` and, in the same transaction, its live attachments, all
/// stamped with one new deletion whose `cascade_count` is the attachments hidden, with its
/// `deletion.created` event. `None` when the user is not live (the caller's transaction must
/// then be dropped).
pub async fn delete_user(
    tx: &Tx,
    id: i64,
    stamp: &Stamp,
) -> Result<Option<deletion::Model>, DbErr> {
    let logged = log_deletion(tx, EntityKind::User, id, stamp).await?;
    let hidden = mark_deleted::<user::Entity>(
        tx,
        Condition::all().add(user::Column::Id.eq(id)),
        logged.id,
        stamp,
    )
    .await?;
    if hidden != 1 {
        return Ok(None);
    }
    let cascaded = mark_deleted::<attachment::Entity>(
        tx,
        Condition::all().add(attachment::Column::OwnerId.eq(id)),
        logged.id,
        stamp,
    )
    .await?;
    Ok(Some(set_cascade_count(tx, logged, cascaded).await?))
}

/// Soft-deletes the live attachments `ids` (distinct, non-empty) as one deletion, logged
/// under the first id with `cascade_count` the others, with its `deletion.created` event.
/// `None` when any is not live (the caller's transaction must then be dropped).
pub async fn delete_attachments(
    tx: &Tx,
    ids: &[i64],
    stamp: &Stamp,
) -> Result<Option<deletion::Model>, DbErr> {
    let Some(&first) = ids.first() else {
        return Ok(None);
    };
    let logged = log_deletion(tx, EntityKind::Attachment, first, stamp).await?;
    let hidden = mark_deleted::<attachment::Entity>(
        tx,
        Condition::all().add(attachment::Column::Id.is_in(ids.iter().copied())),
        logged.id,
        stamp,
    )
    .await?;
    if hidden != ids.len() as u64 {
        return Ok(None);
    }
    Ok(Some(set_cascade_count(tx, logged, hidden - 1).await?))
}
