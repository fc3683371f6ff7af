//! GraphQL over HTTP, as the GraphQL-over-HTTP spec reads it and the `graphql-http` audit
//! suite checks it: what a request may look like, which media type answers it, which status
//! goes with which outcome, and the `extensions.code` of documents refused before execution.
//!
//! The `/graphql` handler ([`crate::app`]) picks the answer's [`MediaType`] with
//! [`negotiate`], reads the request with [`read_request`], parses it with [`parse_document`],
//! and answers an executed response with [`executed`] or a refused one with [`refused`]
//! ([`classify`] tells them apart). [`PersistedQueries`] keeps documents for Apollo's
//! Automatic Persisted Queries, so a client may send a document's hash instead of it.
//!
//! | outcome | `application/json` | `application/graphql-response+json` |
//! |---|---|---|
//! | executed, field errors and `data: null` included | 200 | 200 |
//! | document refused before execution (parse, validation, variables), no `data` | 200 | 400 |
//! | malformed request: not JSON, no `query`, a parameter of the wrong type | 400 | 400 |
//! | a persisted query's hash that does not match its `query` | 400 | 400 |
//! | a persisted query's hash alone, not held here (`PERSISTED_QUERY_NOT_FOUND`) | 200 | 200 |
//! | a mutation sent with `GET` | 405 | 405 |
//! | `Accept` allows neither media type | 406 | 406 |
//! | body larger than the limit, `Content-Length` or chunked | 413 | 413 |
//! | `POST` without `Content-Type: application/json` (or multipart with a file) | 415 | 415 |
//! | multipart (a file) without a valid bearer token, before the body is read | 401 | 401 |
//! | a multipart request's file larger than `KEEPSAKE_MAX_UPLOAD` | 413 | 413 |
//!
//! The steps, each in its file: `negotiate` (the `Accept` header and the [`MediaType`]),
//! `request` (reading GET and POST), `params` (a request's parameters, checked),
//! `multipart` (the multipart request spec), `persisted` (APQ), `tokens` and `document`
//! (counting, parsing and the checks before execution), `response` (status and body of an
//! answer); `refusal` is every way a request is refused before the schema, `codes` their
//! `extensions.code`.

mod codes;
mod document;
mod media;
mod multipart;
mod negotiate;
mod params;
mod persisted;
mod refusal;
mod request;
mod response;
mod tokens;

pub use codes::{PARSE_FAILED, PERSISTED_QUERY_NOT_FOUND, VALIDATION_FAILED};
pub use document::{
    ParsedDocuments, check_required_variables, is_mutation, parse_document, repeats_object_keys,
};
pub use media::MediaType;
pub use multipart::drain;
pub use negotiate::negotiate;
pub use params::{Incoming, Reading};
pub use persisted::{Audience, DocumentHash, PersistedQueries, document_hash};
pub use refusal::Refusal;
pub use request::{is_multipart, read_request};
pub use response::{Outcome, classify, executed, refused};
pub use tokens::count_tokens;
