//! A page of users with their attachments, written in one pass.
//!
//! `users { nodes { id email attachments { nodes { id filename sizeBytes } } } }` asks for
//! more than plain fields, so [`crate::graphql::leaves`] alone would resolve the 50 users field by
//! field: a boxed future per field, an attachments connection object per user, a hashed map
//! per object. The read-ahead (`prefetch_children`) has already read every
//! user's page of attachments in one statement; this writes the users' level straight to
//! JSON with each page's leaf list inside it.
//!
//! It takes a selection only when nothing in it can fail or load: plain fields of the
//! user, `email` when the viewer may read every email of the page, one `attachments` field
//! whose plan the resolver would accept for every user and whose pages were all read ahead,
//! asking for `nodes` of plain attachment fields and `__typename`. Anything else (another
//! field, arguments that do not coerce, a fragment, a directive, a page not read ahead, a
//! column not read) resolves the list field by field, as before, so errors still carry
//! their paths. `tests/api/user_leaves.rs` compares these answers with the same selections
//! resolved field by field.

use async_graphql::parser::types::{Field, Selection};
use async_graphql::{ContextSelectionSet, Name, Positioned, ScalarType, SelectionField, Value};

use super::PageArguments;
use crate::graphql::ContextExt as _;
use crate::graphql::leaves::{self, Ask, Leaves};
use crate::graphql::loaders;
use crate::graphql::types::{Attachment, User};
use crate::ids::{self, Kind};
use crate::json;
use crate::service::users;

/// What the selection asks of each user.
enum UserAsk<'a> {
    /// A plain field (or `__typename`), as in a leaf list.
    Leaf(Ask<'a>),
    /// `email`, readable by this viewer for every user of the page.
    Email,
    /// The `attachments` connection: what it asks of the connection, each user's page
    /// taken in order.
    Attachments(Vec<(&'a Name, PageAsk<'a>)>),
}

/// What the selection asks of a page of attachments.
enum PageAsk<'a> {
    Typename,
    /// `nodes`: the leaves of each attachment, with their keys' prefixes.
    Nodes(Vec<(&'a Name, Ask<'a>)>, Vec<Vec<u8>>),
}

