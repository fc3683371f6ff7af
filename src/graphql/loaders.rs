//! The request's loaders: batched, cached loading of rows, pages and counts, one `IN (…)`
//! query per entity and scope for a whole response, never a query per row. Built per request
//! (its cache dies with the request, so a restore is seen by the next one). The keys are the
//! service's (`service/keys.rs`), and so are the reads (`service/reads.rs`, every one a
//! scoped read): this file only batches and caches them.
//!
//! Batching by the loader's 1 ms window alone is not enough: async-graphql resolves lists
//! of more than 30 items in chunks and the window can close between them. So connection
//! resolvers [`prefetch`] what their page's children will ask for, in one load, and the
//! children find it in the request's cache: a fixed number of statements per response.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::DbErr;

use crate::entity::{attachment, deletion, legal_hold, user};
use crate::service::Listing;
use crate::service::holds;
pub use crate::service::keys::{
    AttachmentCount, AttachmentKey, DeletionKey, ErasureKey, HiddenCount, HiddenPage,
    HoldHistoryKey, HoldKey, OwnerPage, Rows, UserKey,
};
use crate::service::reads::{self, Hasher};
use crate::soft_delete::Db;

/// The request's loaders, with a cache that lives as long as the request.
pub type Loaders = DataLoader<Batch, HashMapCache<Hasher>>;

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
        // Two selections of the response may read the same page ahead (`a: users`, `b:
        // users`): both take it.
        pages
            .entry(key)
            .and_modify(|(_, before)| *before += uses)
            .or_insert((listing, uses));
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
        take(&mut pages, &key)
    };
    match ahead {
        Some(listing) => Ok(Some(listing)),
        None => loaders.load_one(key).await,
    }
}

/// The pages `keys` name (distinct keys), each handed over as [`owner_page`] would, when
/// every one was read ahead; `None`, taking nothing, when one was not.
pub fn take_pages(
    loaders: &Loaders,
    keys: &[OwnerPage],
) -> Option<Vec<Listing<attachment::Model>>> {
    let mut pages = loaders
        .loader()
        .pages
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    debug_assert!(
        keys.iter().enumerate().all(|(i, k)| !keys[..i].contains(k)),
        "take_pages takes distinct keys"
    );
    if !keys.iter().all(|key| pages.contains_key(key)) {
        return None;
    }
    let mut taken = Vec::with_capacity(keys.len());
    for key in keys {
        taken.push(take(&mut pages, key)?);
    }
    Some(taken)
}

/// Hands over the page read ahead for `key`: a copy while other selections will take it
/// too, else the page itself.
fn take(
    pages: &mut Map<OwnerPage, (Listing<attachment::Model>, usize)>,
    key: &OwnerPage,
) -> Option<Listing<attachment::Model>> {
    match pages.get_mut(key) {
        Some((listing, uses)) if *uses > 1 => {
            *uses -= 1;
            Some(listing.clone())
        }
        Some(_) => pages.remove(key).map(|(listing, _)| listing),
        None => None,
    }
}

impl Loader<UserKey> for Batch {
    type Value = Option<user::Model>;
    type Error = DbErr;

    async fn load(&self, keys: &[UserKey]) -> Result<HashMap<UserKey, Option<user::Model>>, DbErr> {
        reads::users(&self.db, keys).await
    }
}

impl Loader<AttachmentKey> for Batch {
    type Value = Option<attachment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[AttachmentKey],
    ) -> Result<HashMap<AttachmentKey, Option<attachment::Model>>, DbErr> {
        reads::attachments(&self.db, keys).await
    }
}

impl Loader<OwnerPage> for Batch {
    type Value = Listing<attachment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[OwnerPage],
    ) -> Result<HashMap<OwnerPage, Listing<attachment::Model>>, DbErr> {
        reads::owner_pages(&self.db, keys).await
    }
}

impl Loader<AttachmentCount> for Batch {
    type Value = u64;
    type Error = DbErr;

    async fn load(&self, keys: &[AttachmentCount]) -> Result<HashMap<AttachmentCount, u64>, DbErr> {
        reads::attachment_counts(&self.db, keys).await
    }
}

impl Loader<DeletionKey> for Batch {
    type Value = deletion::Model;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[DeletionKey],
    ) -> Result<HashMap<DeletionKey, deletion::Model>, DbErr> {
        reads::deletions(&self.db, keys).await
    }
}

impl Loader<ErasureKey> for Batch {
    type Value = Option<crate::entity::erasure::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ErasureKey],
    ) -> Result<HashMap<ErasureKey, Option<crate::entity::erasure::Model>>, DbErr> {
        reads::erasures(&self.db, keys).await
    }
}

impl Loader<HiddenPage> for Batch {
    type Value = Listing<attachment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[HiddenPage],
    ) -> Result<HashMap<HiddenPage, Listing<attachment::Model>>, DbErr> {
        reads::hidden_pages(&self.db, keys).await
    }
}

impl Loader<HiddenCount> for Batch {
    type Value = u64;
    type Error = DbErr;

    async fn load(&self, keys: &[HiddenCount]) -> Result<HashMap<HiddenCount, u64>, DbErr> {
        reads::hidden_counts(&self.db, keys).await
    }
}

impl Loader<HoldKey> for Batch {
    type Value = Option<legal_hold::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[HoldKey],
    ) -> Result<HashMap<HoldKey, Option<legal_hold::Model>>, DbErr> {
        let users: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut found = holds::active(&self.db, &users).await?;
        // Misses are cached like hits: a user without a hold costs no second read.
        Ok(keys.iter().map(|k| (*k, found.remove(&k.0))).collect())
    }
}

impl Loader<HoldHistoryKey> for Batch {
    type Value = Vec<legal_hold::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[HoldHistoryKey],
    ) -> Result<HashMap<HoldHistoryKey, Vec<legal_hold::Model>>, DbErr> {
        let users: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut found = holds::history(&self.db, &users).await?;
        Ok(keys
            .iter()
            .map(|k| (*k, found.remove(&k.0).unwrap_or_default()))
            .collect())
    }
}

impl Rows for Loaders {
    async fn users(
        &self,
        keys: Vec<UserKey>,
    ) -> Result<HashMap<UserKey, Option<user::Model>>, DbErr> {
        self.load_many(keys).await
    }

    async fn attachments(
        &self,
        keys: Vec<AttachmentKey>,
    ) -> Result<HashMap<AttachmentKey, Option<attachment::Model>>, DbErr> {
        self.load_many(keys).await
    }

    async fn deletions(
        &self,
        keys: Vec<DeletionKey>,
    ) -> Result<HashMap<DeletionKey, deletion::Model>, DbErr> {
        self.load_many(keys).await
    }
}
