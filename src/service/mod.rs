//! Business rules: who may do what, input checks, and the reads and writes that carry them
//! out. Each function takes a [`crate::soft_delete::Handle`] (the pool or a transaction) and
//! the [`crate::auth::Viewer`]; resolvers call these and only convert the results.

pub mod attachments;
pub mod content;
pub mod deletions;
pub mod listing;
pub mod loaders;
pub mod log;
pub mod nodes;
pub mod purge;
pub mod restore;
pub mod seed;
pub mod setup;
pub mod undo;
pub mod uploads;
pub mod users;

use crate::error::{Error, Result};
use crate::ids;
use crate::soft_delete::{EntityKind, Scope};

pub use listing::{Listing, Total};

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest `first` a connection accepts.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A checked `first`/`after` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// How many rows to return.
    pub first: u64,
    /// Return rows after this row id.
    pub after: Option<i64>,
}

impl PageRequest {
    /// Checks connection arguments: `first` in 0..=100, `after` a cursor of ours.
    pub fn parse(first: Option<i32>, after: Option<&str>) -> Result<PageRequest> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => {
                return Err(Error::bad_input(format!(
                    "first: must not be negative (got {n})"
                )));
            }
            Some(n) if n as u64 > MAX_PAGE_SIZE => {
                return Err(Error::bad_input(format!(
                    "first: at most {MAX_PAGE_SIZE} per page (got {n}); follow pageInfo.endCursor for more"
                )));
            }
            Some(n) => n as u64,
        };
        let after = after
            .map(|cursor| ids::decode_cursor("after", cursor))
            .transpose()?;
        Ok(PageRequest { first, after })
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
