//! Integer arguments too wide for GraphQL's `Int`, found during the walk: async-graphql lets
//! them through validation and would fail the field at run time without a code.

use async_graphql::Value;
use async_graphql::parser::types::Field;

use super::walk::Walk;

impl Walk<'_> {
    /// Records the first integer argument (a literal or a variable) outside the 32 bits
    /// GraphQL's `Int` holds. async-graphql lets it through validation and fails the field at
    /// run time without a code. Only arguments that are numbers themselves are checked (every
    /// such argument of this schema is an `Int`, like `first`); fields inside input objects
    /// are typed by the input, and `sizeBytes` there is 64-bit on purpose.
    pub(super) fn check_ints(&mut self, field: &Field) {
        if self.measure.int_out_of_range.is_some() {
            return;
        }
        for (name, value) in &field.arguments {
            let Ok(value) = value
                .node
                .clone()
                .into_const_with(|var| self.variables.get(&var).cloned().ok_or(()))
            else {
                continue;
            };
            if let Some(bad) =
                int_out_of_range(&value).filter(|_| matches!(value, Value::Number(_)))
            {
                self.measure.int_out_of_range = Some((name.node.to_string(), bad));
                return;
            }
        }
    }
}

/// `value`, when it is an integer that does not fit an `i32`.
fn int_out_of_range(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => {
            let wide = n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX))?;
            i32::try_from(wide).is_err().then_some(wide)
        }
        _ => None,
    }
}
