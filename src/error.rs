//! The one error type of Keepsake's request paths and its GraphQL `extensions.code`.
//!
//! Every variant but [`Error::Internal`] is meant for the client and says what to fix.
//! Internal errors are logged in full, with their cause chain, and reach the client only as
//! "internal error" with code `INTERNAL`: no SQL, no backtrace.

use sea_orm::{DbErr, SqlErr};

/// A failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No valid token, or the token's user is gone. Code `UNAUTHENTICATED`.
    #[error("{0}")]
    Unauthenticated(String),
    /// The viewer's role does not allow this. Code `FORBIDDEN`.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing visible to the viewer has this id. Code `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// An argument is malformed or out of range. Code `BAD_USER_INPUT`.
    #[error("{0}")]
    BadUserInput(String),
    /// A live row already holds a unique key. Code `CONFLICT`.
    #[error("{0}")]
    Conflict(String),
    /// The row cannot come back while its parent is deleted. Code `PARENT_DELETED`.
    #[error("{0}")]
    ParentDeleted(String),
    /// The request, or its viewer, has used up what one may take (statements, connections,
    /// requests at once). Code `LIMIT_EXCEEDED`.
    #[error("{0}")]
    LimitExceeded(String),
    /// Anything else; logged, never shown. Code `INTERNAL`.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Shorthand for results of request paths.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The `extensions.code` clients see (docs/DESIGN.md#errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::BadUserInput(_) => "BAD_USER_INPUT",
            Error::Conflict(_) => "CONFLICT",
            Error::ParentDeleted(_) => "PARENT_DELETED",
            Error::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// Shorthand constructors, so call sites read as sentences.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadUserInput(msg.into())
    }
}

/// How the soft-delete core says that a request's statement budget is spent: the start of
/// a `DbErr::Custom`, followed by the budget. Our own words, never the database's.
pub const OVER_STATEMENT_BUDGET: &str = "keepsake: statement budget spent: ";
/// How the soft-delete core says that a request waited too long for one of its connections.
pub const NO_CONNECTION_IN_TIME: &str = "keepsake: no connection in time: ";

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if let DbErr::Custom(message) = &err {
            if let Some(budget) = message.strip_prefix(OVER_STATEMENT_BUDGET) {
                return Error::LimitExceeded(format!(
                    "this request has run the {budget} SQL statements one request may run \
                     (KEEPSAKE_MAX_STATEMENTS), so this field was not resolved; ask for fewer \
                     aliases, smaller pages or fewer nested lists, or split the request"
                ));
            }
            if let Some(waited) = message.strip_prefix(NO_CONNECTION_IN_TIME) {
                return Error::LimitExceeded(format!(
                    "this field waited {waited} for a database connection and gave up; the \
                     server is busy: try again shortly"
                ));
            }
        }
        Error::Internal(err.into())
    }
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        Error::Internal(err)
    }
}

/// A unique index whose violation is the client's conflict, as each backend names it in a
/// violation's message.
#[derive(Clone, Copy, Debug)]
pub struct UniqueIndex {
    /// The index's name (see the migrations): PostgreSQL quotes it in its message.
    pub name: &'static str,
    /// Its `table.column` list: SQLite names the columns instead.
    pub columns: &'static str,
}

/// Live users' emails: `ux_users_email_live` on `users(email) WHERE deleted_at IS NULL`.
pub const LIVE_USER_EMAIL: UniqueIndex = UniqueIndex {
    name: "ux_users_email_live",
    columns: "users.email",
};

impl UniqueIndex {
    /// Whether a unique violation's message (`SqlErr::UniqueConstraintViolation`) names this
    /// index: PostgreSQL's `… violates unique constraint "name"` (in any language: the name
    /// as a whole word), or SQLite's `UNIQUE constraint failed: table.column`.
    pub fn is_named_in(&self, message: &str) -> bool {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let named = message.match_indices(self.name).any(|(at, name)| {
            !message[..at].ends_with(word) && !message[at + name.len()..].starts_with(word)
        });
        named || message.strip_prefix("UNIQUE constraint failed: ") == Some(self.columns)
    }
}

/// Turns the violation of one named unique index into a client error; any other failure,
/// another index's violation included, stays internal.
pub trait ResultExt<T> {
    /// On a violation of `index`, fail with `CONFLICT` and `msg` instead.
    fn on_constraint(self, index: UniqueIndex, msg: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, DbErr> {
    fn on_constraint(self, index: UniqueIndex, msg: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) if index.is_named_in(&message) => {
                Error::Conflict(msg())
            }
            _ => err.into(),
        })
    }
}

impl Error {
    /// The HTTP status a route (not `/graphql`, which answers 200 with the error inside)
    /// answers this error with.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadUserInput(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) | Error::ParentDeleted(_) => StatusCode::CONFLICT,
            Error::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An answer of a route other than `/graphql` that failed: `status`, and a body shaped like
/// a GraphQL error (`{"errors": [{"message", "extensions": {"code"}}]}`) so clients read one
/// kind of error everywhere.
pub fn error_body(
    status: axum::http::StatusCode,
    code: &str,
    message: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}

/// A route's error as its answer (see [`Error::status`]); an internal one is logged with its
/// cause chain and says nothing more.
impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        if let Error::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        error_body(self.status(), self.code(), &self.to_string())
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        if let Error::Internal(cause) = &err {
            // The whole chain goes to the log, where an operator can act on it.
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let code = err.code();
        async_graphql::ErrorExtensions::extend_with(
            async_graphql::Error::new(err.to_string()),
            |_, ext| ext.set("code", code),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_names_the_live_email_index_on_either_backend() {
        let postgres = "duplicate key value violates unique constraint \"ux_users_email_live\"";
        let sqlite = "UNIQUE constraint failed: users.email";
        assert!(LIVE_USER_EMAIL.is_named_in(postgres));
        assert!(LIVE_USER_EMAIL.is_named_in(sqlite));
    }

    #[test]
    fn another_index_is_not_the_email_conflict() {
        for other in [
            "duplicate key value violates unique constraint \"users_pkey\"",
            "duplicate key value violates unique constraint \"ux_users_email_live_2\"",
            "UNIQUE constraint failed: users.id",
            "UNIQUE constraint failed: users.email, users.name",
        ] {
            assert!(!LIVE_USER_EMAIL.is_named_in(other), "{other}");
        }
    }
}
