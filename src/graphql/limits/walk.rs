//! The walk over a document's selections that measures it: depth (introspection apart) and
//! cost, with connections' rows multiplied by their page size and fragments followed where
//! they are spread.
//!
//! Statements are charged as they run: a root field for each statement its resolver runs
//! ([`root_statements`]), and a relationship or count below the root (`attachments`,
//! `owner`, `totalCount`, …) once per place it appears in the document, however many rows
//! ask for it, since one batched statement serves every row (the request's loaders). No
//! field runs a statement per parent row.

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Value, Variables};

use super::{MAX_COST, MAX_INTROSPECTION_DEPTH, Measure, STATEMENT_COST};
use crate::service::nodes::MAX_NODE_IDS;
use crate::service::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Fields that are paged connections: their rows multiply by the page size.
const CONNECTIONS: &[&str] = &["users", "attachments", "deletions", "archivedRecords"];

/// Fields below the root that read the database: each runs one statement for all the rows
/// that ask for it, through the request's loaders.
const BATCHED: &[&str] = &[
    "attachments",
    "owner",
    "deletion",
    "actor",
    "restoredBy",
    "user",
    "totalCount",
    "legalHold",
    "legalHolds",
    "placedBy",
    "releasedBy",
    "erasure",
];

/// The statements a root field's resolver runs (the most, for a mutation that may take a
/// longer path); a field not named here runs one.
fn root_statements(name: &str) -> u64 {
    match name {
        // One read per kind of id (users, attachments, deletions).
        "nodes" => 3,
        "deletionStats" => 6,
        "storageStats" => 3,
        // The last delivered id, the backlog's ids, their delivery states.
        "webhookDeliveries" => 3,
        "createUser" | "updateUser" => 2,
        "createAttachment" => 4,
        // Each with its event in the outbox (one more insert).
        "deleteUser" => 7,
        "deleteAttachment" | "deleteAttachments" => 6,
        "restore" => 13,
        "restoreUser" | "restoreAttachment" => 15,
        // The deletions hiding the user's rows, their lock, the user's lock, the active
        // hold, its insert or update (and SQLite's read back of it).
        "placeLegalHold" | "releaseLegalHold" => 6,
        // Batch jobs, run outside the request's budget (an erasure's statements grow with
        // the reasons it rewrites).
        "purgeDeleted" | "eraseUser" => 0,
        _ => 1,
    }
}

/// Measures every operation of `document` (the costliest one counts).
pub fn measure(document: &ExecutableDocument, variables: &Variables) -> Measure {
    let mut walk = Walk {
        document,
        variables,
        measure: Measure::default(),
        once: 0,
    };
    for (_, operation) in document.operations.iter() {
        walk.once = 0;
        let cost = walk.selection(&operation.node.selection_set.node, 0, false, true, false);
        walk.measure.cost = walk.measure.cost.max(cost.saturating_add(walk.once));
    }
    walk.measure
}

/// A walk in progress: the document (for its fragments), the variables (for page sizes and
/// integers) and what has been measured so far.
pub(super) struct Walk<'a> {
    document: &'a ExecutableDocument,
    pub(super) variables: &'a Variables,
    pub(super) measure: Measure,
    /// What the operation costs once, whatever the rows: its batched statements.
    once: u64,
}

/// Bounds the walk whatever the document (fragment cycles are refused by validation, which
/// runs after parsing; a fragment "bomb" stops at the budget).
const WALK_LIMIT: u64 = MAX_COST.saturating_mul(2);

