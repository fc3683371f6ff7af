use std::collections::{HashMap, HashSet};

use crate::{
    Positioned,
    parser::types::{Field, Selection, SelectionSet},
    validation::visitor::{Visitor, VisitorContext},
};

#[derive(Default)]
pub struct OverlappingFieldsCanBeMerged;

// KEEPSAKE PATCH (docs/async-graphql-patch.md): fields under one response key are compared
// whenever the spec says they may merge: their parent types are the same, or either is not
// an object type (an interface). 7.2.1 keyed fields by the fragment's type condition, and a
// selection's own fields by none, so `{ a(x: 1) ... on Query { a(x: 2) } }` and fields under
// `... on Node` beside `... on User` were never compared, and their answers were merged.
impl<'a> Visitor<'a> for OverlappingFieldsCanBeMerged {
    fn enter_selection_set(
        &mut self,
        ctx: &mut VisitorContext<'a>,
        selection_set: &'a Positioned<SelectionSet>,
    ) {
        let parent = ctx.current_type().map(|ty| ty.name());
        let mut find_conflicts = FindConflicts {
            outputs: Default::default(),
            visited: Default::default(),
            ctx,
        };
        find_conflicts.find(parent, selection_set);
    }
}

struct FindConflicts<'a, 'ctx> {
    outputs: HashMap<&'a str, Vec<(Option<&'a str>, &'a Positioned<Field>)>>,
    visited: HashSet<&'a str>,
    ctx: &'a mut VisitorContext<'ctx>,
}

impl<'a> FindConflicts<'a, '_> {
    pub fn find(&mut self, on_type: Option<&'a str>, selection_set: &'a Positioned<SelectionSet>) {
        for selection in &selection_set.node.items {
            match &selection.node {
                Selection::Field(field) => {
                    let output_name = field
                        .node
                        .alias
                        .as_ref()
                        .map(|name| &name.node)
                        .unwrap_or_else(|| &field.node.name.node);
                    self.add_output(on_type, output_name, field);
                }
                Selection::InlineFragment(inline_fragment) => {
                    // A fragment without a type condition keeps its parent's type.
                    let on_type = inline_fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map(|cond| cond.node.on.node.as_str())
                        .or(on_type);
                    self.find(on_type, &inline_fragment.node.selection_set);
                }
                Selection::FragmentSpread(fragment_spread) => {
                    if let Some(fragment) =
                        self.ctx.fragment(&fragment_spread.node.fragment_name.node)
                    {
                        let on_type = Some(fragment.node.type_condition.node.on.node.as_str());

                        if !self
                            .visited
                            .insert(fragment_spread.node.fragment_name.node.as_str())
                        {
                            // To avoid recursing itself, this error is detected by the
                            // `NoFragmentCycles` validator.
                            continue;
                        }

                        self.find(on_type, &fragment.node.selection_set);
                    }
                }
            }
        }
    }

    /// Whether fields under these two parent types must be the same to share a key: unless
    /// both are object types, and different ones (then no object is both).
    fn may_meet(&self, a: Option<&str>, b: Option<&str>) -> bool {
        let is_object = |name: Option<&str>| {
            name.and_then(|name| self.ctx.registry.types.get(name))
                .is_some_and(|ty| matches!(ty, crate::registry::MetaType::Object { .. }))
        };
        a == b || !is_object(a) || !is_object(b)
    }

    fn add_output(
        &mut self,
        on_type: Option<&'a str>,
        name: &'a str,
        field: &'a Positioned<Field>,
    ) {
        let previous: Vec<&'a Positioned<Field>> = self
            .outputs
            .get(name)
            .into_iter()
            .flatten()
            .filter(|(prev_type, _)| self.may_meet(*prev_type, on_type))
            .map(|(_, prev)| *prev)
            .collect();
        for prev_field in previous {
            if prev_field.node.name.node != field.node.name.node {
                self.ctx.report_error(
                    vec![prev_field.pos, field.pos],
                    format!("Fields \"{}\" conflict because \"{}\" and \"{}\" are different fields. Use different aliases on the fields to fetch both if this was intentional.",
                            name, prev_field.node.name.node, field.node.name.node));
                continue;
            }

            // check arguments
            let same_arguments = prev_field.node.arguments.len() == field.node.arguments.len()
                && prev_field.node.arguments.iter().all(|(arg, value)| {
                    field.node.get_argument(&arg.node) == Some(value)
                });
            if !same_arguments {
                self.ctx.report_error(
                    vec![prev_field.pos, field.pos],
                    format!("Fields \"{}\" conflict because they have differing arguments. Use different aliases on the fields to fetch both if this was intentional.", name));
            }
        }
        self.outputs.entry(name).or_default().push((on_type, field));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn factory() -> OverlappingFieldsCanBeMerged {
        OverlappingFieldsCanBeMerged
    }

    #[test]
    fn same_field_on_different_type() {
        expect_passes_rule!(
            factory,
            r#"
          {
           pet {
            ... on Dog {
                doesKnowCommand(dogCommand: SIT)
            }
            ... on Cat {
                doesKnowCommand(catCommand: JUMP)
            }
           }
          }
        "#,
        );
    }

    #[test]
    fn same_field_on_same_type() {
        expect_fails_rule!(
            factory,
            r#"
          {
           pet {
            ... on Dog {
                doesKnowCommand(dogCommand: SIT)
            }
            ... on Dog {
                doesKnowCommand(dogCommand: Heel)
            }
           }
          }
        "#,
        );
    }

    #[test]
    fn same_alias_on_different_type() {
        expect_passes_rule!(
            factory,
            r#"
          {
           pet {
            ... on Dog {
                volume: barkVolume
            }
            ... on Cat {
                volume: meowVolume
            }
           }
          }
        "#,
        );
    }
}
