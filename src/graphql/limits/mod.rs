//! What one request may cost, checked before any resolver runs.
//!
//! - **Depth**: at most [`MAX_DEPTH`] levels of fields. Introspection (`__schema`, `__type`)
//!   may nest to [`MAX_INTROSPECTION_DEPTH`]: graphql-js's standard introspection query, which
//!   GraphiQL, codegen and client tools send, nests `ofType` eight deep and must work.
//! - **Cost**, in fields: every field costs 1, and every SQL statement a field runs costs
//!   [`STATEMENT_COST`]: a root field its own statements (`storageStats` three, a restore up
//!   to fourteen), and a relationship or count below the root (`attachments`, `owner`,
//!   `deletion`, `totalCount`, …) one batched statement for every row that asks, charged once.
//!   A list's rows (`nodes`, `edges`, `recentDeletions`) cost their selection times the page
//!   size (`first`, or the default; an empty page counts as one row), so nested connections
//!   multiply. Aliases and fragment spreads count each time they appear. A query over
//!   [`MAX_COST`] is refused with its cost and the budget: its statements then fit the
//!   run-time budget (`KEEPSAKE_MAX_STATEMENTS`, default 100) too.
//!
//! Both refusals carry `extensions.code` `GRAPHQL_VALIDATION_FAILED` and come after the
//! document's own validation, so a misspelt field is reported as such first.
//!
//! This file holds the limits, the extension that enforces them and the refusal's message;
//! `walk` measures a document's depth and cost in one pass over its selections, and `ints`
//! finds an integer argument too wide for `Int` on the way.

mod ints;
mod walk;

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, ValidationResult, Variables};

use crate::service::DEFAULT_PAGE_SIZE;

pub use walk::measure;

/// Deepest field nesting accepted outside introspection.
pub const MAX_DEPTH: usize = 12;
/// Deepest nesting accepted inside `__schema`/`__type`.
pub const MAX_INTROSPECTION_DEPTH: usize = 24;
/// The most a query may cost.
pub const MAX_COST: u64 = 100_000;
/// What one SQL statement costs, in fields: [`MAX_COST`] over this is the most statements
/// a query may be expected to run, the default of `KEEPSAKE_MAX_STATEMENTS` (100), so a
/// query the cost model lets through fits the run-time budget too.
pub const STATEMENT_COST: u64 = 1_000;

/// The extension that enforces both limits.
pub struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension::default())
    }
}

#[derive(Default)]
struct LimitsExtension {
    /// The parsed document's measure, kept for the validation step.
    measured: Mutex<Option<Measure>>,
}

/// How deep and how costly a document is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// Deepest nesting outside introspection.
    pub depth: usize,
    /// Deepest nesting inside introspection.
    pub introspection_depth: usize,
    /// The cost (saturating; the walk stops once over [`MAX_COST`]).
    pub cost: u64,
    /// The first argument holding an integer outside GraphQL's `Int` (32 bits), with it.
    pub int_out_of_range: Option<(String, i64)>,
}

fn refusal(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "GRAPHQL_VALIDATION_FAILED");
    error.extensions = Some(extensions);
    error
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let measured = measure(&document, variables);
        if let Ok(mut slot) = self.measured.lock() {
            *slot = Some(measured);
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let measured = self
            .measured
            .lock()
            .ok()
            .and_then(|m| m.clone())
            .unwrap_or_default();
        if let Err(refused) = check(measured) {
            return Err(vec![refusal(refused)]);
        }
        Ok(result)
    }
}