impl Walk<'_> {
    /// The cost of a selection at `level`, recording depths.
    fn selection(
        &mut self,
        selection: &SelectionSet,
        level: usize,
        introspection: bool,
        root: bool,
        in_rows: bool,
    ) -> u64 {
        let mut cost: u64 = 0;
        for item in &selection.items {
            if cost >= WALK_LIMIT || level > MAX_INTROSPECTION_DEPTH + 1 {
                return cost.max(WALK_LIMIT);
            }
            let item_cost = match &item.node {
                Selection::Field(field) => {
                    self.field(&field.node, level + 1, introspection, root, in_rows)
                }
                Selection::InlineFragment(fragment) => self.selection(
                    &fragment.node.selection_set.node,
                    level,
                    introspection,
                    root,
                    in_rows,
                ),
                Selection::FragmentSpread(spread) => {
                    match self.document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => self.selection(
                            &fragment.node.selection_set.node,
                            level,
                            introspection,
                            root,
                            in_rows,
                        ),
                        None => 0,
                    }
                }
            };
            cost = cost.saturating_add(item_cost);
        }
        cost
    }

    fn field(
        &mut self,
        field: &Field,
        level: usize,
        introspection: bool,
        root: bool,
        in_rows: bool,
    ) -> u64 {
        let name = field.name.node.as_str();
        let introspection = introspection || name == "__schema" || name == "__type";
        if introspection {
            self.measure.introspection_depth = self.measure.introspection_depth.max(level);
        } else {
            self.measure.depth = self.measure.depth.max(level);
        }
        if name == "__typename" {
            return 1;
        }
        self.check_ints(field);
        let children = &field.selection_set.node;
        // A root field runs its statements once; below the root, one batched statement
        // serves every row that asks (charged once, whatever the rows).
        let statements = if introspection {
            0
        } else if root {
            root_statements(name)
        } else if BATCHED.contains(&name) {
            self.once = self.once.saturating_add(STATEMENT_COST);
            0
        } else {
            0
        };
        let own = 1 + statements.saturating_mul(STATEMENT_COST);
        if !introspection && CONNECTIONS.contains(&name) {
            let page = self.page_size(field);
            let mut cost = own;
            for item in &children.items {
                cost = cost.saturating_add(self.connection_part(item, level, page, in_rows));
            }
            return cost;
        }
        if name == "totalCount" && !introspection {
            return own;
        }
        if name == "nodes" && root && !introspection {
            // `nodes(ids)`: one batched read per entity; what each object selects costs per id.
            let rows = self.list_len(field, "ids").clamp(1, MAX_NODE_IDS as u64);
            let each = self.selection(children, level, false, false, true);
            return own.saturating_add(each.saturating_mul(rows));
        }
        if name == "recentDeletions" && root && !introspection {
            // A list of up to `first` deletions (default 20): what each selects costs per row.
            let rows = self.page_size(field);
            let each = self.selection(children, level, false, false, true);
            return own.saturating_add(each.saturating_mul(rows));
        }
        own.saturating_add(self.selection(children, level, introspection, false, in_rows))
    }

    /// One item of a connection's selection: rows multiply by the page.
    fn connection_part(
        &mut self,
        item: &async_graphql::Positioned<Selection>,
        level: usize,
        page: u64,
        in_rows: bool,
    ) -> u64 {
        match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                if name == "nodes" || name == "edges" {
                    self.field(&field.node, level + 1, false, false, true)
                        .saturating_mul(page)
                } else {
                    self.field(&field.node, level + 1, false, false, in_rows)
                }
            }
            Selection::InlineFragment(fragment) => {
                let mut cost: u64 = 0;
                for inner in &fragment.node.selection_set.node.items {
                    cost = cost.saturating_add(self.connection_part(inner, level, page, in_rows));
                }
                cost
            }
            Selection::FragmentSpread(spread) => {
                let Some(fragment) = self.document.fragments.get(&spread.node.fragment_name.node)
                else {
                    return 0;
                };
                let mut cost: u64 = 0;
                for inner in &fragment.node.selection_set.node.items {
                    if cost >= WALK_LIMIT {
                        break;
                    }
                    cost = cost.saturating_add(self.connection_part(inner, level, page, in_rows));
                }
                cost
            }
        }
    }

    /// How many items list argument `arg` holds (a literal or a variable); 0 when absent.
    fn list_len(&self, field: &Field, arg: &str) -> u64 {
        let value = field
            .arguments
            .iter()
            .find(|(name, _)| name.node.as_str() == arg)
            .map(|(_, value)| &value.node);
        let resolved = value.and_then(|v| {
            v.clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                .ok()
        });
        match resolved {
            Some(Value::List(items)) => items.len() as u64,
            Some(Value::Null) | None => 0,
            Some(_) => 1,
        }
    }

    /// The page size `first` (or, paging backward, `last`) asks for (a literal or a
    /// variable), clamped to what a page can hold; an empty page counts as one row. With
    /// both, the larger counts.
    fn page_size(&self, field: &Field) -> u64 {
        let asked = match (self.page_arg(field, "first"), self.page_arg(field, "last")) {
            (None, None) => DEFAULT_PAGE_SIZE,
            (first, last) => first.unwrap_or(0).max(last.unwrap_or(0)),
        };
        asked.max(1)
    }

    /// The rows one page-size argument asks for, if it is given.
    fn page_arg(&self, field: &Field, arg: &str) -> Option<u64> {
        let value = field
            .arguments
            .iter()
            .find(|(name, _)| name.node.as_str() == arg)
            .map(|(_, value)| &value.node);
        let resolved = value.and_then(|v| {
            v.clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                .ok()
        });
        match resolved {
            Some(Value::Number(n)) => n
                .as_i64()
                .map(|n| u64::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)),
            _ => None,
        }
    }
}
