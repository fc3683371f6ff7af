//! [`KeepsakeSchema`]: the one way to execute a request, so every execution gets the limits
//! before it and its errors' codes after it.
//!
//! The limits could be an async-graphql extension, and were; but a schema with any extension
//! sends every field through the extension chain (a registry lookup and two boxed futures a
//! field, whether or not an extension hooks fields), and the limits need no field. So the
//! schema that executes has no extensions, and this wrapper checks the limits around it: the
//! document is measured first (`limits::measure`). One over a limit is handed to a second
//! schema that carries the [`Limits`] extension, which validates it and then refuses it,
//! exactly as before: a misspelt field is still reported as such first.
//!
//! The response's shape (keys in the order the spec collects fields, `{}` for an object whose
//! fields were all skipped, a failed field's `null` at the nearest nullable position) is the
//! executor's own: Keepsake builds async-graphql with a small patch that follows the spec's
//! execution algorithms (`vendor/async-graphql`, docs/async-graphql-patch.md).

use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt as _};
use async_graphql::parser::types::OperationType;
use async_graphql::{
    Data, Executor, Json, PathSegment, Request, Response, SDLExportOptions, Schema, ServerError,
};
use chrono::{DateTime, Utc};

use super::limits::{self, Limits};
use super::{Mutation, Query, Subscription, scalars};

type Inner = Schema<Query, Mutation, Subscription>;

/// Keepsake's executable schema; see the module's docs.
#[derive(Clone)]
pub struct KeepsakeSchema {
    /// Executes documents within the limits; no extensions.
    fast: Inner,
    /// Answers documents over a limit (validation, then the refusal).
    checked: Inner,
}

impl KeepsakeSchema {
    /// Both schemas from one builder (`data` adds the request-independent data).
    pub(super) fn build(data: impl Fn(SchemaBuilder) -> SchemaBuilder) -> KeepsakeSchema {
        // The library's scalars, described in Keepsake's words.
        let base = || {
            Schema::build(Query::default(), Mutation::default(), Subscription)
                .override_output_type_description::<DateTime<Utc>>(scalars::DATE_TIME)
                .override_input_type_description::<DateTime<Utc>>(scalars::DATE_TIME)
                .override_output_type_description::<Json<serde_json::Value>>(scalars::JSON)
        };
        KeepsakeSchema {
            fast: data(base()).finish(),
            checked: data(base()).extension(Limits).finish(),
        }
    }

    /// Executes `request`: refused when over a limit, and answered in the spec's shape.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let mut request = request.into();
        let variables = std::mem::take(&mut request.variables);
        let over = match request.parsed_query() {
            Ok(document) => limits::check(limits::measure(document, &variables)).is_err(),
            // The checked schema reports what does not parse.
            Err(_) => true,
        };
        request.variables = variables;
        if over {
            return self.checked.execute(request).await;
        }
        merge_repeated_mutations(&mut request);
        let mut response = self.fast.execute(request).await;
        report_merged_fields_once(&mut response);
        code_every_error(&mut response);
        response
    }

    /// Runs a subscription for a WebSocket connection (`session`: its data, who signed in):
    /// refused when over a limit, and only subscriptions, since queries and mutations over
    /// the socket would escape `/graphql`'s budget and fairness.
    pub fn subscribe(
        &self,
        request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let mut request = request;
        let variables = std::mem::take(&mut request.variables);
        let wanted = request.operation_name.clone();
        let (over, operation) = match request.parsed_query() {
            Ok(document) => {
                let over = limits::check(limits::measure(document, &variables)).is_err();
                let name = wanted.as_deref();
                let kind = document
                    .operations
                    .iter()
                    .find(|(n, _)| name.is_none() || n.map(|n| n.as_str()) == name)
                    .map(|(_, op)| op.node.ty);
                (over, kind)
            }
            Err(_) => (true, None),
        };
        request.variables = variables;
        if over {
            return self
                .checked
                .execute_stream_with_session_data(request, session.unwrap_or_default());
        }
        if matches!(
            operation,
            Some(OperationType::Query | OperationType::Mutation)
        ) {
            let mut refusal = ServerError::new(
                "only subscriptions are served over /graphql/ws: send queries and mutations \
                 to /graphql",
                None,
            );
            refusal
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "BAD_USER_INPUT");
            let refusal = Response::from_errors(vec![refusal]);
            return stream::once(async move { refusal }).boxed();
        }
        self.fast
            .execute_stream_with_session_data(request, session.unwrap_or_default())
            .map(|mut response| {
                code_every_error(&mut response);
                // Refusals before execution: what `/graphql`'s handler codes for HTTP.
                for error in response.errors.iter_mut() {
                    let extensions = error.extensions.get_or_insert_with(Default::default);
                    if extensions.get("code").is_none() {
                        extensions.set("code", "GRAPHQL_VALIDATION_FAILED");
                    }
                }
                response
            })
            .boxed()
    }

    /// The schema in SDL, each scalar with its `@specifiedBy` where it has one.
    pub fn sdl(&self) -> String {
        self.fast
            .sdl_with_options(SDLExportOptions::new().include_specified_by())
    }
}

