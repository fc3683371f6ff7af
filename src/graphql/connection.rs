//! Relay connections (`edges { cursor node }`, `nodes`, `pageInfo`, `totalCount`) over a
//! [`Listing`] the service read. `totalCount` runs its count only when asked for.

use async_graphql::{Context, SimpleObject};

use crate::error::Result;
use crate::graphql::ContextExt as _;
use crate::graphql::loaders::{AttachmentCount, HiddenCount};
use crate::service::Total;

pub use crate::service::Listing;

/// `totalCount`: one owner's attachments are counted in one batch per response (the
/// request's loaders); any other listing runs its own count.
pub async fn total_count(ctx: &Context<'_>, total: &Total) -> Result<i64> {
    let n = match total {
        Total::OfOwner(owner, scope) => ctx
            .loaders()?
            .load_one(AttachmentCount(*owner, *scope))
            .await?
            .unwrap_or(0),
        Total::Hidden(deletion, view) => ctx
            .loaders()?
            .load_one(HiddenCount(*deletion, *view))
            .await?
            .unwrap_or(0),
        total => total.count(ctx.db()?).await?,
    };
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Where a page sits in its connection.
#[derive(Clone, Debug, SimpleObject)]
pub struct PageInfo {
    /// Whether more rows follow this page (pass `endCursor` as `after` to get them); paging
    /// backward, true whenever `before` was given.
    pub has_next_page: bool,
    /// Whether rows come before this page (pass `startCursor` as `before` with `last` to
    /// get them); paging forward, true whenever `after` was given.
    pub has_previous_page: bool,
    /// The cursor of the first row of the page.
    pub start_cursor: Option<String>,
    /// The cursor of the last row of the page.
    pub end_cursor: Option<String>,
}

/// Declares a connection type and its edge type over a node type, built from a [`Listing`]
/// by `$conn::of`, with a lazy `totalCount`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $conn {
            rows: Vec<$node>,
            has_next_page: bool,
            has_previous_page: bool,
            total: $crate::service::Total,
        }

        #[doc = concat!("One of ", $what, " with its cursor.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Pass as `after` to continue after this row, or as `before` to page back from it.
            pub cursor: String,
            /// The row.
            pub node: $node,
        }

        impl $conn {
            /// The connection over one page of a listing, each row made a node with the
            /// scope it was read in.
            pub fn of<M>(
                listing: $crate::graphql::connection::Listing<M>,
                node: impl Fn(M, $crate::soft_delete::Scope) -> $node,
            ) -> $conn {
                let scope = listing.scope;
                $conn {
                    rows: listing
                        .rows
                        .into_iter()
                        .map(|row| node(row, scope))
                        .collect(),
                    has_next_page: listing.has_next_page,
                    has_previous_page: listing.has_previous_page,
                    total: listing.total,
                }
            }
        }

        #[doc = concat!("A page of ", $what, ", with where it sits and how many there are in all.")]
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
            async fn nodes(&self) -> $crate::graphql::leaves::LeafList<'_, $node> {
                $crate::graphql::leaves::LeafList(&self.rows)
            }

            /// Where this page sits.
            async fn page_info(&self) -> $crate::graphql::connection::PageInfo {
                $crate::graphql::connection::PageInfo {
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
            ) -> $crate::error::Result<i64> {
                $crate::graphql::connection::total_count(ctx, &self.total).await
            }
        }
    };
}

pub(crate) use connection;
