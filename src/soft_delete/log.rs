//! The deletion log and the archive, read back with filters and pages.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Expr, ExprTrait as _, Func, IntoColumnRef, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryTrait, Select,
};

use super::scope::{Order, Window, keyset_page};
use super::{EntityKind, Handle, Page, exec};
use crate::entity::{archive, attachment, deletion, user};

/// Filters on the deletion log.
#[derive(Clone, Debug, Default)]
pub struct DeletionFilter {
    /// Only deletions of this entity.
    pub entity: Option<EntityKind>,
    /// Only deletions by this actor.
    pub actor: Option<i64>,
    /// Only deletions by an actor whose email or name contains this text (ASCII letters in
    /// any case), deleted actors included.
    pub actor_search: Option<String>,
    /// Only deletions at or after this moment.
    pub since: Option<DateTimeUtc>,
    /// Only deletions before this moment.
    pub until: Option<DateTimeUtc>,
    /// Only deletions whose reason contains this text (ASCII letters in any case).
    pub reason: Option<String>,
    /// Only deletions hiding a user whose email or name, or an attachment whose filename,
    /// contains this text (ASCII letters in any case). Restored deletions hide nothing.
    pub search: Option<String>,
    /// Only deletions in force: neither restored nor being purged.
    pub in_force: bool,
    /// Only deletions that hid rows of this user alone (the user themself, or attachments
    /// they own): the condition [`super::hid_only_rows_of`] checks one deletion at a time,
    /// in SQL, so a page of them is one statement.
    pub only_rows_of: Option<i64>,
}

/// `LOWER(column) LIKE '%text%'`, with `%`, `_` and `\` in `text` taken literally.
fn contains(column: impl IntoColumnRef, text: &str) -> SimpleExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Func::lower(Expr::col(column)).like(LikeExpr::new(pattern).escape('\\'))
}

impl DeletionFilter {
    fn select(&self) -> Select<deletion::Entity> {
        #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
        let select = deletion::Entity::find();
        select
            .apply_if(self.entity, |q, e| {
                q.filter(deletion::Column::Entity.eq(e.as_str()))
            })
            .apply_if(self.actor, |q, actor| {
                q.filter(deletion::Column::ActorId.eq(actor))
            })
            .apply_if(self.actor_search.as_deref(), |q, text| {
                q.filter(made_by_a_match(text))
            })
            .apply_if(self.since, |q, at| {
                q.filter(deletion::Column::DeletedAt.gte(at))
            })
            .apply_if(self.until, |q, at| {
                q.filter(deletion::Column::DeletedAt.lt(at))
            })
            .apply_if(self.reason.as_deref(), |q, text| {
                q.filter(contains((deletion::Entity, deletion::Column::Reason), text))
            })
            .apply_if(self.search.as_deref(), |q, text| {
                q.filter(hid_a_match(text))
            })
            .apply_if(self.in_force.then_some(()), |q, ()| {
                q.filter(deletion::Column::RestoredAt.is_null())
                    .filter(deletion::Column::PurgeStartedAt.is_null())
            })
            .apply_if(self.only_rows_of, |q, owner| {
                q.filter(hid_only_rows_of(owner))
            })
    }

    /// The entries `window` takes, newest first (its cursor is an entry's id: forward, the
    /// page holds older entries; backward, newer ones).
    pub async fn page(
        &self,
        h: &impl Handle,
        window: Window,
    ) -> Result<Page<deletion::Model>, DbErr> {
        let select = self.select();
        keyset_page(h, select, deletion::Column::Id, Order::Desc, window).await
    }

    /// How many entries match.
    pub async fn count(&self, h: &impl Handle) -> Result<u64, DbErr> {
        self.select().count(&exec(h)).await
    }
}

