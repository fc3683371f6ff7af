//! The document, before the schema runs it: parsing it ahead of execution, so a syntax error
//! is answered as one, and the checks async-graphql leaves to execution (required variables,
//! and whether the operation to run is a mutation, which GET may not send).

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::{ServerError, Value};

use super::codes::{PARSE_FAILED, VALIDATION_FAILED, set_code};

/// Parses the request's document ahead of execution (the schema reuses it), so a syntax
/// error is answered as one, with `GRAPHQL_PARSE_FAILED`, before any database work.
/// Document-level rules the parser enforces (one anonymous operation, unique names, the
/// nesting limit) are validation errors.
/// Documents that parsed, by their text, are kept in `parsed` (a client sends the same few
/// documents over and over; a copy of the tree costs a fraction of parsing the text again).
/// A document of more than `max_tokens` lexical tokens is refused before the parser sees it
/// (`tokens.rs`), so what a document costs to refuse is bounded by the limit, not its size.
pub fn parse_document(
    request: &mut async_graphql::Request,
    parsed: &ParsedDocuments,
    max_tokens: usize,
) -> Result<(), ServerError> {
    use async_graphql::parser::Error;
    if let Some(document) = parsed.get(&request.query) {
        request.set_parsed_query(document);
        return Ok(());
    }
    if super::tokens::count_tokens(&request.query, max_tokens) > max_tokens {
        let mut error = ServerError::new(
            format!(
                "the document holds more than {max_tokens} tokens (names, punctuation, values), \
                 the most this server reads; send a smaller document, or ask in several requests"
            ),
            None,
        );
        set_code(&mut error, PARSE_FAILED);
        return Err(error);
    }
    let err = match async_graphql::parser::parse_query(&request.query) {
        Ok(document) => {
            parsed.insert(&request.query, &document);
            request.set_parsed_query(document);
            return Ok(());
        }
        Err(err) => err,
    };
    let (message, code) = match &err {
        Error::Syntax { message, start, .. } => (
            format!(
                "syntax error at line {}, column {}: {}",
                start.line,
                start.column,
                syntax_reason(message)
            ),
            PARSE_FAILED,
        ),
        Error::RecursionLimitExceeded => (
            "the query is nested too deep to be read".to_owned(),
            VALIDATION_FAILED,
        ),
        Error::MissingOperation => (
            "the document holds no operation; send a query such as { me { id } }".to_owned(),
            VALIDATION_FAILED,
        ),
        other => (
            format!("the document cannot run: {other}"),
            VALIDATION_FAILED,
        ),
    };
    let mut error = ServerError::new(message, None);
    error.locations = err.positions().collect();
    set_code(&mut error, code);
    Err(error)
}

/// Parsed documents by their text: in memory, per server, the least recently used forgotten
/// first past [`ParsedDocuments::MAX_DOCUMENTS`]; documents longer than
/// [`ParsedDocuments::MAX_TEXT`] are parsed each time, so the memory stays small whatever
/// clients send.
pub struct ParsedDocuments {
    cache: Mutex<lru::LruCache<String, ExecutableDocument>>,
}

