//! Keepsake's one integration-test binary: a real server on port 0 over a real database per
//! test (a temp SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set),
//! driven over HTTP with real tokens. This file only declares the modules.

mod helpers;

mod archive_copy;
mod archive_retention;
mod attachments;
mod auth;
mod cli;
mod client_compat;
mod columns;
mod config;
mod content;
mod crash;
mod erasure;
mod erasure_races;
mod errors;
mod events;
mod execution;
mod first_hour;
mod folding;
mod graphql_http;
mod guarantees;
mod hostile;
mod http;
mod leaves;
mod legal_hold;
mod lifecycle;
mod limits;
mod newcomer;
mod nodes;
mod oidc;
mod oracle;
mod pages;
mod pagination;
mod precision;
mod production_http;
mod readme;
mod reporting;
mod reporting_roles;
mod restore;
mod retention;
mod s3;
mod schema;
mod several_servers;
mod side_channels;
mod soft_delete;
mod stats;
mod subscriptions;
mod trash_queries;
mod undo_credential;
mod uploads;
mod users;
mod visibility;
mod webhook_crash;
mod webhooks;