/// Deletions that hid rows of `owner` alone, as [`super::hid_only_rows_of`] decides it: a
/// deletion of that user, or of attachments whose first row is theirs and none of whose
/// rows is anyone else's (a restored bulk deletion no longer marks its rows, so it is no
/// one's).
pub(super) fn hid_only_rows_of(owner: i64) -> Condition {
    let d = deletion::Entity;
    let first_is_theirs = Query::select()
        .expr(Expr::val(1))
        .from(attachment::Entity)
        .and_where(
            Expr::col((attachment::Entity, attachment::Column::Id))
                .equals((d, deletion::Column::EntityId)),
        )
        .and_where(Expr::col((attachment::Entity, attachment::Column::OwnerId)).eq(owner))
        .to_owned();
    let someone_elses = Query::select()
        .expr(Expr::val(1))
        .from(attachment::Entity)
        .and_where(
            Expr::col((attachment::Entity, attachment::Column::DeletionId))
                .equals((d, deletion::Column::Id)),
        )
        .and_where(Expr::col((attachment::Entity, attachment::Column::OwnerId)).ne(owner))
        .to_owned();
    let restored_bulk = Condition::all()
        .add(Expr::col((d, deletion::Column::CascadeCount)).gt(0))
        .add(Expr::col((d, deletion::Column::RestoredAt)).is_not_null());
    Condition::any()
        .add(
            Condition::all()
                .add(Expr::col((d, deletion::Column::Entity)).eq(EntityKind::User.as_str()))
                .add(Expr::col((d, deletion::Column::EntityId)).eq(owner)),
        )
        .add(
            Condition::all()
                .add(Expr::col((d, deletion::Column::Entity)).eq(EntityKind::Attachment.as_str()))
                .add(restored_bulk.not())
                .add(Expr::exists(first_is_theirs))
                .add(Expr::exists(someone_elses).not()),
        )
}

/// Deletions made by a user, deleted or not, whose email or name contains `text`.
fn made_by_a_match(text: &str) -> SimpleExpr {
    let users = Query::select()
        .column(user::Column::Id)
        .from(user::Entity)
        .cond_where(
            Condition::any()
                .add(contains((user::Entity, user::Column::Email), text))
                .add(contains((user::Entity, user::Column::Name), text)),
        )
        .to_owned();
    Expr::col((deletion::Entity, deletion::Column::ActorId)).in_subquery(users)
}

/// Deletions that hide a user whose email or name, or an attachment whose filename,
/// contains `text`: the rows still stamped with their deletion, deleted or not purged yet.
fn hid_a_match(text: &str) -> Condition {
    let users = Query::select()
        .column(user::Column::DeletionId)
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::DeletionId)).is_not_null())
        .cond_where(
            Condition::any()
                .add(contains((user::Entity, user::Column::Email), text))
                .add(contains((user::Entity, user::Column::Name), text)),
        )
        .to_owned();
    let attachments = Query::select()
        .column(attachment::Column::DeletionId)
        .from(attachment::Entity)
        .and_where(Expr::col((attachment::Entity, attachment::Column::DeletionId)).is_not_null())
        .and_where(contains(
            (attachment::Entity, attachment::Column::Filename),
            text,
        ))
        .to_owned();
    Condition::any()
        .add(Expr::col((deletion::Entity, deletion::Column::Id)).in_subquery(users))
        .add(Expr::col((deletion::Entity, deletion::Column::Id)).in_subquery(attachments))
}

/// Deletion log entries by id, in one query.
pub async fn deletions_by_ids(
    h: &impl Handle,
    ids: impl IntoIterator<Item = i64>,
) -> Result<Vec<deletion::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find();
    select
        .filter(deletion::Column::Id.is_in(ids))
        .all(&exec(h))
        .await
}

/// A deletion log entry by id.
pub async fn deletion(h: &impl Handle, id: i64) -> Result<Option<deletion::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the deletion log is the core's own table
    let select = deletion::Entity::find_by_id(id);
    select.one(&exec(h)).await
}

/// Filters on the archive.
#[derive(Clone, Debug, Default)]
pub struct ArchiveFilter {
    /// Only rows of this entity.
    pub entity: Option<EntityKind>,
    /// Only rows archived at or after this moment.
    pub since: Option<DateTimeUtc>,
}

impl ArchiveFilter {
    fn select(&self) -> Select<archive::Entity> {
        #[allow(clippy::disallowed_methods)] // the archive is the core's own table
        let select = archive::Entity::find();
        select
            .apply_if(self.entity, |q, e| {
                q.filter(archive::Column::Entity.eq(e.as_str()))
            })
            .apply_if(self.since, |q, at| {
                q.filter(archive::Column::ArchivedAt.gte(at))
            })
    }

    /// The archived rows `window` takes, oldest first.
    pub async fn page(
        &self,
        h: &impl Handle,
        window: Window,
    ) -> Result<Page<archive::Model>, DbErr> {
        let select = self.select();
        keyset_page(h, select, archive::Column::Id, Order::Asc, window).await
    }

    /// How many archived rows match.
    pub async fn count(&self, h: &impl Handle) -> Result<u64, DbErr> {
        self.select().count(&exec(h)).await
    }
}