/// A mutation asked for twice under one response key (`{ a: deleteUser(id: 1) { id }
/// a: deleteUser(id: 1) { reason } }`) is one field to the spec: it runs once, with both
/// selections. async-graphql would run each occurrence, so the second delete would fail. The
/// root's fields (through inline fragments without directives, which at the root can only be
/// on `Mutation`) are merged before execution: the first occurrence takes the later ones'
/// selections, and the later ones go. Validation has made sure they are the same field with
/// the same arguments; fields with directives, and named fragments (whose definitions would
/// go unused), are left as they are.
fn merge_repeated_mutations(request: &mut Request) {
    use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
    let Ok(document) = request.parsed_query() else {
        return;
    };
    let mutation = match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => {
            ops.values().any(|op| op.node.ty == OperationType::Mutation)
        }
    };
    if !mutation {
        return;
    }
    let mut document = document.clone();
    let operations: Vec<&mut async_graphql::parser::types::OperationDefinition> =
        match &mut document.operations {
            DocumentOperations::Single(op) => vec![&mut op.node],
            DocumentOperations::Multiple(ops) => ops.values_mut().map(|op| &mut op.node).collect(),
        };
    let mut changed = false;
    for op in operations {
        if op.ty != OperationType::Mutation {
            continue;
        }
        // The root's fields in order, fragments without directives opened in place.
        let mut flat = Vec::new();
        let mut stack: Vec<_> = op.selection_set.node.items.drain(..).rev().collect();
        let mut opened = 0;
        while let Some(item) = stack.pop() {
            let inner = match &item.node {
                Selection::InlineFragment(f) if f.node.directives.is_empty() && opened < 64 => {
                    Some(f.node.selection_set.node.items.clone())
                }
                _ => None,
            };
            match inner {
                Some(items) => {
                    opened += 1;
                    changed = true;
                    stack.extend(items.into_iter().rev());
                }
                None => flat.push(item),
            }
        }
        let mut merged: Vec<async_graphql::Positioned<Selection>> = Vec::with_capacity(flat.len());
        for item in flat {
            let Selection::Field(field) = &item.node else {
                merged.push(item);
                continue;
            };
            let key = field.node.response_key().node.clone();
            let same = merged
                .iter_mut()
                .find_map(|earlier| match &mut earlier.node {
                    Selection::Field(e)
                        if e.node.response_key().node == key
                            && e.node.directives.is_empty()
                            && field.node.directives.is_empty() =>
                    {
                        Some(e)
                    }
                    _ => None,
                });
            match same {
                Some(earlier) => {
                    changed = true;
                    let later = field.node.selection_set.node.items.clone();
                    earlier.node.selection_set.node.items.extend(later);
                }
                None => merged.push(item),
            }
        }
        op.selection_set.node.items = merged;
    }
    if changed {
        request.set_parsed_query(document);
    }
}

/// A field asked for twice under one response key is one field to the spec (its selections
/// merged), and reports its error once; async-graphql resolves each occurrence and merges
/// the answers, so the same error can come twice, at the same path. The first is kept.
fn report_merged_fields_once(response: &mut Response) {
    if response.errors.len() < 2 {
        return;
    }
    let mut seen: Vec<(&[PathSegment], &str)> = Vec::new();
    let mut keep = Vec::with_capacity(response.errors.len());
    for error in &response.errors {
        let key = (error.path.as_slice(), error.message.as_str());
        let first = error.path.is_empty() || !seen.contains(&key);
        if first {
            seen.push(key);
        }
        keep.push(first);
    }
    let mut keep = keep.into_iter();
    response.errors.retain(|_| keep.next().unwrap_or(true));
}

/// Gives every field error an `extensions.code`. Keepsake's own errors carry one already;
/// the ones async-graphql makes itself do not: an argument its scalar cannot parse (a file
/// marker where no file was sent, a malformed date) is the client's to fix.
fn code_every_error(response: &mut Response) {
    // Errors without a path are refusals before execution; `graphql_http` codes those.
    for error in response.errors.iter_mut().filter(|e| !e.path.is_empty()) {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            let code = if error.message.starts_with("Failed to parse") {
                "BAD_USER_INPUT"
            } else {
                "INTERNAL"
            };
            extensions.set("code", code);
        }
    }
}

/// What [`KeepsakeSchema::build`] starts from.
pub(super) type SchemaBuilder = async_graphql::SchemaBuilder<Query, Mutation, Subscription>;

/// The executor async-graphql's WebSocket transport drives: [`KeepsakeSchema::subscribe`].
impl Executor for KeepsakeSchema {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        KeepsakeSchema::execute(self, request)
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.subscribe(request, session_data)
    }
}
