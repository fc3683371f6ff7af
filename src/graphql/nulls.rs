//! GraphQL's null propagation for field errors, and response keys in the query's order:
//! two things async-graphql 7 does not do.
//!
//! The spec says a field that fails is `null` beside its error, and when the field is
//! non-null the `null` moves up to the nearest nullable parent (or to `data` itself).
//! async-graphql 7 instead leaves the failed field's key out and keeps the parent, and turns
//! `data` into `null` when every root field failed. Clients then read `undefined` where the
//! schema promised a value. [`Nullability::propagate`] repairs each response from the
//! schema's own type information and the request's document (aliases, fragments).

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{EmptySubscription, Name, PathSegment, Response, Schema, Value};

use super::{Mutation, Query};

/// A field's type, as introspection spells it.
#[derive(Clone, Debug)]
enum TypeRef {
    NonNull(Box<TypeRef>),
    List(Box<TypeRef>),
    Named(String),
}

impl TypeRef {
    fn from_json(t: &serde_json::Value) -> Option<TypeRef> {
        match t["kind"].as_str()? {
            "NON_NULL" => Some(TypeRef::NonNull(Box::new(TypeRef::from_json(
                &t["ofType"],
            )?))),
            "LIST" => Some(TypeRef::List(Box::new(TypeRef::from_json(&t["ofType"])?))),
            _ => Some(TypeRef::Named(t["name"].as_str()?.to_owned())),
        }
    }

    fn nullable(&self) -> bool {
        !matches!(self, TypeRef::NonNull(_))
    }

    fn nullable_inner(&self) -> &TypeRef {
        match self {
            TypeRef::NonNull(inner) => inner,
            other => other,
        }
    }

    fn named(&self) -> &str {
        match self {
            TypeRef::NonNull(inner) | TypeRef::List(inner) => inner.named(),
            TypeRef::Named(name) => name,
        }
    }
}

/// The type of every field of the schema, for null propagation.
#[derive(Debug, Default)]
pub struct Nullability {
    fields: HashMap<(String, String), TypeRef>,
    /// The object types behind each interface or union.
    possible: HashMap<String, Vec<String>>,
}

const INTROSPECT: &str = "{ __schema { types { name possibleTypes { name }
    fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

impl Nullability {
    /// Reads the schema's types (through introspection, without depth or complexity limits).
    pub async fn of_schema() -> Nullability {
        let schema =
            Schema::build(Query::default(), Mutation::default(), EmptySubscription).finish();
        let response = schema.execute(INTROSPECT).await;
        let mut out = Nullability::default();
        let Ok(json) = response.data.into_json() else {
            return out;
        };
        for ty in json["__schema"]["types"].as_array().into_iter().flatten() {
            let Some(owner) = ty["name"].as_str() else {
                continue;
            };
            for field in ty["fields"].as_array().into_iter().flatten() {
                if let (Some(name), Some(tref)) =
                    (field["name"].as_str(), TypeRef::from_json(&field["type"]))
                {
                    out.fields.insert((owner.to_owned(), name.to_owned()), tref);
                }
            }
            if let Some(possible) = ty["possibleTypes"].as_array() {
                let names = possible
                    .iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect();
                out.possible.insert(owner.to_owned(), names);
            }
        }
        out
    }

    fn field_type(&self, owner: &str, field: &str) -> Option<&TypeRef> {
        if let Some(t) = self.fields.get(&(owner.to_owned(), field.to_owned())) {
            return Some(t);
        }
        // An interface's concrete fields (`... on User { email }` under `node`).
        self.possible
            .get(owner)?
            .iter()
            .find_map(|concrete| self.fields.get(&(concrete.clone(), field.to_owned())))
    }

    /// Puts the response's keys in the query's order, and moves each field error's `null`
    /// to where the spec puts it.
    pub fn propagate(
        &self,
        document: Option<&ExecutableDocument>,
        operation_name: Option<&str>,
        response: &mut Response,
    ) {
        let Some(document) = document else {
            return;
        };
        let Some((root, selection)) = operation(document, operation_name) else {
            return;
        };
        order_keys(document, &[selection], &mut response.data);
        let paths: Vec<Vec<PathSegment>> = response
            .errors
            .iter()
            .filter(|e| !e.path.is_empty())
            .map(|e| e.path.clone())
            .collect();
        if paths.is_empty() {
            return;
        }
        if response.data == Value::Null {
            // Every root field failed; rebuild `data` from their errors.
            response.data = Value::Object(Default::default());
        }
        for path in paths {
            let Some(nullable) = self.nullable_positions(document, root, selection, &path) else {
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

    /// For each segment of `path`, whether that position may be null.
    fn nullable_positions(
        &self,
        document: &ExecutableDocument,
        root: &str,
        selection: &SelectionSet,
        path: &[PathSegment],
    ) -> Option<Vec<bool>> {
        let mut flags = Vec::with_capacity(path.len());
        let mut owner = root.to_owned();
        let mut selection = selection;
        let mut current: Option<TypeRef> = None;
        for segment in path {
            match segment {
                PathSegment::Field(key) => {
                    let field = find_field(document, selection, key)?;
                    let tref = self.field_type(&owner, field.name.node.as_str())?.clone();
                    flags.push(tref.nullable());
                    owner = tref.named().to_owned();
                    selection = &field.selection_set.node;
                    current = Some(tref);
                }
                PathSegment::Index(_) => {
                    let TypeRef::List(element) = current?.nullable_inner().clone() else {
                        return None;
                    };
                    flags.push(element.nullable());
                    current = Some(*element);
                }
            }
        }
        Some(flags)
    }
}

/// The operation a request runs: its root type and selection.
fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<(&'static str, &'a SelectionSet)> {
    let op = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(&Name::new(name))?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let root = match op.node.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => return None,
    };
    Some((root, &op.node.selection_set.node))
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
    // The keys of a selection are worked out once, for every object of a list alike.
    let mut keys: Vec<(&str, Vec<&SelectionSet>)> = Vec::new();
    for selection in selections {
        response_keys(document, selection, &mut keys, 0);
    }
    order_with(document, &keys, value);
}

/// Orders `value` (an object, or a list of them) by `keys`, then each child by its own.
fn order_with(
    document: &ExecutableDocument,
    keys: &[(&str, Vec<&SelectionSet>)],
    value: &mut Value,
) {
    match value {
        Value::Object(map) => {
            let position = |key: &str| {
                keys.iter()
                    .position(|(k, _)| *k == key)
                    .unwrap_or(usize::MAX)
            };
            map.sort_by(|a, _, b, _| position(a.as_str()).cmp(&position(b.as_str())));
            for (key, children) in keys {
                if children.iter().any(|set| !set.items.is_empty())
                    && let Some(child) = map.get_mut(*key)
                {
                    order_keys(document, children, child);
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
