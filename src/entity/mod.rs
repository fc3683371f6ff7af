//! SeaORM entities, one per table. Plain data: nothing here reads or writes the database.
//!
//! Soft-deletable entities (`user`, `attachment`) are read only through
//! [`crate::soft_delete`]; the build refuses a raw `find` on them elsewhere.

pub mod archive;
pub mod attachment;
pub mod deletion;
pub mod erasure;
pub mod event;
pub mod legal_hold;
pub mod setting;
pub mod user;
pub mod user_identity;
pub mod webhook_delivery;
