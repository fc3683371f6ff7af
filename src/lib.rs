//! Keepsake: a GraphQL API server for users and their attachments in which nothing is lost
//! by accident. A delete hides a row everywhere at once, can be undone, says who did it and
//! why, and only a deliberate, archived purge removes it for good.
//!
//! The layers: [`config`] (CLI and environment), [`app`] (HTTP server), [`auth`] (tokens,
//! roles, the viewer; [`oidc`] the tokens of an external issuer), [`graphql`] (schema and resolvers), [`service`] (rules), and
//! [`soft_delete`] (the only module that touches the database), over [`entity`]; [`storage`]
//! keeps attachments' bytes in an object store.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod duration;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod graphql_http;
pub mod ids;
pub mod json;
pub mod metrics;
pub mod oidc;
pub mod role;
pub mod service;
pub mod soft_delete;
pub mod storage;
pub mod wire;
