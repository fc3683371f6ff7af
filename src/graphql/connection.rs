//! Relay connections (`edges { cursor node }`, `nodes`, `pageInfo`, `totalCount`) over a
//! scoped, keyset-paginated read. `totalCount` runs its count only when asked for.

use async_graphql::SimpleObject;

use crate::entity::{attachment, user};
use crate::graphql::loaders::AttachmentCount;
use crate::soft_delete::{ArchiveFilter, DeletionFilter, Scope, Scoped};

/// How a connection learns its `totalCount`: a count query run only when asked for.
#[derive(Clone, Debug)]
pub enum TotalCount {
    Users(Scoped<user::Entity>),
    Attachments(Scoped<attachment::Entity>),
    Deletions(DeletionFilter),
    Archive(ArchiveFilter),
    /// One owner's attachments (`User.attachments`), counted in one batch per response.
    OfOwner(i64, Scope),
}

impl TotalCount {
    /// Runs the count.
    pub async fn get(&self, ctx: &async_graphql::Context<'_>) -> crate::error::Result<u64> {
        use crate::graphql::ContextExt as _;
        let db = ctx.db()?;
        Ok(match self {
            TotalCount::Users(scope) => scope.clone().count(db).await?,
            TotalCount::Attachments(scope) => scope.clone().count(db).await?,
            TotalCount::Deletions(filter) => filter.count(db).await?,
            TotalCount::Archive(filter) => filter.count(db).await?,
            TotalCount::OfOwner(owner, scope) => ctx
                .loaders()?
                .load_one(AttachmentCount(*owner, *scope))
                .await?
                .unwrap_or(0),
        })
    }
}

/// Where a page sits in its connection.
#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    /// Whether more rows follow this page; pass `endCursor` as `after` to get them.
    pub has_next_page: bool,
    /// Whether rows come before this page (true whenever `after` was given).
    pub has_previous_page: bool,
    /// The cursor of the first row of the page.
    pub start_cursor: Option<String>,
    /// The cursor of the last row of the page.
    pub end_cursor: Option<String>,
}

/// Declares a connection type and its edge type over an entity, with a lazy `totalCount`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $conn {
            rows: Vec<$node>,
            has_next_page: bool,
            has_previous_page: bool,
            count: connection::TotalCount,
        }

        #[doc = concat!("One of ", $what, " with its cursor.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Pass as `after` to continue after this row.
            pub cursor: String,
            /// The row.
            pub node: $node,
        }

        impl $conn {
            /// A connection over one page of rows.
            pub fn new(
                rows: Vec<$node>,
                has_next_page: bool,
                page: $crate::service::PageRequest,
                count: connection::TotalCount,
            ) -> $conn {
                $conn {
                    rows,
                    has_next_page,
                    has_previous_page: page.after.is_some(),
                    count,
                }
            }
        }

        #[async_graphql::Object]
        impl $conn {
            /// The rows of this page with their cursors.
            async fn edges(&self) -> Vec<$edge> {
                self.rows
                    .iter()
                    .map(|node| $edge {
                        cursor: $crate::ids::cursor(node.row_id()),
                        node: node.clone(),
                    })
                    .collect()
            }

            /// The rows of this page.
            async fn nodes(&self) -> &[$node] {
                &self.rows
            }

            /// Where this page sits.
            async fn page_info(&self) -> connection::PageInfo {
                connection::PageInfo {
                    has_next_page: self.has_next_page,
                    has_previous_page: self.has_previous_page,
                    start_cursor: self.rows.first().map(|n| $crate::ids::cursor(n.row_id())),
                    end_cursor: self.rows.last().map(|n| $crate::ids::cursor(n.row_id())),
                }
            }

            /// How many rows the whole connection holds, across all pages.
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<i64> {
                let n = self.count.get(ctx).await?;
                Ok(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    };
}

pub(crate) use connection;
