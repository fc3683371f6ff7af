//! Open subscriptions per user, each user at most `KEEPSAKE_MAX_SUBSCRIPTIONS`: a slot is
//! taken when a subscription starts and given back when its stream is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Open subscriptions per viewer, each at most the cap (`KEEPSAKE_MAX_SUBSCRIPTIONS`).
pub struct Slots {
    cap: u32,
    open: Mutex<HashMap<i64, u32>>,
}

impl Slots {
    /// Slots for at most `cap` open subscriptions per viewer.
    pub fn new(cap: u32) -> Slots {
        Slots {
            cap,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// How many subscriptions `viewer` holds open.
    pub fn open(&self, viewer: i64) -> u32 {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&viewer).copied().unwrap_or(0)
    }

    /// One more open subscription for `viewer`, or `LIMIT_EXCEEDED` at the cap.
    pub(super) fn take(self: &Arc<Self>, viewer: i64) -> Result<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let held = open.entry(viewer).or_insert(0);
        if *held >= self.cap {
            return Err(Error::LimitExceeded(format!(
                "you have {} subscriptions open, the most one user may hold \
                 (KEEPSAKE_MAX_SUBSCRIPTIONS); complete one first",
                self.cap
            )));
        }
        *held += 1;
        Ok(Slot {
            slots: self.clone(),
            viewer,
        })
    }
}

/// One open subscription; given back when its stream is dropped.
pub(super) struct Slot {
    slots: Arc<Slots>,
    viewer: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = open.get_mut(&self.viewer) {
            *held -= 1;
            if *held == 0 {
                open.remove(&self.viewer);
            }
        }
    }
}
