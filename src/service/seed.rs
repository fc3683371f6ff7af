//! Synthetic data for benchmarks and demos: `keepsake seed`.

use chrono::{Duration as ChronoDuration, Utc};

use crate::error::{Error, Result};
use crate::soft_delete::{self, Db, SeedUser};
use crate::storage::Storage;

/// The most bytes `--content-bytes` gives each attachment.
pub const MAX_CONTENT_BYTES: u64 = 1024 * 1024;

/// Users per transaction.
pub const USERS_PER_BATCH: u64 = 1_000;

const REASONS: [&str; 5] = [
    "duplicate account",
    "requested by the user",
    "spam",
    "inactive for a year",
    "test account",
];

/// What `keepsake seed` asks for.
#[derive(Clone, Copy, Debug)]
pub struct SeedPlan {
    /// Users, of whom `deleted_fraction` are deleted.
    pub users: u64,
    pub attachments_per_user: u64,
    pub deleted_fraction: f64,
    /// Extra users, all deleted, as a multiple of `users`.
    pub deleted_multiplier: f64,
    /// Bytes of generated content per attachment (0: metadata only).
    pub content_bytes: u64,
}

impl SeedPlan {
    /// Checks the numbers; the message names the flag.
    pub fn check(self) -> Result<SeedPlan> {
        if !(0.0..=1.0).contains(&self.deleted_fraction) {
            return Err(Error::bad_input(
                "--deleted-fraction: must be between 0 and 1",
            ));
        }
        if !(0.0..=1_000.0).contains(&self.deleted_multiplier) {
            return Err(Error::bad_input(
                "--deleted-multiplier: must be between 0 and 1000",
            ));
        }
        if self.content_bytes > MAX_CONTENT_BYTES {
            return Err(Error::bad_input(format!(
                "--content-bytes: at most {MAX_CONTENT_BYTES}"
            )));
        }
        if self.attachments_per_user > 1_000 {
            return Err(Error::bad_input("--attachments-per-user: at most 1000"));
        }
        Ok(self)
    }

    /// Every user the plan makes, in order.
    pub fn total_users(self) -> u64 {
        self.users + (self.users as f64 * self.deleted_multiplier).round() as u64
    }
}

/// A small deterministic generator (xorshift64*), so a seed is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Fills the database as planned, `USERS_PER_BATCH` users per transaction, telling
/// `progress(users_done, users_total)` after each. Deleted users are real deletions (with
/// a reason, at a moment in the last 60 days), so `restore` and `purge` work on them.
/// Returns (users, attachments) written.
pub async fn seed(
    db: &Db,
    plan: SeedPlan,
    mut progress: impl FnMut(u64, u64),
) -> Result<(u64, u64)> {
    let plan = plan.check()?;
    let total = plan.total_users();
    let run = Utc::now().timestamp_millis();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ run as u64);
    let now = soft_delete::now();
    let (mut users_done, mut attachments_done) = (0, 0);
    progress(0, total);
    while users_done < total {
        let batch: Vec<SeedUser> = (users_done..total.min(users_done + USERS_PER_BATCH))
            .map(|i| {
                let deleted = i >= plan.users || rng.unit() < plan.deleted_fraction;
                let created_at = now
                    - ChronoDuration::seconds((rng.next() % (365 * 86_400)) as i64 + 61 * 86_400);
                SeedUser {
                    email: format!("seed-{run}-{i}@example.test"),
                    name: format!("Seed User {i}"),
                    created_at,
                    deleted: deleted.then(|| {
                        let ago = ChronoDuration::seconds((rng.next() % (60 * 86_400)) as i64 + 1);
                        let reason = REASONS[(rng.next() % REASONS.len() as u64) as usize];
                        (now - ago, reason.to_owned())
                    }),
                }
            })
            .collect();
        let written = soft_delete::seed_batch(db, &batch, plan.attachments_per_user).await?;
        users_done += written.users;
        attachments_done += written.attachments;
        progress(users_done, total);
    }
    Ok((users_done, attachments_done))
}

/// The generated content of attachment `id`: `size` bytes of text that name it, the same on
/// every run. The id comes first, ended by a colon, so that any two attachments' contents
/// differ (and are kept as two blobs) whenever `size` is longer than the ids' digits: cut
/// short, a line that ended in the id would give every attachment the same bytes.
pub fn seed_content(id: i64, size: u64) -> Vec<u8> {
    let line = format!("{id}: keepsake seed content of attachment {id}\n");
    line.bytes().cycle().take(size as usize).collect()
}

/// `keepsake seed --content-bytes N`: gives every attachment without content (live or
/// deleted) `N` bytes of [`seed_content`], stored as uploads are, 1,000 rows per transaction.
/// Returns how many it filled.
pub async fn fill_content(
    db: &Db,
    storage: &Storage,
    size: u64,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let mut after = 0;
    let mut filled = 0;
    loop {
        let ids = soft_delete::attachments_without_content(db, after, 1_000).await?;
        let Some(last) = ids.last() else {
            return Ok(filled);
        };
        after = *last;
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = bytes::Bytes::from(seed_content(id, size));
            let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
            let staged = storage
                .stage(body, MAX_CONTENT_BYTES)
                .await
                .map_err(|err| Error::Internal(err.into()))?;
            storage
                .keep(&staged)
                .await
                .map_err(|err| Error::Internal(err.into()))?;
            rows.push((id, staged.sha256, staged.size as i64));
        }
        soft_delete::set_seeded_content(db, &rows).await?;
        filled += rows.len() as u64;
        progress(filled);
    }
}
