//! The column planner and the leaf writer against the type: a row read without a column
//! never answers its default, and every field is in the planner's table.

use crate::error::Error;

use super::columns::{Reads, column_of};
use crate::entity::attachment;
use crate::entity::attachment::Column as C;
use crate::graphql::leaves::Leaves;
use crate::graphql::types::Attachment;
use crate::soft_delete::{Columns, Scope};

fn row() -> attachment::Model {
    attachment::Model {
        id: 7,
        owner_id: 3,
        filename: "a.txt".into(),
        content_type: "text/plain".into(),
        size_bytes: 42,
        created_at: chrono::Utc::now(),
        deleted_at: None,
        deleted_by: None,
        deletion_id: None,
        sha256: None,
        filename_folded: "a.txt".into(),
    }
}

/// A row read without a column never answers the default that stands in for it: the
/// leaf path declines and the resolver's check is an internal error.
#[test]
fn a_field_whose_column_was_not_read_is_an_error_not_a_default() {
    let narrow = Columns::id().with(C::OwnerId).with(C::SizeBytes);
    let a = Attachment::read_with(row(), Scope::Live, narrow);
    assert!(a.read(C::SizeBytes).is_ok());
    for column in [
        C::Filename,
        C::ContentType,
        C::Sha256,
        C::CreatedAt,
        C::DeletedAt,
    ] {
        assert!(
            matches!(a.read(column), Err(Error::Internal(_))),
            "{column:?}"
        );
    }
    let mut out = Vec::new();
    assert!(a.write_leaf("sizeBytes", &mut out));
    assert_eq!(out, b"42");
    for field in [
        "filename",
        "contentType",
        "sha256",
        "createdAt",
        "deletedAt",
    ] {
        assert!(!a.write_leaf(field, &mut Vec::new()), "{field}");
        assert!(a.leaf(field).is_none(), "{field}");
    }
    // `id` and the owner are always read.
    assert!(a.leaf("id").is_some());
    let whole = Attachment::new(row(), Scope::Live);
    assert!(whole.leaf("filename").is_some() && whole.read(C::Sha256).is_ok());
}

/// Every field of the type is in [`column_of`]'s table: one left out would read every
/// column (safe, but the pruning would silently stop).
#[test]
fn every_field_of_attachment_is_mapped_to_its_column() {
    let sdl = crate::graphql::sdl();
    let body = sdl
        .split("type Attachment implements Node {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("the Attachment type in the schema");
    let (mut fields, mut in_doc) = (0, false);
    for line in body.lines().map(str::trim) {
        if let Some(doc) = line.strip_prefix("\"\"\"") {
            // `"""` opens or closes a description; `"""text"""` is one on its own.
            if doc.is_empty() || !doc.ends_with("\"\"\"") {
                in_doc = !in_doc;
            }
            continue;
        }
        if in_doc || line.is_empty() {
            continue;
        }
        let name = line.split(['(', ':']).next().unwrap_or_default().trim();
        fields += 1;
        assert!(!matches!(column_of(name), Reads::Unknown), "{name}");
    }
    assert!(fields >= 9, "{body}");
}

/// A selection reads the id, the owner and its fields' columns, and nothing else; a
/// field the table does not know reads every column; fragments and edges count.
#[tokio::test]
async fn a_selection_reads_only_its_columns() {
    let base = || Columns::<attachment::Entity>::id().with(C::OwnerId);
    let cases = [
        (
            "{ probe { nodes { id filename sizeBytes } } }",
            base().with(C::Filename).with(C::SizeBytes),
        ),
        (
            "{ probe { totalCount pageInfo { hasNextPage } nodes { __typename id owner } } }",
            base(),
        ),
        (
            "{ probe { edges { cursor node { sha256 } } } }",
            base().with(C::Sha256),
        ),
        (
            "{ probe { nodes { ... on Node { createdAt } ...F } } } fragment F on Node { deletedAt deletion }",
            base()
                .with(C::CreatedAt)
                .with(C::DeletedAt)
                .with(C::DeletionId),
        ),
        (
            "{ probe { ...C } } fragment C on Connection { nodes { contentType } }",
            base().with(C::ContentType),
        ),
        // async-graphql drops skipped fields before execution, so they read nothing.
        ("{ probe { nodes { filename @skip(if: true) } } }", base()),
        (
            "{ probe { nodes { filename @include(if: true) } } }",
            base().with(C::Filename),
        ),
        ("{ probe { nodes { id unknownField } } }", Columns::all()),
    ];
    for (query, expected) in cases {
        assert_eq!(probe::columns(query).await, vec![expected], "{query}");
    }
    // Two selections of one field under other keys: each its own columns.
    assert_eq!(
        probe::columns("{ a: probe { nodes { filename } } b: probe { nodes { sha256 } } }").await,
        vec![base().with(C::Filename), base().with(C::Sha256)]
    );
}

/// A schema whose `probe` field has the shape of an attachment connection and records
/// the columns [`columns_for`] reads for its selection.
mod probe {
    use std::sync::{Arc, Mutex};

    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

    use crate::entity::attachment;
    use crate::graphql::attachment::columns_for;
    use crate::soft_delete::Columns;

    #[derive(SimpleObject, Default)]
    pub struct Node {
        id: i32,
        filename: i32,
        content_type: i32,
        size_bytes: i32,
        sha256: i32,
        created_at: i32,
        deleted_at: i32,
        deletion: i32,
        owner: i32,
        unknown_field: i32,
    }

    #[derive(SimpleObject, Default)]
    pub struct Edge {
        cursor: i32,
        node: Node,
    }

    #[derive(SimpleObject, Default)]
    pub struct Info {
        has_next_page: bool,
    }

    #[derive(SimpleObject, Default)]
    pub struct Connection {
        nodes: Vec<Node>,
        edges: Vec<Edge>,
        page_info: Info,
        total_count: i32,
    }

    type Seen = Mutex<Vec<Columns<attachment::Entity>>>;

    pub struct Query;

    #[Object]
    impl Query {
        async fn probe(&self, ctx: &async_graphql::Context<'_>) -> Connection {
            let seen = ctx.data_unchecked::<Arc<Seen>>();
            seen.lock().unwrap().push(columns_for(&ctx.field()));
            Connection::default()
        }
    }

    /// The columns read for each `probe` of `query`.
    pub async fn columns(query: &str) -> Vec<Columns<attachment::Entity>> {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let seen: Arc<Seen> = Arc::default();
        let response = schema
            .execute(async_graphql::Request::new(query).data(seen.clone()))
            .await;
        assert!(response.errors.is_empty(), "{query}: {:?}", response.errors);
        let seen = seen.lock().unwrap();
        seen.clone()
    }
}
