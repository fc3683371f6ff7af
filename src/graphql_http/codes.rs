//! The `extensions.code` of requests and documents refused before execution.

use async_graphql::ServerError;

/// `extensions.code` of a document that is not GraphQL (docs/DESIGN.md#errors).
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document or variables the schema refuses before execution: unknown
/// fields, depth and cost limits, variables of the wrong type (docs/DESIGN.md#errors).
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// `extensions.code` of an HTTP request that carries no GraphQL request to run.
pub(super) const BAD_REQUEST: &str = "BAD_USER_INPUT";
/// `extensions.code` of a persisted query's hash sent alone whose document this server does
/// not hold: the client sends it again with the document (Apollo's APQ protocol).
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

/// Sets `extensions.code` unless the error has one.
pub(super) fn set_code(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}