/// The users' list as JSON text in a splice buffer, or `None` to resolve it field by field.
fn write(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    users: &[User],
) -> Option<Vec<u8>> {
    let nodes = ctx.with_field(field);
    let viewer = nodes.viewer().ok()?;
    let listed = nodes.field();
    let mut keys: Vec<(&Name, UserAsk)> = Vec::new();
    let mut attachments: Option<(PageArguments, SelectionField)> = None;
    for item in &ctx.item.node.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field: &Field = &field.node;
        if !field.directives.is_empty() {
            return None;
        }
        let name = field.name.node.as_str();
        let key = field.alias.as_ref().map_or(&field.name.node, |a| &a.node);
        let plain = field.arguments.is_empty() && field.selection_set.node.items.is_empty();
        if let Some((_, seen)) = keys.iter().find(|(k, _)| *k == key) {
            // A plain field asked twice is one field (validation made sure they agree).
            if plain && !matches!(seen, UserAsk::Attachments(_)) {
                continue;
            }
            return None;
        }
        let ask = match name {
            "__typename" => UserAsk::Leaf(Ask::Typename),
            "email" if plain => UserAsk::Email,
            "attachments" if attachments.is_none() => {
                let selection = listed.selection_set().find(|f| {
                    f.name() == name && f.alias() == field.alias.as_ref().map(|a| a.node.as_str())
                })?;
                attachments = Some((PageArguments::of(&selection)?, selection));
                UserAsk::Attachments(page_asks(&field.selection_set.node.items)?)
            }
            _ if plain => UserAsk::Leaf(Ask::Field(name)),
            _ => return None,
        };
        keys.push((key, ask));
    }
    // Plain fields that are not leaves (`role`) resolve field by field, decided before any
    // page is taken.
    if let Some(user) = users.first() {
        let leaf = |name: &str| user.leaf(name).is_some();
        if keys
            .iter()
            .any(|(_, ask)| matches!(ask, UserAsk::Leaf(Ask::Field(n)) if !leaf(n)))
        {
            return None;
        }
    }
    let asks_email = keys.iter().any(|(_, ask)| matches!(ask, UserAsk::Email));
    if asks_email && users.iter().any(|u| users::email(viewer, &u.row).is_err()) {
        return None;
    }
    // Every user's page as the resolver would plan it, all read ahead, or none taken.
    let mut pages = Vec::new();
    if let Some((arguments, selection)) = &attachments {
        let columns = crate::graphql::attachment::columns_for(selection);
        let mut plans = Vec::with_capacity(users.len());
        for user in users {
            plans.push(
                arguments
                    .plan(viewer, user.scope, user.row.id, columns)
                    .ok()?,
            );
        }
        let read = loaders::take_pages(nodes.loaders().ok()?, &plans)?;
        pages = read
            .into_iter()
            .zip(&plans)
            .map(|(listing, plan)| {
                let scope = listing.scope;
                let rows = listing.rows.into_iter();
                rows.map(|row| Attachment::read_with(row, scope, plan.columns))
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    render(users, &keys, &pages)
}

/// What an `attachments` field asks of its connection, or `None` when it asks for more
/// than `nodes` of plain fields and `__typename`.
fn page_asks(items: &[Positioned<Selection>]) -> Option<Vec<(&Name, PageAsk<'_>)>> {
    let mut asks: Vec<(&Name, PageAsk)> = Vec::with_capacity(items.len());
    for item in items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field: &Field = &field.node;
        if !field.directives.is_empty() || !field.arguments.is_empty() {
            return None;
        }
        let key = field.alias.as_ref().map_or(&field.name.node, |a| &a.node);
        if asks.iter().any(|(k, _)| *k == key) {
            return None;
        }
        let ask = match field.name.node.as_str() {
            "__typename" => PageAsk::Typename,
            "nodes" => {
                let leaves = leaves::plan(&field.selection_set.node.items)?;
                let prefixes = leaves::prefixes(leaves.iter().map(|(k, _)| *k))?;
                PageAsk::Nodes(leaves, prefixes)
            }
            _ => return None,
        };
        asks.push((key, ask));
    }
    Some(asks)
}

/// Writes the users, each with its page from `pages` (in the users' order, empty when the
/// selection asks for none), or `None` when a field is not a leaf.
fn render(
    users: &[User],
    keys: &[(&Name, UserAsk<'_>)],
    pages: &[Vec<Attachment>],
) -> Option<Vec<u8>> {
    let prefixes = leaves::prefixes(keys.iter().map(|(k, _)| *k))?;
    let attachments: usize = pages.iter().map(Vec::len).sum();
    let mut out = json::splice_buffer(2 + users.len() * (keys.len() * 32 + 16) + attachments * 96);
    out.push(b'[');
    for (i, user) in users.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (j, ((_, ask), prefix)) in keys.iter().zip(&prefixes).enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(prefix);
            match ask {
                UserAsk::Leaf(Ask::Typename) => out.extend_from_slice(b"\"User\""),
                UserAsk::Leaf(Ask::Field(name)) => {
                    if !user.write_leaf(name, &mut out) {
                        return None;
                    }
                }
                UserAsk::Email => json::write_str(&user.row.email, &mut out).ok()?,
                UserAsk::Attachments(asks) => write_page(asks, pages.get(i)?, &mut out)?,
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    Some(out)
}

/// Writes one user's page of attachments as its connection object.
fn write_page(asks: &[(&Name, PageAsk<'_>)], page: &[Attachment], out: &mut Vec<u8>) -> Option<()> {
    out.push(b'{');
    for (j, (key, ask)) in asks.iter().enumerate() {
        if j > 0 {
            out.push(b',');
        }
        json::write_key(key, out).ok()?;
        match ask {
            PageAsk::Typename => out.extend_from_slice(b"\"AttachmentConnection\""),
            PageAsk::Nodes(leaves, prefixes) => leaves::write_list(page, leaves, prefixes, out)?,
        }
    }
    out.push(b'}');
    Some(())
}

/// A user's fields that read the row alone: `email` depends on the viewer and `role` may
/// fail, so they resolve as fields (or, in a page written in one pass, `email` when the
/// viewer may read them all).
impl Leaves for User {
    fn leaf(&self, name: &str) -> Option<Value> {
        let row = &self.row;
        Some(match name {
            "id" => Value::String(ids::encode(Kind::User, row.id)),
            "name" => Value::String(row.name.clone()),
            "createdAt" => row.created_at.to_value(),
            "updatedAt" => row.updated_at.to_value(),
            "deletedAt" => row
                .deleted_at
                .as_ref()
                .map_or(Value::Null, ScalarType::to_value),
            _ => return None,
        })
    }

    /// The id and name written without a `Value` or a `String` between.
    fn write_leaf(&self, name: &str, out: &mut Vec<u8>) -> bool {
        match name {
            "id" => {
                out.push(b'"');
                ids::encode_into(Kind::User, self.row.id, out);
                out.push(b'"');
                true
            }
            "name" => json::write_str(&self.row.name, out).is_ok(),
            _ => leaves::write_leaf_value(self.leaf(name), out),
        }
    }

    fn write_nested(
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        items: &[User],
    ) -> Option<Vec<u8>> {
        write(ctx, field, items)
    }
}
