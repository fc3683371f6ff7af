//! One page of a listing, read once for every connection: the rows, where the page sits,
//! the scope the rows were read in, and how to count the whole listing when asked.

use sea_orm::ColumnTrait;

use crate::entity::{attachment, user};
use crate::error::Result;
use crate::service::PageRequest;
use crate::service::keys::{HiddenPage, HiddenView, OwnerPage, hidden_attachments};
use crate::soft_delete::{ArchiveFilter, DeletionFilter, Handle, Page, Scope, Scoped};

/// A page of rows of one listing (`users`, `attachments`, `deletions`, `archivedRecords`,
/// `User.attachments`).
#[derive(Clone, Debug)]
pub struct Listing<M> {
    /// The rows of the page, in the listing's order.
    pub rows: Vec<M>,
    /// Whether rows follow this page.
    pub has_next_page: bool,
    /// Whether rows come before this page: paging forward, whenever `after` was given;
    /// paging backward, whether rows remain before it.
    pub has_previous_page: bool,
    /// The scope the rows were read in; their children inherit it.
    pub scope: Scope,
    /// How to count every row of the listing.
    pub total: Total,
}

impl<M> Listing<M> {
    /// The listing of one page the core read.
    pub(crate) fn of(page: Page<M>, request: PageRequest, scope: Scope, total: Total) -> Self {
        // Relay's rule: the side the client came from has rows whenever it gave a cursor
        // (the rows the cursor came from); the side the page was read toward, when the
        // read found more.
        let beyond = request.cursor.is_some();
        let (has_next_page, has_previous_page) = if request.backward {
            (beyond, page.has_more)
        } else {
            (page.has_more, beyond)
        };
        Listing {
            rows: page.rows,
            has_next_page,
            has_previous_page,
            scope,
            total,
        }
    }

    /// The listing of a page read one row ahead (up to `size + 1` rows, as a batched loader
    /// reads them), its rows in ascending order: the extra row only says that more follow
    /// (paging forward, the last one) or come before (paging backward, the first one).
    pub fn read_ahead(mut rows: Vec<M>, request: PageRequest, scope: Scope, total: Total) -> Self {
        let size = request.size as usize;
        let has_more = rows.len() > size;
        if has_more && request.backward {
            rows.drain(..rows.len() - size);
        } else {
            rows.truncate(size);
        }
        Listing::of(Page { rows, has_more }, request, scope, total)
    }
}

/// How a listing counts all its rows: a count query, run only when a client asks for
/// `totalCount`.
#[derive(Clone, Debug)]
pub enum Total {
    /// The users a scope shows.
    Users(Scoped<user::Entity>),
    /// The attachments a listing may show.
    Attachments(Scoped<attachment::Entity>),
    /// Entries of the deletion log.
    Deletions(DeletionFilter),
    /// Archived rows.
    Archive(ArchiveFilter),
    /// One owner's attachments in a scope (`User.attachments`). The GraphQL layer counts
    /// these in one batch per response; [`Total::count`] counts one.
    OfOwner(i64, Scope),
    /// The attachments one deletion hides, as a view shows them (`Deletion.attachments`);
    /// counted in batches like [`Total::OfOwner`].
    Hidden(i64, HiddenView),
}

impl Total {
    /// Runs the count.
    pub async fn count(&self, h: &impl Handle) -> Result<u64> {
        Ok(match self {
            Total::Users(query) => query.clone().count(h).await?,
            Total::Attachments(query) => query.clone().count(h).await?,
            Total::Deletions(filter) => filter.count(h).await?,
            Total::Archive(filter) => filter.count(h).await?,
            Total::OfOwner(owner, scope) => {
                Scoped::<attachment::Entity>::new(*scope)
                    .filter(attachment::Column::OwnerId.eq(*owner))
                    .count(h)
                    .await?
            }
            Total::Hidden(deletion, view) => {
                hidden_attachments(*view)
                    .filter(attachment::Column::DeletionId.eq(*deletion))
                    .count(h)
                    .await?
            }
        })
    }
}

impl OwnerPage {
    /// The listing of this page out of its rows read one ahead.
    pub fn listing(self, rows: Vec<attachment::Model>) -> Listing<attachment::Model> {
        let total = Total::OfOwner(self.owner, self.scope);
        Listing::read_ahead(rows, self.page, self.scope, total)
    }
}

impl HiddenPage {
    /// The listing of this page out of its rows read one ahead.
    pub fn listing(self, rows: Vec<attachment::Model>) -> Listing<attachment::Model> {
        let total = Total::Hidden(self.deletion, self.view);
        Listing::read_ahead(rows, self.page, self.scope(), total)
    }
}
