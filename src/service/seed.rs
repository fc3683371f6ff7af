//! Synthetic data for benchmarks and demos: `keepsake seed`.

use chrono::{Duration as ChronoDuration, Utc};

use crate::error::{Error, Result};
use crate::soft_delete::{self, Db, SeedUser};

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
    let now = Utc::now();
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
