//! Keepsake's schema, as SeaORM migrations that run on SQLite and PostgreSQL alike.
//!
//! Migrations are named `mYYYYMMDD_HHMMSS_verb_noun`, each has a working `down`, and a
//! shipped migration is never edited: change the schema with a new one. [`fold`] is the
//! folding of search text, shared by the server and the migration that fills the folded
//! columns.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_core_tables;
mod m20261126_000002_create_archive;
mod m20261126_000003_index_deletions_by_entity;
mod m20261126_000004_index_attachments_owner;
mod m20261127_000005_add_restore_reason_and_purge_start;
mod m20261127_000006_index_live_rows;
mod m20261127_000007_add_attachment_content;
mod m20261206_000008_add_folded_search_columns;
mod m20261206_000009_truncate_timestamps_to_micros;
mod m20261206_000010_create_reporting_views;
mod m20261206_000010_index_deletion_log_reads;
mod m20261206_000011_create_deletion_days_view;
mod m20261206_000012_create_event_outbox;
mod m20261206_000013_create_webhook_deliveries;
mod m20261206_000014_create_legal_holds;
mod m20261206_000015_create_erasures;
mod m20261206_000016_create_user_identities;
mod m20261206_000017_drop_duplicate_deletion_index;
mod m20261207_000018_drop_event_deletion_key;

pub mod fold;

/// The reporting views as the newest migration that shapes them defines them: what
/// `keepsake check` compares the database's views with, and what `keepsake reporting grant`
/// opens to a role.
pub mod reporting {
    pub use crate::m20261206_000011_create_deletion_days_view::{
        POLICY, POLICY_TABLES, SCHEMA, VIEWS, View, deletion_days_sql, policy_sql,
    };
}
mod rows;

/// The `settings` key holding when the event outbox was created: changes before it have no
/// events.
pub use m20261206_000012_create_event_outbox::EVENTS_SINCE;

/// The ordered list of Keepsake's migrations.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_core_tables::Migration),
            Box::new(m20261126_000002_create_archive::Migration),
            Box::new(m20261126_000003_index_deletions_by_entity::Migration),
            Box::new(m20261126_000004_index_attachments_owner::Migration),
            Box::new(m20261127_000005_add_restore_reason_and_purge_start::Migration),
            Box::new(m20261127_000006_index_live_rows::Migration),
            Box::new(m20261127_000007_add_attachment_content::Migration),
            Box::new(m20261206_000008_add_folded_search_columns::Migration),
            Box::new(m20261206_000009_truncate_timestamps_to_micros::Migration),
            Box::new(m20261206_000010_index_deletion_log_reads::Migration),
            Box::new(m20261206_000010_create_reporting_views::Migration),
            Box::new(m20261206_000011_create_deletion_days_view::Migration),
            Box::new(m20261206_000012_create_event_outbox::Migration),
            Box::new(m20261206_000013_create_webhook_deliveries::Migration),
            Box::new(m20261206_000014_create_legal_holds::Migration),
            Box::new(m20261206_000015_create_erasures::Migration),
            Box::new(m20261206_000016_create_user_identities::Migration),
            Box::new(m20261206_000017_drop_duplicate_deletion_index::Migration),
            Box::new(m20261207_000018_drop_event_deletion_key::Migration),
        ]
    }
}
