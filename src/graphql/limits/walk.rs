//! The walk over a document's selections that measures it: depth (introspection apart) and
//! cost, with connections' rows multiplied by their page size and fragments followed where
//! they are spread.

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Value, Variables};

use super::{MAX_COST, MAX_INTROSPECTION_DEPTH, Measure, STATEMENT_COST};
use crate::service::nodes::MAX_NODE_IDS;
use crate::service::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Fields that are paged connections: their rows multiply by the page size.
const CONNECTIONS: &[&str] = &["users", "attachments", "deletions", "archivedRecords"];

/// Measures every operation of `document` (the costliest one counts).
pub fn measure(document: &ExecutableDocument, variables: &Variables) -> Measure {
    let mut walk = Walk {
        document,
        variables,
        measure: Measure::default(),
    };
    for (_, operation) in document.operations.iter() {
        let cost = walk.selection(&operation.node.selection_set.node, 0, false, true, false);
        walk.measure.cost = walk.measure.cost.max(cost);
    }
    walk.measure
}

/// A walk in progress: the document (for its fragments), the variables (for page sizes and
/// integers) and what has been measured so far.
pub(super) struct Walk<'a> {
    document: &'a ExecutableDocument,
    pub(super) variables: &'a Variables,
    pub(super) measure: Measure,
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
        // Inside another connection's rows, one batched statement serves them all.
        let statement = if in_rows { 0 } else { STATEMENT_COST };
        if !introspection && CONNECTIONS.contains(&name) {
            let page = self.page_size(field);
            let mut cost = 1 + statement;
            for item in &children.items {
                cost = cost.saturating_add(self.connection_part(item, level, page, in_rows));
            }
            return cost;
        }
        if name == "totalCount" && !introspection {
            return 1 + statement;
        }
        if name == "nodes" && root && !introspection {
            // `nodes(ids)`: one batched read per entity; what each object selects costs per id.
            let rows = self.list_len(field, "ids").clamp(1, MAX_NODE_IDS as u64);
            let each = self.selection(children, level, false, false, true);
            return (1 + statement).saturating_add(each.saturating_mul(rows));
        }
        let own = if root && !introspection {
            1 + statement
        } else {
            1
        };
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

    /// The page size `first` asks for (a literal or a variable), clamped to what a page can
    /// hold; an empty page counts as one row.
    fn page_size(&self, field: &Field) -> u64 {
        let value = field
            .arguments
            .iter()
            .find(|(name, _)| name.node.as_str() == "first")
            .map(|(_, value)| &value.node);
        let resolved = value.and_then(|v| {
            v.clone()
                .into_const_with(|name| self.variables.get(&name).cloned().ok_or(()))
                .ok()
        });
        let first = match resolved {
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        let page = first.map_or(DEFAULT_PAGE_SIZE, |n| {
            u64::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)
        });
        page.max(1)
    }
}