impl Default for ParsedDocuments {
    fn default() -> ParsedDocuments {
        ParsedDocuments {
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(Self::MAX_DOCUMENTS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl ParsedDocuments {
    /// How many parsed documents a server keeps.
    pub const MAX_DOCUMENTS: usize = 256;
    /// The longest document text kept.
    pub const MAX_TEXT: usize = 8 * 1024;

    fn get(&self, text: &str) -> Option<ExecutableDocument> {
        if text.len() > Self::MAX_TEXT {
            return None;
        }
        self.lock().get(text).cloned()
    }

    fn insert(&self, text: &str, document: &ExecutableDocument) {
        if text.len() <= Self::MAX_TEXT {
            self.lock().put(text.to_owned(), document.clone());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<String, ExecutableDocument>> {
        // A panic while holding the lock leaves the cache consistent: use it anyway.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The reason in a pest error (its last `= …` line), without the drawing above it.
fn syntax_reason(message: &str) -> &str {
    message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("= "))
        .unwrap_or(message.trim())
}

/// Checks what the schema's validation leaves to execution: a non-null variable without a
/// default must be given, and not as `null` (the spec's variable coercion). Async-graphql
/// would otherwise run the operation and fail the field that uses it.
pub fn check_required_variables(request: &mut async_graphql::Request) -> Vec<ServerError> {
    let variables = request.variables.clone();
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return Vec::new();
    };
    let Some(operation) = selected_operation(&document.operations, name.as_deref()) else {
        return Vec::new(); // execution names the missing operation
    };
    operation
        .variable_definitions
        .iter()
        .filter(|definition| {
            let definition = &definition.node;
            !definition.var_type.node.nullable
                && definition.default_value.is_none()
                && variables
                    .get(definition.name.node.as_str())
                    .is_none_or(|value| *value == Value::Null)
        })
        .map(|definition| {
            let (name, ty) = (&definition.node.name.node, &definition.node.var_type.node);
            let given = variables.get(name.as_str()).is_some();
            let mut error = ServerError::new(
                if given {
                    format!("variable \"${name}\" of non-null type \"{ty}\" must not be null")
                } else {
                    format!("variable \"${name}\" of required type \"{ty}\" was not provided")
                },
                Some(definition.pos),
            );
            set_code(&mut error, VALIDATION_FAILED);
            error
        })
        .collect()
}

/// Whether the operation a request would run is a mutation: the one it names, its only one,
/// or, when it holds several and names none, any of them.
pub fn is_mutation(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false; // parse_document has answered it already
    };
    match selected_operation(&document.operations, name.as_deref()) {
        Some(operation) => operation.ty == OperationType::Mutation,
        None => {
            name.is_none()
                && document
                    .operations
                    .iter()
                    .any(|(_, operation)| operation.node.ty == OperationType::Mutation)
        }
    }
}

/// Whether some selection set of the document asks for one response key twice with a
/// selection under it (`{ a { x } a { y } }`, also through fragments): async-graphql resolves
/// each and merges the results, which a spliced list of leaves (`graphql/leaves.rs`) cannot
/// take part in, so such a request resolves its lists field by field.
pub fn repeats_object_keys(request: &mut async_graphql::Request) -> bool {
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let fragments = &document.fragments;
    let mut sets: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    sets.extend(fragments.values().map(|f| &f.node.selection_set.node));
    sets.into_iter().any(|set| repeats_in(set, fragments))
}

/// [`repeats_object_keys`] for one selection set and those under it.
fn repeats_in(
    set: &SelectionSet,
    fragments: &std::collections::HashMap<
        async_graphql::Name,
        async_graphql::Positioned<FragmentDefinition>,
    >,
) -> bool {
    // The set's fields with fragments flattened, as execution collects them; a fragment
    // spread twice counts twice (and a cycle, which validation refuses, stops at the depth).
    let mut keys: Vec<&str> = Vec::new();
    let mut pending: Vec<(&SelectionSet, usize)> = vec![(set, 0)];
    while let Some((set, depth)) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.selection_set.node.items.is_empty() {
                        continue;
                    }
                    let key = field.response_key().node.as_str();
                    if keys.contains(&key) || repeats_in(&field.selection_set.node, fragments) {
                        return true;
                    }
                    keys.push(key);
                }
                Selection::InlineFragment(inline) if depth < 64 => {
                    pending.push((&inline.node.selection_set.node, depth + 1));
                }
                Selection::FragmentSpread(spread) if depth < 64 => {
                    if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                        pending.push((&fragment.node.selection_set.node, depth + 1));
                    }
                }
                _ => return true,
            }
        }
    }
    false
}

/// The operation a request names, or its only one.
fn selected_operation<'a>(
    operations: &'a DocumentOperations,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Pos;

    use super::*;

    #[test]
    fn syntax_errors_keep_only_the_reason() {
        let mut request = async_graphql::Request::new("{");
        let error = parse_document(&mut request, &ParsedDocuments::default(), 5_000).unwrap_err();
        assert!(
            error
                .message
                .starts_with("syntax error at line 1, column 2: ")
        );
        assert!(!error.message.contains('\n'), "{}", error.message);
        assert_eq!(error.locations, vec![Pos { line: 1, column: 2 }]);
    }

    #[test]
    fn a_document_parsed_once_comes_back_the_same_and_errors_are_not_kept() {
        let parsed = ParsedDocuments::default();
        let text = "query Q($n: Int) { users(first: $n) { nodes { id ... on User { name } } } }";
        let mut first = async_graphql::Request::new(text);
        parse_document(&mut first, &parsed, 5_000).unwrap();
        let mut second = async_graphql::Request::new(text);
        parse_document(&mut second, &parsed, 5_000).unwrap();
        assert_eq!(parsed.lock().len(), 1);
        let (a, b) = (
            first.parsed_query().unwrap(),
            second.parsed_query().unwrap(),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let mut broken = async_graphql::Request::new("{ users(");
        assert!(parse_document(&mut broken, &parsed, 5_000).is_err());
        assert!(parse_document(&mut broken, &parsed, 5_000).is_err());
        assert_eq!(parsed.lock().len(), 1);
        let long = format!(
            "{{ {} }}",
            "__typename ".repeat(ParsedDocuments::MAX_TEXT / 10)
        );
        parse_document(&mut async_graphql::Request::new(long), &parsed, 5_000).unwrap();
        assert_eq!(parsed.lock().len(), 1, "a long document is not kept");
    }
}
