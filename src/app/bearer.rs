//! The one reader of the `Authorization` header, for `/graphql`, the content routes,
//! `/metrics` and the fairness layer alike. What the value means (`Bearer <token>`, a prefix
//! pasted twice, quotes) is `auth::bearer_token`'s business; here only whether there is one.

use axum::http::{HeaderMap, header};

/// The request's `Authorization` value: `None` when absent; a value that is not text is
/// present but empty, so it fails as a bad token rather than passing as no token at all.
pub(super) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn absent_is_none_and_unreadable_is_empty() {
        let mut headers = HeaderMap::new();
        assert_eq!(authorization(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(authorization(&headers), Some("Bearer x"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(authorization(&headers), Some(""));
    }
}
