//! The response in the shape the GraphQL spec asks for, applied by
//! [`super::KeepsakeSchema::execute`] to every execution: response keys in the query's
//! order, and GraphQL's null propagation for field errors. async-graphql 7 does neither.
//!
//! The spec says a field that fails is `null` beside its error, and when the field is
//! non-null the `null` moves up to the nearest nullable parent (or to `data` itself).
//! async-graphql 7 instead leaves the failed field's key out and keeps the parent, and turns
//! `data` into `null` when every root field failed. Clients then read `undefined` where the
//! schema promised a value. [`shape`] repairs each response that has field errors from the
//! schema's own registry and the request's document (aliases, fragments); a response
//! without errors only has its keys put in order.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::registry::{MetaTypeName, Registry};
use async_graphql::{Name, PathSegment, Response, Value};

/// Whether `response` has field errors, whose `null`s only the schema's types can place.
pub fn needs_types(response: &Response) -> bool {
    response.errors.iter().any(|e| !e.path.is_empty())
}

/// Puts `response` (of operation `operation_name` of `document`) in the spec's shape: when
/// fields failed, moves each error's `null` to where the spec puts it, from `registry`'s
/// types (given whenever [`needs_types`] says so); then puts the keys in the query's order
/// (keys the repair inserted included).
pub fn shape(
    registry: Option<&Registry>,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    response: &mut Response,
) {
    let Some(op) = operation(document, operation_name) else {
        return;
    };
    let selection = &op.selection_set.node;
    if let Some(registry) = registry
        && needs_types(response)
        && let Some(root) = root_type(registry, op)
    {
        propagate_nulls(registry, document, root, selection, response);
    }
    order_keys(document, &[selection], &mut response.data);
}

/// Puts each field error's `null` at the nearest nullable position of its path.
fn propagate_nulls(
    registry: &Registry,
    document: &ExecutableDocument,
    root: &str,
    selection: &SelectionSet,
    response: &mut Response,
) {
    let paths: Vec<Vec<PathSegment>> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.clone())
        .collect();
    if response.data == Value::Null {
        // Every root field failed; rebuild `data` from their errors.
        response.data = Value::Object(Default::default());
    }
    for path in paths {
        let Some(nullable) = nullable_positions(registry, document, root, selection, &path) else {
            continue; // a path we cannot type: leave it as async-graphql made it
        };
        match nullable.iter().rposition(|n| *n) {
            Some(k) => set_null(&mut response.data, &path[..=k]),
            None => {
                response.data = Value::Null;
                return;
            }
        }
    }
}

/// The type of `owner.field`, as the registry spells it (`[User!]!`); an interface's
/// concrete fields too (`... on User { email }` under `node`).
fn field_type<'r>(registry: &'r Registry, owner: &str, field: &str) -> Option<&'r str> {
    let ty = registry.types.get(owner)?;
    if let Some(meta) = ty.field_by_name(field) {
        return Some(&meta.ty);
    }
    ty.possible_types()?
        .iter()
        .find_map(|concrete| registry.types.get(concrete)?.field_by_name(field))
        .map(|meta| meta.ty.as_str())
}

/// For each segment of `path`, whether that position may be null.
fn nullable_positions(
    registry: &Registry,
    document: &ExecutableDocument,
    root: &str,
    selection: &SelectionSet,
    path: &[PathSegment],
) -> Option<Vec<bool>> {
    let mut flags = Vec::with_capacity(path.len());
    let mut owner = root;
    let mut selection = selection;
    let mut current: Option<MetaTypeName<'_>> = None;
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                let field = find_field(document, selection, key)?;
                let ty = field_type(registry, owner, field.name.node.as_str())?;
                let tref = MetaTypeName::create(ty);
                flags.push(!tref.is_non_null());
                owner = MetaTypeName::concrete_typename(ty);
                selection = &field.selection_set.node;
                current = Some(tref);
            }
            PathSegment::Index(_) => {
                let MetaTypeName::List(element) = current?.unwrap_non_null() else {
                    return None;
                };
                let element = MetaTypeName::create(element);
                flags.push(!element.is_non_null());
                current = Some(element);
            }
        }
    }
    Some(flags)
}

/// The operation a request runs.
fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    let op = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(&Name::new(name))?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some(&op.node)
}

/// The name of the root type `op` starts from.
fn root_type<'a>(registry: &'a Registry, op: &OperationDefinition) -> Option<&'a str> {
    match op.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => None,
    }
}

