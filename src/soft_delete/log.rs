//! The deletion log and the archive, read back with filters and pages.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, IntoColumnRef, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder as _,
    QuerySelect as _, QueryTrait, Select,
};

use super::scope::{Order, Window, keyset_page};
use super::{EntityKind, Handle, Page, exec, fold, to_micros};
use crate::entity::{archive, attachment, deletion, user};

/// Filters on the deletion log.
#[derive(Clone, Debug, Default)]
pub struct DeletionFilter {
    /// Only deletions of this entity.
    pub entity: Option<EntityKind>,
    /// Only deletions by this actor.
    pub actor: Option<i64>,
    /// Only deletions by an actor whose email or name contains this text ([`fold`]ed, so in
    /// any case), deleted actors included.
    pub actor_search: Option<String>,
    /// Only deletions at or after this moment (taken to the microsecond, [`to_micros`]).
    pub since: Option<DateTimeUtc>,
    /// Only deletions before this moment (taken to the microsecond).
    pub until: Option<DateTimeUtc>,
    /// Only deletions whose reason contains this text ([`fold`]ed, so in any case).
    pub reason: Option<String>,
    /// Only deletions hiding a user whose email or name, or an attachment whose filename,
    /// contains this text ([`fold`]ed, so in any case). Restored deletions hide nothing.
    pub search: Option<String>,
    /// Only deletions in force: neither restored nor being purged.
    pub in_force: bool,
    /// Only deletions that hid rows of this user alone (the user themself, or attachments
    /// they own): the condition [`super::hid_only_rows_of`] checks one deletion at a time,
    /// in SQL, so a page of them is one statement.
    pub only_rows_of: Option<i64>,
}

/// `folded LIKE '%fold(text)%'`, with `%`, `_` and `\` taken literally: whether the text a
/// `*_folded` column was folded from contains `text`, in any case (see `stored.rs`). The
/// column holds the folding already, so the database only compares characters, which
/// SQLite and PostgreSQL do alike; no SQL function of theirs touches the text.
fn contains(folded: impl IntoColumnRef, text: &str) -> SimpleExpr {
    let text = fold(text);
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Expr::col(folded).like(LikeExpr::new(pattern).escape('\\'))
}

impl DeletionFilter {
    pub(super) fn select(&self) -> Select<deletion::Entity> {
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
                q.filter(deletion::Column::DeletedAt.gte(to_micros(at)))
            })
            .apply_if(self.until, |q, at| {
                q.filter(deletion::Column::DeletedAt.lt(to_micros(at)))
            })
            .apply_if(self.reason.as_deref(), |q, text| {
                q.filter(contains(
                    (deletion::Entity, deletion::Column::ReasonFolded),
                    text,
                ))
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

    /// The entries `window` takes, newest first: by the moment of the deletion, then by id
    /// (a later id first within one microsecond), so entries written out of their moments'
    /// order (servers' clocks, a long transaction) still read in time order. The cursor is an
    /// entry's id, and the statement reads that entry's moment from its row: an entry is
    /// never removed and its moment never changes, so the id names the sort key for good.
    /// Forward, the page holds older entries; backward, newer ones. The index
    /// `idx_deletions_deleted_at_id` serves the order and the cursor's bound.
    pub async fn page(
        &self,
        h: &impl Handle,
        window: Window,
    ) -> Result<Page<deletion::Model>, DbErr> {
        let key = || {
            Expr::tuple([
                Expr::col((deletion::Entity, deletion::Column::DeletedAt)),
                Expr::col((deletion::Entity, deletion::Column::Id)),
            ])
        };
        let mut select = self.select();
        if let Some(cursor) = window.cursor {
            let at_cursor = Alias::new("at_cursor");
            let moment = Query::select()
                .column((at_cursor.clone(), deletion::Column::DeletedAt))
                .from_as(deletion::Entity, at_cursor.clone())
                .and_where(Expr::col((at_cursor, deletion::Column::Id)).eq(cursor))
                .to_owned();
            let place = Expr::tuple([Expr::from(moment), Expr::val(cursor)]);
            select = select.filter(if window.backward {
                key().gt(place)
            } else {
                key().lt(place)
            });
        }
        let newest_first = !window.backward;
        let order = if newest_first {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        };
        let mut rows = select
            .order_by(deletion::Column::DeletedAt, order.clone())
            .order_by(deletion::Column::Id, order)
            .limit(window.size.saturating_add(1))
            .all(&exec(h))
            .await?;
        // One more than the page was read, to learn whether more lie beyond it.
        let has_more = rows.len() as u64 > window.size;
        rows.truncate(usize::try_from(window.size).unwrap_or(usize::MAX));
        if window.backward {
            rows.reverse();
        }
        Ok(Page { rows, has_more })
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
                .add(contains((user::Entity, user::Column::EmailFolded), text))
                .add(contains((user::Entity, user::Column::NameFolded), text)),
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
                .add(contains((user::Entity, user::Column::EmailFolded), text))
                .add(contains((user::Entity, user::Column::NameFolded), text)),
        )
        .to_owned();
    let attachments = Query::select()
        .column(attachment::Column::DeletionId)
        .from(attachment::Entity)
        .and_where(Expr::col((attachment::Entity, attachment::Column::DeletionId)).is_not_null())
        .and_where(contains(
            (attachment::Entity, attachment::Column::FilenameFolded),
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

/// The last archived snapshot of row `entity_id` of `entity`, once a purge erased it.
pub async fn archived_row(
    h: &impl Handle,
    entity: EntityKind,
    entity_id: i64,
) -> Result<Option<archive::Model>, DbErr> {
    #[allow(clippy::disallowed_methods)] // the archive is the core's own table
    let select = archive::Entity::find();
    select
        .filter(archive::Column::Entity.eq(entity.as_str()))
        .filter(archive::Column::EntityId.eq(entity_id))
        .order_by_desc(archive::Column::Id)
        .one(&exec(h))
        .await
}

/// Filters on the archive.
#[derive(Clone, Debug, Default)]
pub struct ArchiveFilter {
    /// Only rows of this entity.
    pub entity: Option<EntityKind>,
    /// Only rows archived at or after this moment (taken to the microsecond).
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
                q.filter(archive::Column::ArchivedAt.gte(to_micros(at)))
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