/// The refusal's message when `measured` is over a limit.
pub fn check(measured: Measure) -> Result<(), String> {
    if let Some((argument, value)) = &measured.int_out_of_range {
        return Err(format!(
            "{argument}: {value} is outside GraphQL's Int range ({} to {})",
            i32::MIN,
            i32::MAX
        ));
    }
    if measured.depth > MAX_DEPTH {
        return Err(format!(
            "the query nests fields {} deep; at most {MAX_DEPTH} levels are allowed",
            measured.depth
        ));
    }
    if measured.introspection_depth > MAX_INTROSPECTION_DEPTH {
        return Err(format!(
            "the introspection query nests {} deep; at most {MAX_INTROSPECTION_DEPTH} levels are allowed",
            measured.introspection_depth
        ));
    }
    if measured.cost > MAX_COST {
        return Err(format!(
            "the query costs {} and the budget is {MAX_COST}: each field costs 1, each SQL statement {STATEMENT_COST} (a root field its own; a relationship or count below it one for all its rows), and a list's rows their fields times the page size (first, default {DEFAULT_PAGE_SIZE}); ask for smaller pages, fewer nested connections or fewer aliases",
            if measured.cost >= MAX_COST.saturating_mul(2) {
                format!("over {}", MAX_COST.saturating_mul(2))
            } else {
                measured.cost.to_string()
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost_of(query: &str) -> Measure {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        measure(&document, &Variables::default())
    }

    #[test]
    fn nested_connections_multiply_and_aliases_add_up() {
        let one = cost_of("{ users(first: 10) { nodes { id } } }").cost;
        let two = cost_of(
            "{ a: users(first: 10) { nodes { id } } b: users(first: 10) { nodes { id } } }",
        )
        .cost;
        assert_eq!(two, 2 * one);
        // users(first: n) { nodes { attachments(first: m) { nodes { id } } } } costs
        // 1 + statement + n * (1 + 1 + m * 2) + statement: the inner rows multiply by both
        // pages, and the inner connection's one batched statement is charged once, not per
        // row.
        let cost = |n: u64, m: u64| {
            cost_of(&format!(
                "{{ users(first: {n}) {{ nodes {{ attachments(first: {m}) {{ nodes {{ id }} }} }} }} }}"
            ))
            .cost
        };
        assert_eq!(
            cost(10, 10),
            1 + STATEMENT_COST + 10 * (2 + 10 * 2) + STATEMENT_COST
        );
        assert_eq!(cost(10, 20) - cost(10, 10), 10 * 10 * 2);
        assert_eq!(cost(20, 10) - cost(10, 10), 10 * (2 + 10 * 2));
        // Page sizes come from variables too, and an empty page still counts one row.
        let document = async_graphql::parser::parse_query(
            "query($n: Int) { users(first: $n) { nodes { id } } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 7 }));
        assert_eq!(measure(&document, &vars).cost, 1 + STATEMENT_COST + 7 * 2);
        assert_eq!(
            cost_of("{ users(first: 0) { nodes { id } } }").cost,
            1 + STATEMENT_COST + 2
        );
    }

    #[test]
    fn the_yardstick_fits_and_the_cube_does_not() {
        let yardstick = cost_of(
            "{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }",
        );
        assert!(check(yardstick.clone()).is_ok(), "{yardstick:?}");
        // The README quotes this figure.
        assert_eq!(yardstick.cost, 6_201);
        let cube = cost_of(
            "{ me { attachments(first:100) { nodes { owner { attachments(first:100) { nodes { owner { attachments(first:100) { nodes { f0: filename f1: filename } } } } } } } } } }",
        );
        assert!(check(cube.clone()).is_err(), "{cube:?}");
        let aliases = format!(
            "{{ {} }}",
            (0..600)
                .map(|i| format!("a{i}: users(first: 0) {{ totalCount }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(check(cost_of(&aliases)).is_err());
    }

    #[test]
    fn statements_are_charged_as_they_run() {
        let aliases = |n: usize, field: &str| {
            let fields: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
            cost_of(&format!("{{ {} }}", fields.join(" ")))
        };
        // storageStats runs three statements: 33 fit the budget, 34 do not.
        assert_eq!(
            aliases(1, "storageStats { liveBytes }").cost,
            1 + 3 * STATEMENT_COST + 1
        );
        assert!(check(aliases(33, "storageStats { liveBytes }")).is_ok());
        assert!(check(aliases(34, "storageStats { liveBytes }")).is_err());
        // 198 aliases of recentDeletions(first: 100) { id } are far over.
        assert!(check(aliases(198, "recentDeletions(first: 100) { id }")).is_err());
        // A relationship below the rows of a list is one batched statement, whatever the
        // page: deletions' attachments and their counts, a hundred rows or one.
        let under = |n: u64| {
            cost_of(&format!(
                "{{ deletions(first: {n}) {{ nodes {{ user {{ id }} attachments(first: 0) {{ totalCount }} }} }} }}"
            ))
            .cost
        };
        assert_eq!(
            under(1),
            1 + STATEMENT_COST + (1 + (1 + 1) + (1 + 1)) + 3 * STATEMENT_COST
        );
        assert_eq!(under(100) - under(1), 99 * (1 + 2 + 2));
        // A user's erasure tombstone is one batched statement for all the page's users.
        assert_eq!(
            cost_of("{ users(first: 10) { nodes { erasure { erasedAt } } } }").cost,
            1 + STATEMENT_COST + 10 * 3 + STATEMENT_COST
        );
        // An erasure runs outside the request's budget, like a purge: its fields alone.
        assert_eq!(
            cost_of("mutation { eraseUser(id: \"x\", reason: \"r\") { blobs } }").cost,
            2
        );
        // Mutations: a restore may run up to 15 (its event in the outbox included).
        assert_eq!(
            cost_of("mutation { restoreUser(id: \"x\") { id } }").cost,
            1 + 15 * STATEMENT_COST + 1
        );
    }

    #[test]
    fn introspection_may_nest_deeper_than_data() {
        let deep_types = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
        assert!(check(cost_of(deep_types)).is_ok());
        let deep_data = "{ me { attachments { nodes { owner { attachments { nodes { owner { attachments { nodes { owner { attachments { nodes { owner { id } } } } } } } } } } } } } }";
        assert!(check(cost_of(deep_data)).is_err());
    }

    #[test]
    fn integers_past_32_bits_are_refused_literal_or_variable() {
        assert!(check(cost_of("{ users(first: 2147483648) { totalCount } }")).is_err());
        assert!(check(cost_of("{ users(first: -2147483649) { totalCount } }")).is_err());
        assert!(check(cost_of("{ users(first: 100) { totalCount } }")).is_ok());
        let document = async_graphql::parser::parse_query(
            "query($n: Int) { users(first: $n) { totalCount } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 3_000_000_000i64 }));
        let refused = check(measure(&document, &vars)).unwrap_err();
        assert!(refused.starts_with("first: 3000000000"), "{refused}");
    }

    #[test]
    fn a_fragment_bomb_stops_at_the_budget() {
        let mut query = String::from("{ me { ...f0 } }\n");
        for i in 0..40 {
            query.push_str(&format!(
                "fragment f{i} on User {{ a: attachments {{ nodes {{ ...f{n} }} }} b: attachments {{ nodes {{ ...f{n} }} }} }}\n",
                n = i + 1
            ));
        }
        query.push_str("fragment f40 on Attachment { id }\n");
        let measured = cost_of(&query);
        assert!(check(measured.clone()).is_err(), "{measured:?}");
    }
}
