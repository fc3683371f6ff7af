//! Business rules: who may do what, input checks, and the reads and writes that carry them
//! out. Each function takes a [`crate::soft_delete::Handle`] (the pool or a transaction) and
//! the [`crate::auth::Viewer`]; resolvers call these and only convert the results.

pub mod attachments;
pub mod content;
pub mod deletions;
pub mod erase;
pub mod events;
pub mod holds;
pub mod keys;
pub mod listing;
pub mod log;
pub mod nodes;
pub mod permissions;
pub mod purge;
pub mod reads;
pub mod restore;
pub mod seed;
pub mod setup;
pub mod undo;
pub mod uploads;
pub mod users;
pub mod webhooks;

use crate::error::{Error, Result};
use crate::ids;
use crate::soft_delete::{EntityKind, Scope};

pub use listing::{Listing, Total};

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest `first` a connection accepts.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A checked page of a connection: its size, its cursor, its direction.
pub use crate::soft_delete::Window as PageRequest;

/// A connection's paging arguments, as the client wrote them: `first` and `after` page
/// forward, `last` and `before` backward (Relay's cursor connections).
#[derive(Clone, Copy, Debug, Default)]
pub struct PageArgs<'a> {
    /// Rows after the cursor (or from the start).
    pub first: Option<i32>,
    /// The cursor to start after.
    pub after: Option<&'a str>,
    /// Rows before the cursor (or up to the end).
    pub last: Option<i32>,
    /// The cursor to end before.
    pub before: Option<&'a str>,
}

impl<'a> PageArgs<'a> {
    /// Forward paging only (`first`, `after`).
    pub fn forward(first: Option<i32>, after: Option<&'a str>) -> PageArgs<'a> {
        PageArgs {
            first,
            after,
            ..PageArgs::default()
        }
    }
}

impl PageRequest {
    /// Checks connection arguments: `first` or `last` in 0..=100 (default 20), `after` or
    /// `before` a cursor of ours, and one direction at a time.
    pub fn parse(args: PageArgs<'_>) -> Result<PageRequest> {
        let backward = args.last.is_some() || args.before.is_some();
        if backward && (args.first.is_some() || args.after.is_some()) {
            return Err(Error::bad_input(
                "page one way at a time: first/after to page forward, or last/before to page \
                 backward",
            ));
        }
        let (name, size, cursor, cursor_name, pointer) = if backward {
            ("last", args.last, args.before, "before", "startCursor")
        } else {
            ("first", args.first, args.after, "after", "endCursor")
        };
        let size = match size {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => {
                return Err(Error::bad_input(format!(
                    "{name}: must not be negative (got {n})"
                )));
            }
            Some(n) if n as u64 > MAX_PAGE_SIZE => {
                return Err(Error::bad_input(format!(
                    "{name}: at most {MAX_PAGE_SIZE} per page (got {n}); follow \
                     pageInfo.{pointer} for more"
                )));
            }
            Some(n) => n as u64,
        };
        let cursor = cursor
            .map(|cursor| ids::decode_cursor(cursor_name, cursor))
            .transpose()?;
        Ok(PageRequest {
            size,
            cursor,
            backward,
        })
    }
}

/// A row and the scope it was read in: its children inherit the scope.
#[derive(Clone, Debug)]
pub struct InScope<M> {
    /// The row.
    pub row: M,
    /// The scope of the read that reached it.
    pub scope: Scope,
}

/// The entity a stored `entity` column (deletion log, archive) names; an unknown one is an
/// internal error.
pub fn stored_entity(text: &str) -> Result<EntityKind> {
    EntityKind::parse(text).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "the database names an unknown entity {text:?}"
        ))
    })
}

/// Trims `value` and checks it is non-empty, at most `max` characters, and free of control
/// characters (see [`check_characters`]). The one rule for every required string input.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::bad_input(format!("{field}: must not be empty")));
    }
    bounded(field, value, max)
}

/// Like [`required_text`] for an optional input (a reason): absent or blank is `None`.
pub(crate) fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => bounded(field, value, max).map(Some),
    }
}

fn bounded(field: &str, value: &str, max: usize) -> Result<String> {
    if value.chars().count() > max {
        return Err(Error::bad_input(format!(
            "{field}: at most {max} characters"
        )));
    }
    check_characters(field, value)?;
    Ok(value.to_owned())
}

/// Refuses control characters (NUL, newlines, escapes: Unicode category Cc) and the
/// bidirectional overrides and isolates that make text display other than it reads
/// (`report\u{202E}fdp.exe`). PostgreSQL cannot store NUL at all; refusing it here gives
/// both databases one rule and a clear `BAD_USER_INPUT` naming the field.
pub(crate) fn check_characters(field: &str, value: &str) -> Result<()> {
    let bad = value
        .chars()
        .find(|c| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'));
    match bad {
        Some(c) => Err(Error::bad_input(format!(
            "{field}: must not contain control characters (found U+{:04X})",
            c as u32
        ))),
        None => Ok(()),
    }
}
