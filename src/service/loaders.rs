//! Batched, scoped loading of relationships: one `IN (…)` query per entity and scope for a
//! whole response, never a query per row. Built per request (its cache dies with the
//! request, so a restore is seen by the next one), and every load goes through a
//! [`crate::soft_delete::Scoped`] read, so relationships hide deleted rows exactly as root
//! fields do.
//!
//! Batching by the loader's 1 ms window alone is not enough: async-graphql resolves lists
//! of more than 30 items in chunks and the window can close between them. So connection
//! resolvers [`prefetch`] what their page's children will ask for, in one load, and the
//! children find it in the request's cache: a fixed number of statements per response.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, DbErr};

use crate::entity::{attachment, deletion, user};
use crate::service::attachments::OwnerPage;
use crate::service::log::{HiddenPage, HiddenView, hidden_attachments};
use crate::service::{Listing, PageRequest};
use crate::soft_delete::{self, Columns, Db, Scope, Scoped};

/// The request's loaders, with a cache that lives as long as the request.
pub type Loaders = DataLoader<Batch, HashMapCache<Hasher>>;

/// The hasher of the loaders' own maps, all keyed by row ids: foldhash, a fraction of the
/// standard SipHash's cost (a response of 50 users hashes a few hundred keys).
type Hasher = foldhash::fast::RandomState;

/// A map of the loaders' own.
type Map<K, V> = HashMap<K, V, Hasher>;

/// Builds the loaders of one request.
pub fn for_request(db: Db) -> Loaders {
    let batch = Batch {
        db,
        pages: Mutex::new(Map::default()),
    };
    DataLoader::with_cache(batch, tokio::spawn, HashMapCache::<Hasher>::new())
}

/// Loads `keys` in one batch into the request's cache, so the children that ask for them
/// one by one find them there.
pub async fn prefetch<K>(loaders: &Loaders, keys: impl IntoIterator<Item = K>) -> Result<(), DbErr>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    Batch: Loader<K, Error = DbErr>,
{
    loaders.load_many(keys).await.map(|_| ())
}

/// Runs batched loads against one database.
pub struct Batch {
    db: Db,
    /// Owners' pages of attachments read ahead by [`read_pages`], each with how many
    /// selections will take it: handed over, not cloned out of a cache.
    pages: Mutex<Map<OwnerPage, (Listing<attachment::Model>, usize)>>,
}

/// Reads the pages `keys` name in one batch and keeps them for [`owner_page`], once per
/// time a key appears (aliases may ask for the same page twice).
pub async fn read_pages(loaders: &Loaders, keys: &[OwnerPage]) -> Result<(), DbErr> {
    let batch = loaders.loader();
    let found = Loader::<OwnerPage>::load(batch, keys).await?;
    let mut pages = batch.pages.lock().unwrap_or_else(|e| e.into_inner());
    for (key, listing) in found {
        let uses = keys.iter().filter(|k| **k == key).count();
        pages.insert(key, (listing, uses));
    }
    Ok(())
}

/// The page `key` names: the one read ahead for it if any, else read with the request's
/// other pages in one batch.
pub async fn owner_page(
    loaders: &Loaders,
    key: OwnerPage,
) -> Result<Option<Listing<attachment::Model>>, DbErr> {
    let ahead = {
        let mut pages = loaders
            .loader()
            .pages
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match pages.get_mut(&key) {
            Some((listing, uses)) if *uses > 1 => {
                *uses -= 1;
                Some(listing.clone())
            }
            Some(_) => pages.remove(&key).map(|(listing, _)| listing),
            None => None,
        }
    };
    match ahead {
        Some(listing) => Ok(Some(listing)),
        None => loaders.load_one(key).await,
    }
}

/// A user by id, as `scope` shows it (`user`, `node`, `nodes`, `Attachment.owner`,
/// `Deletion.actor`). Its value is `None` for an id the scope does not show: a miss is
/// cached like a hit, so a lookup costs the same whether or not the row is there (a
/// second read for a missing row would tell it apart from a hidden one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(pub i64, pub Scope);

/// An attachment by id, as `scope` shows it (`attachment`, `node`, `nodes`). Whether the
/// viewer may see it is the service's check, after the load. Misses are cached like hits,
/// as for [`UserKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttachmentKey(pub i64, pub Scope);

/// How many attachments an owner has, as `scope` shows it (`User.attachments.totalCount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttachmentCount(pub i64, pub Scope);

/// How many attachments a deletion hides, as a view shows them
/// (`Deletion.attachments.totalCount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HiddenCount(pub i64, pub HiddenView);

