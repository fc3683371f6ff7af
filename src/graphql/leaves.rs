//! Lists whose objects ask only for plain fields, resolved in one pass.
//!
//! async-graphql resolves every field of every object as a boxed future of its own, walked
//! through the extension chain and merged into a hashed map: on the yardstick page (50 users
//! with their 500 attachments) that is ~1,500 futures for `id filename sizeBytes` alone.
//! A type that implements [`Leaves`] names the fields it can answer from its row without
//! I/O, a permission check or an error; a [`LeafList`] of it resolves a selection made only
//! of those fields (and `__typename`) by building each object directly, keys in the
//! selection's order, written straight to JSON and handed to the executor as one spliced
//! value (`crate::json`): no `Value` tree, no hashed map per object. Anything else (a field with arguments or directives, a fragment, a
//! field that loads or may fail, such as an attachment's `owner`) resolves the whole list
//! the usual way, so loads still batch and errors still carry their paths, unless the type
//! writes such a selection in one pass itself ([`Leaves::write_nested`]: a page of users
//! with their attachments, `user/leaves.rs`).
//!
//! Nothing here decides what a viewer may see: the rows were read in their scope, and a
//! leaf is a field anyone who sees the row may read. `tests/api/leaves.rs` checks that each
//! leaf answers exactly what the field's resolver does. (Extensions that hook `resolve`
//! would not see leaf fields; the schema registers none.)

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_list;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};

use super::context::{RequestContext, Services};
use crate::json;

/// Writes a leaf's value (from [`Leaves::leaf`]) as JSON to `out`; `false`, nothing written,
/// when there is none: what [`Leaves::write_leaf`] does for the fields a type does not write
/// itself.
pub fn write_leaf_value(value: Option<Value>, out: &mut Vec<u8>) -> bool {
    value.is_some_and(|value| json::write_value(&value, out).is_ok())
}

/// An output type some of whose fields are plain values of its row.
pub trait Leaves: OutputType {
    /// The value of field `name` when it is one of this type's plain fields (exactly what
    /// its resolver returns, for any viewer who sees the row); `None` for any other field.
    fn leaf(&self, name: &str) -> Option<Value>;

    /// Writes field `name`'s value as JSON to `out` when it is one of this type's plain
    /// fields, exactly as [`Leaves::leaf`]'s value would be written; `false` (nothing
    /// written) for any other field. A type overrides it for fields it can write without
    /// building a `Value` first.
    fn write_leaf(&self, name: &str, out: &mut Vec<u8>) -> bool {
        write_leaf_value(self.leaf(name), out)
    }

    /// A list of `items` for a selection that asks for more than plain fields (a nested
    /// list the request already read, say), written to JSON text in a splice buffer in one
    /// pass when this type can; `None` resolves the list field by field. `field` is the list's
    /// field, `ctx` its items' selection.
    fn write_nested(
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        items: &[Self],
    ) -> Option<Vec<u8>>
    where
        Self: Sized,
    {
        let _ = (ctx, field, items);
        None
    }
}

/// A list field's value: `[T!]!` in the schema, resolved in one pass when it can be.
pub struct LeafList<'a, T>(pub &'a [T]);

/// What a selection asks of each object: its response keys with the field each names.
pub(super) enum Ask<'a> {
    Field(&'a str),
    Typename,
}

/// The selection as (response key, ask) pairs, or `None` when it holds anything but plain
/// fields without arguments or directives.
pub(super) fn plan(items: &[Positioned<Selection>]) -> Option<Vec<(&Name, Ask<'_>)>> {
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field: &Field = &field.node;
        if !field.arguments.is_empty()
            || !field.directives.is_empty()
            || !field.selection_set.node.items.is_empty()
        {
            return None;
        }
        let name = field.name.node.as_str();
        let key = field.alias.as_ref().map_or(&field.name.node, |a| &a.node);
        // A key asked twice is one field (validation made sure they agree).
        if keys.iter().any(|(k, _): &(&Name, Ask)| *k == key) {
            continue;
        }
        let ask = if name == "__typename" {
            Ask::Typename
        } else {
            Ask::Field(name)
        };
        keys.push((key, ask));
    }
    Some(keys)
}

/// Each key as `"key":`, escaped once for a whole list.
pub(super) fn prefixes<'n>(keys: impl IntoIterator<Item = &'n Name>) -> Option<Vec<Vec<u8>>> {
    let mut prefixes = Vec::new();
    for key in keys {
        let mut prefix = Vec::with_capacity(key.len() + 3);
        json::write_key(key, &mut prefix).ok()?;
        prefixes.push(prefix);
    }
    Some(prefixes)
}

/// The list as JSON text in a splice buffer, or `None` when a field is not one of `T`'s
/// leaves.
fn render<T: Leaves>(items: &[T], keys: &[(&Name, Ask<'_>)]) -> Option<Vec<u8>> {
    let prefixes = prefixes(keys.iter().map(|(key, _)| *key))?;
    let mut out = json::splice_buffer(2 + items.len() * (keys.len() * 24 + 2));
    write_list(items, keys, &prefixes, &mut out)?;
    Some(out)
}

/// Writes the list as JSON to `out` (each key's `prefixes` entry before its value), or
/// `None` when a field is not one of `T`'s leaves (`out` then holds part of it).
pub(super) fn write_list<T: Leaves>(
    items: &[T],
    keys: &[(&Name, Ask<'_>)],
    prefixes: &[Vec<u8>],
    out: &mut Vec<u8>,
) -> Option<()> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (j, ((_, ask), prefix)) in keys.iter().zip(prefixes).enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(prefix);
            match ask {
                Ask::Typename => json::write_str(&item.introspection_type_name(), out).ok()?,
                Ask::Field(name) => {
                    if !item.write_leaf(name, out) {
                        return None;
                    }
                }
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    Some(())
}

impl<T: Leaves> OutputType for LeafList<'_, T> {
    fn type_name() -> Cow<'static, str> {
        <&[T] as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <&[T] as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <&[T] as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // A request that resolves field by field (`RequestContext::by_field`) splices nothing.
        if !ctx.data_opt::<RequestContext>().is_some_and(|r| r.by_field) {
            let (text, nested) = match plan(&ctx.item.node.items) {
                Some(keys) => (render(self.0, &keys), false),
                None => (T::write_nested(ctx, field, self.0), true),
            };
            if let Some(text) = text {
                if let Some(services) = ctx.data_opt::<Arc<Services>>() {
                    services.metrics.list_in_one_pass(nested);
                }
                return Ok(json::spliced(text));
            }
        }
        resolve_list(ctx, field, self.0, Some(self.0.len())).await
    }
}
