//! Relay connections (`edges { cursor node }`, `nodes`, `pageInfo`, `totalCount`) over a
//! scoped, keyset-paginated read. `totalCount` runs its count only when asked for.

use async_graphql::SimpleObject;

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
    ($conn:ident, $edge:ident, $node:ty, $entity:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        pub struct $conn {
            rows: Vec<$node>,
            has_next_page: bool,
            has_previous_page: bool,
            count: $crate::soft_delete::Scoped<$entity>,
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
            /// Reads one page of `scope` as asked by `page`.
            pub async fn load(
                db: &$crate::soft_delete::Db,
                scope: $crate::soft_delete::Scoped<$entity>,
                page: $crate::service::PageRequest,
                to_node: impl Fn(<$entity as sea_orm::EntityTrait>::Model) -> $node,
            ) -> $crate::error::Result<$conn> {
                let found = scope.clone().page(db, page.first, page.after).await?;
                Ok($conn {
                    rows: found.rows.into_iter().map(to_node).collect(),
                    has_next_page: found.has_next_page,
                    has_previous_page: page.after.is_some(),
                    count: scope,
                })
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
                use $crate::graphql::ContextExt as _;
                let n = self
                    .count
                    .clone()
                    .count(ctx.db()?)
                    .await
                    .map_err($crate::error::Error::from)?;
                Ok(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    };
}

pub(crate) use connection;