/// The field of `selection` whose response key (alias or name) is `key`, through fragments.
fn find_field<'a>(
    document: &'a ExecutableDocument,
    selection: &'a SelectionSet,
    key: &str,
) -> Option<&'a Field> {
    selection.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => {
            let f = &field.node;
            let response_key = f.alias.as_ref().map_or(&f.name.node, |a| &a.node);
            (response_key.as_str() == key).then_some(f)
        }
        Selection::InlineFragment(fragment) => {
            find_field(document, &fragment.node.selection_set.node, key)
        }
        Selection::FragmentSpread(spread) => {
            let fragment = document.fragments.get(&spread.node.fragment_name.node)?;
            find_field(document, &fragment.node.selection_set.node, key)
        }
    })
}

/// Puts every object's keys in the order its selection set asks for them, as the spec says
/// (first occurrence wins, fragments in place). async-graphql 7 resolves a selection's fields
/// concurrently and keeps them in the order they *finish*.
fn order_keys(document: &ExecutableDocument, selections: &[&SelectionSet], value: &mut Value) {
    if !matches!(value, Value::Object(_) | Value::List(_)) {
        return;
    }
    order_with(document, &Keys::of(document, selections), value);
}

/// The response keys of some selection sets, in order, each with the keys of its own
/// selection, worked out the first time an object needs them: once a response, not once an
/// object (a page of 50 users would work out its `attachments` keys 50 times).
struct Keys<'a> {
    keys: Vec<(
        &'a str,
        Vec<&'a SelectionSet>,
        std::cell::OnceCell<Keys<'a>>,
    )>,
}

impl<'a> Keys<'a> {
    fn of(document: &'a ExecutableDocument, selections: &[&'a SelectionSet]) -> Keys<'a> {
        let mut keys = Vec::new();
        for selection in selections {
            response_keys(document, selection, &mut keys, 0);
        }
        Keys {
            keys: keys
                .into_iter()
                .map(|(key, sets)| (key, sets, std::cell::OnceCell::new()))
                .collect(),
        }
    }

    fn position(&self, key: &str) -> usize {
        self.keys
            .iter()
            .position(|(k, _, _)| *k == key)
            .unwrap_or(usize::MAX)
    }
}

/// Orders `value` (an object, or a list of them) by `keys`, then each child by its own.
fn order_with<'a>(document: &'a ExecutableDocument, keys: &Keys<'a>, value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Sorting rehashes every key; most objects are in order already.
            let ordered = map.keys().map(|k| keys.position(k.as_str())).is_sorted();
            if !ordered {
                map.sort_by(|a, _, b, _| keys.position(a.as_str()).cmp(&keys.position(b.as_str())));
            }
            for (key, children, nested) in &keys.keys {
                if children.iter().any(|set| !set.items.is_empty())
                    && let Some(child) = map.get_mut(*key)
                    && matches!(child, Value::Object(_) | Value::List(_))
                {
                    let nested = nested.get_or_init(|| Keys::of(document, children));
                    order_with(document, nested, child);
                }
            }
        }
        Value::List(items) => {
            for item in items {
                order_with(document, keys, item);
            }
        }
        _ => {}
    }
}

/// The response keys of `selection` in document order, each with the selection sets asked
/// of it (several when a key is selected more than once), fragments flattened in place.
fn response_keys<'a>(
    document: &'a ExecutableDocument,
    selection: &'a SelectionSet,
    keys: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    fragment_depth: usize,
) {
    // Fragment cycles were refused by validation; the bound is a second guard.
    if fragment_depth > 64 {
        return;
    }
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => {
                let f = &field.node;
                let key = f.alias.as_ref().map_or(&f.name.node, |a| &a.node).as_str();
                let children = &f.selection_set.node;
                match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, sets)) => sets.push(children),
                    None => keys.push((key, vec![children])),
                }
            }
            Selection::InlineFragment(fragment) => response_keys(
                document,
                &fragment.node.selection_set.node,
                keys,
                fragment_depth + 1,
            ),
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    response_keys(
                        document,
                        &fragment.node.selection_set.node,
                        keys,
                        fragment_depth + 1,
                    );
                }
            }
        }
    }
}

/// Sets the value at `path` to null, inserting the key if it is missing. Nothing happens
/// when a parent on the way is already null.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = data;
    for segment in parents {
        node = match (segment, node) {
            (PathSegment::Field(key), Value::Object(map)) => match map.get_mut(key.as_str()) {
                Some(child) => child,
                None => return,
            },
            (PathSegment::Index(i), Value::List(items)) => match items.get_mut(*i) {
                Some(child) => child,
                None => return,
            },
            _ => return,
        };
    }
    match (last, node) {
        (PathSegment::Field(key), Value::Object(map)) => {
            map.insert(Name::new(key), Value::Null);
        }
        (PathSegment::Index(i), Value::List(items)) => {
            if let Some(item) = items.get_mut(*i) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}
