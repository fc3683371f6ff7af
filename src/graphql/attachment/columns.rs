//! Which columns a selection of attachments reads: the id, the owner, and each selected
//! field's column, so a page reads no column it does not show.

use async_graphql::SelectionField;

use crate::entity::attachment;
use crate::entity::attachment::Column as C;
use crate::soft_delete::Columns;

/// What a field of `Attachment` reads beyond the id and the owner.
pub(super) enum Reads {
    Nothing,
    Column(attachment::Column),
    /// A field this table does not know: it gets every column.
    Unknown,
}

/// The column field `name` of `Attachment` reads. A field added to the type and not here
/// reads every column ([`Reads::Unknown`]), so it can never meet a default.
pub(super) fn column_of(name: &str) -> Reads {
    match name {
        "id" | "owner" | "__typename" => Reads::Nothing,
        "filename" => Reads::Column(C::Filename),
        "contentType" => Reads::Column(C::ContentType),
        "sizeBytes" => Reads::Column(C::SizeBytes),
        "sha256" => Reads::Column(C::Sha256),
        "createdAt" => Reads::Column(C::CreatedAt),
        "deletedAt" => Reads::Column(C::DeletedAt),
        "deletion" => Reads::Column(C::DeletionId),
        _ => Reads::Unknown,
    }
}

/// The columns a selection of an attachment connection (`nodes`, `edges { node }`) reads:
/// the id and the owner, and each field's column. Fragments count whatever their type
/// condition, so the set may be larger than needed, never smaller; fields that `@skip` or
/// `@include` leave out are gone from the document before execution, here as there;
/// anything this does not know reads every column.
pub(crate) fn columns_for(connection: &SelectionField<'_>) -> Columns<attachment::Entity> {
    let mut columns = Columns::id().with(C::OwnerId);
    for field in connection.selection_set() {
        let known = match field.name() {
            "nodes" => add_fields(&field, &mut columns),
            "edges" => field.selection_set().all(|edge| match edge.name() {
                "node" => add_fields(&edge, &mut columns),
                "cursor" | "__typename" => true,
                _ => false,
            }),
            "pageInfo" | "totalCount" | "__typename" => true,
            _ => false,
        };
        if !known {
            return Columns::all();
        }
    }
    columns
}

/// Adds the columns of an attachment's selected fields; `false` for a field it does not
/// know.
fn add_fields(node: &SelectionField<'_>, columns: &mut Columns<attachment::Entity>) -> bool {
    node.selection_set()
        .all(|field| match column_of(field.name()) {
            Reads::Nothing => true,
            Reads::Column(column) => {
                *columns = columns.with(column);
                true
            }
            Reads::Unknown => false,
        })
}
