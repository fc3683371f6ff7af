//! Scoped batch reads: every row, page and count the request's loaders ask for, for a whole
//! response at once: one `IN (…)` statement per entity and scope (or view and page), never
//! one per row. Every read goes through a [`crate::soft_delete::Scoped`] read, so
//! relationships hide deleted rows exactly as root fields do. The GraphQL layer's loaders
//! (`graphql/loaders.rs`) batch and cache; these read.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, DbErr};

use crate::entity::{attachment, deletion, user};
use crate::service::keys::{
    AttachmentCount, AttachmentKey, DeletionKey, ErasureKey, HiddenCount, HiddenPage, HiddenView,
    OwnerPage, UserKey, hidden_attachments,
};
use crate::service::{Listing, PageRequest};
use crate::soft_delete::{self, Columns, Db, Scope, Scoped};

/// The hasher of the reads' own maps, all keyed by row ids: foldhash, a fraction of the
/// standard SipHash's cost (a response of 50 users hashes a few hundred keys).
pub type Hasher = foldhash::fast::RandomState;

/// A map of the reads' own.
type Map<K, V> = HashMap<K, V, Hasher>;

pub async fn users(
    db: &Db,
    keys: &[UserKey],
) -> Result<HashMap<UserKey, Option<user::Model>>, DbErr> {
    let mut found: HashMap<UserKey, Option<user::Model>> =
        keys.iter().map(|key| (*key, None)).collect();
    for (scope, ids) in by_scope(keys, |UserKey(id, scope)| (id, scope)) {
        let rows = Scoped::<user::Entity>::new(scope)
            .filter(user::Column::Id.is_in(ids))
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|u| (UserKey(u.id, scope), Some(u))));
    }
    Ok(found)
}

pub async fn attachments(
    db: &Db,
    keys: &[AttachmentKey],
) -> Result<HashMap<AttachmentKey, Option<attachment::Model>>, DbErr> {
    let mut found: HashMap<AttachmentKey, Option<attachment::Model>> =
        keys.iter().map(|key| (*key, None)).collect();
    for (scope, ids) in by_scope(keys, |AttachmentKey(id, scope)| (id, scope)) {
        let rows = Scoped::<attachment::Entity>::new(scope)
            .filter(attachment::Column::Id.is_in(ids))
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .map(|a| (AttachmentKey(a.id, scope), Some(a))),
        );
    }
    Ok(found)
}

/// One page of an owner's attachments, by ascending id (`User.attachments`): up to
/// `first + 1` rows past `after` are read, so the page knows whether another follows.
pub async fn owner_pages(
    db: &Db,
    keys: &[OwnerPage],
) -> Result<HashMap<OwnerPage, Listing<attachment::Model>>, DbErr> {
    // One statement per page shape (scope, page), usually one for the response, reading
    // the columns that any key of the shape asks for.
    type Shape = (Scope, PageRequest);
    let mut shapes: Map<Shape, (Vec<i64>, Columns<attachment::Entity>)> = Map::default();
    // How many keys take each owner's page (the same page with other columns is another
    // key): the last one takes the rows, the others a copy.
    let mut uses: Map<(Shape, i64), usize> =
        Map::with_capacity_and_hasher(keys.len(), Hasher::default());
    for key in keys {
        let shape = (key.scope, key.page);
        let (owners, columns) = shapes
            .entry(shape)
            .or_insert_with(|| (Vec::new(), key.columns));
        *columns = columns.union(key.columns);
        let n = uses.entry((shape, key.owner)).or_default();
        if *n == 0 {
            owners.push(key.owner);
        }
        *n += 1;
    }
    let mut runs: Map<(Shape, i64), Vec<attachment::Model>> =
        Map::with_capacity_and_hasher(uses.len(), Hasher::default());
    for (shape, (owners, columns)) in shapes {
        let (scope, page) = shape;
        let found = Scoped::<attachment::Entity>::new(scope)
            .first_rows_per(db, attachment::Column::OwnerId, &owners, page, columns)
            .await?;
        // One vector per owner (each owner is read once per shape): kept as it is.
        for rows in found {
            if let Some(owner) = rows.first().map(|row| row.owner_id) {
                runs.insert((shape, owner), rows);
            }
        }
    }
    let mut pages = HashMap::with_capacity(keys.len());
    for key in keys {
        let at = ((key.scope, key.page), key.owner);
        let n = uses.get_mut(&at).map_or(0, |n| {
            *n -= 1;
            *n
        });
        let rows = if n > 0 {
            runs.get(&at).cloned()
        } else {
            runs.remove(&at)
        };
        let mut rows = rows.unwrap_or_default();
        rows.sort_by_key(|a| a.id);
        pages.insert(*key, key.listing(rows));
    }
    Ok(pages)
}

pub async fn attachment_counts(
    db: &Db,
    keys: &[AttachmentCount],
) -> Result<HashMap<AttachmentCount, u64>, DbErr> {
    let mut found: HashMap<AttachmentCount, u64> = keys.iter().map(|k| (*k, 0)).collect();
    for (scope, owners) in by_scope(keys, |AttachmentCount(id, scope)| (id, scope)) {
        let counts = Scoped::<attachment::Entity>::new(scope)
            .count_per(db, attachment::Column::OwnerId, &owners)
            .await?;
        for (owner, n) in counts {
            found.insert(AttachmentCount(owner, scope), n);
        }
    }
    Ok(found)
}

