//! A field's arguments as a read-ahead sees them in the selection: variables and defaults
//! resolved, coerced by async-graphql's own `InputType::parse`, as the resolver will get them.

use async_graphql::{InputType, SelectionField};

/// A selection's argument `name`, coerced as the resolver's would be: `Some(None)` when
/// absent or null, `None` when it does not coerce (the resolver reports that).
pub(super) fn argument<T: InputType>(
    selection: &SelectionField<'_>,
    name: &str,
) -> Option<Option<T>> {
    let arguments = selection.arguments().ok()?;
    match arguments.into_iter().find(|(n, _)| n.as_str() == name) {
        None => Some(None),
        Some((_, value)) => <Option<T> as InputType>::parse(Some(value)).ok(),
    }
}