/// A deletion log entry by id (`User.deletion`, `Attachment.deletion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeletionKey(pub i64);

/// Groups keys by scope: one query per scope present.
fn by_scope<K: Copy>(keys: &[K], split: impl Fn(K) -> (i64, Scope)) -> Map<Scope, Vec<i64>> {
    let mut groups: Map<Scope, Vec<i64>> = Map::default();
    for key in keys {
        let (id, scope) = split(*key);
        groups.entry(scope).or_default().push(id);
    }
    groups
}

impl Loader<UserKey> for Batch {
    type Value = Option<user::Model>;
    type Error = DbErr;

    async fn load(&self, keys: &[UserKey]) -> Result<HashMap<UserKey, Option<user::Model>>, DbErr> {
        let mut found: HashMap<UserKey, Option<user::Model>> =
            keys.iter().map(|key| (*key, None)).collect();
        for (scope, ids) in by_scope(keys, |UserKey(id, scope)| (id, scope)) {
            let rows = Scoped::<user::Entity>::new(scope)
                .filter(user::Column::Id.is_in(ids))
                .all(&self.db)
                .await?;
            found.extend(rows.into_iter().map(|u| (UserKey(u.id, scope), Some(u))));
        }
        Ok(found)
    }
}

impl Loader<AttachmentKey> for Batch {
    type Value = Option<attachment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[AttachmentKey],
    ) -> Result<HashMap<AttachmentKey, Option<attachment::Model>>, DbErr> {
        let mut found: HashMap<AttachmentKey, Option<attachment::Model>> =
            keys.iter().map(|key| (*key, None)).collect();
        for (scope, ids) in by_scope(keys, |AttachmentKey(id, scope)| (id, scope)) {
            let rows = Scoped::<attachment::Entity>::new(scope)
                .filter(attachment::Column::Id.is_in(ids))
                .all(&self.db)
                .await?;
            found.extend(
                rows.into_iter()
                    .map(|a| (AttachmentKey(a.id, scope), Some(a))),
            );
        }
        Ok(found)
    }
}

/// One page of an owner's attachments, by ascending id (`User.attachments`): up to
/// `first + 1` rows past `after` are read, so the page knows whether another follows.
impl Loader<OwnerPage> for Batch {
    type Value = Listing<attachment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
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
                .first_rows_per(
                    &self.db,
                    attachment::Column::OwnerId,
                    &owners,
                    page,
                    columns,
                )
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
}

impl Loader<AttachmentCount> for Batch {
    type Value = u64;
    type Error = DbErr;

    async fn load(&self, keys: &[AttachmentCount]) -> Result<HashMap<AttachmentCount, u64>, DbErr> {
        let mut found: HashMap<AttachmentCount, u64> = keys.iter().map(|k| (*k, 0)).collect();
        for (scope, owners) in by_scope(keys, |AttachmentCount(id, scope)| (id, scope)) {
            let counts = Scoped::<attachment::Entity>::new(scope)
                .count_per(&self.db, attachment::Column::OwnerId, &owners)
                .await?;
            for (owner, n) in counts {
                found.insert(AttachmentCount(owner, scope), n);
            }
        }
        Ok(found)
    }
}

impl Loader<DeletionKey> for Batch {
    type Value = deletion::Model;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[DeletionKey],
    ) -> Result<HashMap<DeletionKey, deletion::Model>, DbErr> {
        let rows = soft_delete::deletions_by_ids(&self.db, keys.iter().map(|k| k.0)).await?;
        Ok(rows.into_iter().map(|d| (DeletionKey(d.id), d)).collect())
    }
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

/// One page of the attachments a deletion hides, oldest first (`Deletion.attachments`): one
/// statement per view and page for every deletion of a response.
impl Loader<HiddenPage> for Batch {
    type Value = Listing<attachment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
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
                        &self.db,
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
}

impl Loader<HiddenCount> for Batch {
    type Value = u64;
    type Error = DbErr;

    async fn load(&self, keys: &[HiddenCount]) -> Result<HashMap<HiddenCount, u64>, DbErr> {
        let mut found: HashMap<HiddenCount, u64> = keys.iter().map(|k| (*k, 0)).collect();
        for (group, members) in by_view(keys.iter().map(|k| (k.0, k.1))) {
            let deletions: Vec<i64> = members.iter().map(|(d, _)| *d).collect();
            let counts = group_read(group, &members)
                .count_per(&self.db, attachment::Column::DeletionId, &deletions)
                .await?;
            for (deletion, view) in members {
                if let Some(n) = counts.get(&deletion) {
                    found.insert(HiddenCount(deletion, view), *n);
                }
            }
        }
        Ok(found)
    }
}