pub async fn deletions(
    db: &Db,
    keys: &[DeletionKey],
) -> Result<HashMap<DeletionKey, deletion::Model>, DbErr> {
    let rows = soft_delete::deletions_by_ids(db, keys.iter().map(|k| k.0)).await?;
    Ok(rows.into_iter().map(|d| (DeletionKey(d.id), d)).collect())
}

/// The tombstone of each user `keys` names, `None` for those never erased (so the cache
/// remembers them too), in one statement.
pub async fn erasures(
    db: &Db,
    keys: &[ErasureKey],
) -> Result<HashMap<ErasureKey, Option<crate::entity::erasure::Model>>, DbErr> {
    let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
    let mut found: HashMap<ErasureKey, Option<_>> = keys.iter().map(|k| (*k, None)).collect();
    for row in soft_delete::erasures_of(db, &ids).await? {
        found.insert(ErasureKey(row.user_id), Some(row));
    }
    Ok(found)
}

/// One page of the attachments a deletion hides, oldest first (`Deletion.attachments`): one
/// statement per view and page for every deletion of a response.
pub async fn hidden_pages(
    db: &Db,
    keys: &[HiddenPage],
) -> Result<HashMap<HiddenPage, Listing<attachment::Model>>, DbErr> {
    let mut pages = HashMap::with_capacity(keys.len());
    let mut by_page: Map<PageRequest, Vec<HiddenPage>> = Map::default();
    for key in keys {
        by_page.entry(key.page).or_default().push(*key);
    }
    for (page, keys) in by_page {
        let groups = by_view(keys.iter().map(|k| (k.deletion, k.view)));
        for (group, members) in groups {
            let deletions: Vec<i64> = members.iter().map(|(d, _)| *d).collect();
            let found = group_read(group, &members)
                .first_rows_per(
                    db,
                    attachment::Column::DeletionId,
                    &deletions,
                    page,
                    Columns::all(),
                )
                .await?;
            let mut runs: Map<i64, Vec<attachment::Model>> = Map::default();
            for rows in found {
                if let Some(deletion) = rows.first().and_then(|row| row.deletion_id) {
                    runs.insert(deletion, rows);
                }
            }
            for key in keys.iter().filter(|k| deletions.contains(&k.deletion)) {
                let mut rows = runs.get(&key.deletion).cloned().unwrap_or_default();
                rows.sort_by_key(|a| a.id);
                pages.insert(*key, key.listing(rows));
            }
        }
    }
    Ok(pages)
}

pub async fn hidden_counts(
    db: &Db,
    keys: &[HiddenCount],
) -> Result<HashMap<HiddenCount, u64>, DbErr> {
    let mut found: HashMap<HiddenCount, u64> = keys.iter().map(|k| (*k, 0)).collect();
    for (group, members) in by_view(keys.iter().map(|k| (k.0, k.1))) {
        let deletions: Vec<i64> = members.iter().map(|(d, _)| *d).collect();
        let counts = group_read(group, &members)
            .count_per(db, attachment::Column::DeletionId, &deletions)
            .await?;
        for (deletion, view) in members {
            if let Some(n) = counts.get(&deletion) {
                found.insert(HiddenCount(deletion, view), *n);
            }
        }
    }
    Ok(found)
}

/// Groups keys by scope: one query per scope present.
fn by_scope<K: Copy>(keys: &[K], split: impl Fn(K) -> (i64, Scope)) -> Map<Scope, Vec<i64>> {
    let mut groups: Map<Scope, Vec<i64>> = Map::default();
    for key in keys {
        let (id, scope) = split(*key);
        groups.entry(scope).or_default().push(id);
    }
    groups
}

/// Groups deletions by how their hidden rows may be read: one group per scope, and one for
/// all the proofs (each proof reads its own deletion's rows, so they read together).
fn by_view(
    keys: impl Iterator<Item = (i64, HiddenView)>,
) -> Map<Option<Scope>, Vec<(i64, HiddenView)>> {
    let mut groups: Map<Option<Scope>, Vec<(i64, HiddenView)>> = Map::default();
    for (deletion, view) in keys {
        let group = match view {
            HiddenView::InScope(scope) => Some(scope),
            HiddenView::Undoable(_) => None,
        };
        groups.entry(group).or_default().push((deletion, view));
    }
    groups
}

/// The read of one group of [`by_view`]: a scope's rows, or the rows the proofs show.
fn group_read(group: Option<Scope>, members: &[(i64, HiddenView)]) -> Scoped<attachment::Entity> {
    match group {
        Some(scope) => hidden_attachments(HiddenView::InScope(scope)),
        None => Scoped::hidden_by_any(members.iter().filter_map(|(_, view)| match view {
            HiddenView::Undoable(proof) => Some(*proof),
            HiddenView::InScope(_) => None,
        })),
    }
}
