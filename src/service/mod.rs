//! Business rules: who may do what, input checks, and the reads and writes that carry them
//! out. Each function takes a [`crate::soft_delete::Handle`] (the pool or a transaction) and
//! the [`crate::auth::Viewer`]; resolvers call these and only convert the results.

pub mod attachments;
pub mod deletions;
pub mod purge;
pub mod seed;
pub mod setup;
pub mod users;

use crate::error::{Error, Result};
use crate::ids;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest `first` a connection accepts.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A checked `first`/`after` pair.
#[derive(Clone, Copy, Debug)]
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
        let after = after.map(ids::decode_cursor).transpose()?;
        Ok(PageRequest { first, after })
    }
}

/// Trims `value` and checks it is non-empty and at most `max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::bad_input(format!("{field}: must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Error::bad_input(format!(
            "{field}: at most {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::bad_input(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}
