//! `Accept` negotiation: which of the two media types a GraphQL response is sent in, by the
//! rules of RFC 9110 and the GraphQL-over-HTTP spec.

use axum::http::{HeaderMap, header};

use super::media::MediaType;
use super::refusal::Refusal;

/// Picks the response's media type from the `Accept` header: the acceptable type with the
/// highest q-value; on a tie the one named more specifically, then the one listed first,
/// then `application/json`. No `Accept`, `*/*` and `application/*` get `application/json`
/// (the spec's choice for clients that predate `application/graphql-response+json`).
pub fn negotiate(headers: &HeaderMap) -> Result<MediaType, Refusal> {
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let accept = accept.join(",");
    if accept.trim().is_empty() {
        return Ok(MediaType::Json);
    }
    let ranges: Vec<(String, f32)> = accept.split(',').filter_map(media_range).collect();
    // A type's most specific matching range gives its q (RFC 9110 §12.5.1); the answer is
    // (q, specificity, position of that range), `None` when the type is not acceptable.
    let rank = |media: MediaType| {
        let (top_level, _) = media.essence().split_once('/').unwrap_or_default();
        ranges
            .iter()
            .enumerate()
            .filter_map(|(position, (range, q))| {
                let specificity: u8 = if range == media.essence() {
                    3
                } else if range.strip_suffix("/*") == Some(top_level) {
                    2
                } else if range == "*/*" {
                    1
                } else {
                    return None;
                };
                Some((*q, specificity, position))
            })
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
            .filter(|(q, _, _)| *q > 0.0)
    };
    // Highest q, then the more specific mention, then the earlier one. `Json` is ranked
    // first and only a strictly better rank displaces it, so a wildcard tie stays with it.
    let mut best: Option<(MediaType, (f32, u8, usize))> = None;
    for media in [MediaType::Json, MediaType::GraphQLResponseJson] {
        let Some((q, specificity, position)) = rank(media) else {
            continue;
        };
        let better = best.is_none_or(|(_, (best_q, best_specificity, best_position))| {
            q > best_q
                || (q == best_q
                    && (specificity > best_specificity
                        || (specificity == best_specificity && position < best_position)))
        });
        if better {
            best = Some((media, (q, specificity, position)));
        }
    }
    best.map(|(media, _)| media).ok_or(Refusal::NotAcceptable)
}

/// One `Accept` entry as (lower-case range, q); `None` for an empty or malformed one.
fn media_range(entry: &str) -> Option<(String, f32)> {
    let mut parts = entry.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    if !range.contains('/') {
        return None;
    }
    let mut q = 1.0;
    for param in parts {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            q = value
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some((range, q))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn pick(accept: Option<&str>) -> Result<MediaType, ()> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        negotiate(&headers).map_err(|_| ())
    }

    #[test]
    fn accept_negotiation_follows_the_spec() {
        use MediaType::*;
        assert_eq!(pick(None), Ok(Json));
        assert_eq!(pick(Some("")), Ok(Json));
        assert_eq!(pick(Some("*/*")), Ok(Json));
        assert_eq!(pick(Some("application/*")), Ok(Json));
        assert_eq!(pick(Some("application/json")), Ok(Json));
        assert_eq!(
            pick(Some("application/graphql-response+json")),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some(
                "application/json;q=0.9, application/graphql-response+json"
            )),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some("application/json, application/graphql-response+json")),
            Ok(Json)
        );
        assert_eq!(
            pick(Some("application/graphql-response+json, */*;q=0.1")),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(
            pick(Some("*/*, application/json;q=0")),
            Ok(GraphQLResponseJson)
        );
        assert_eq!(pick(Some("APPLICATION/JSON; charset=utf-8")), Ok(Json));
        assert_eq!(pick(Some("text/html")), Err(()));
        assert_eq!(pick(Some("application/json;q=0")), Err(()));
        assert_eq!(pick(Some("application/xml, text/*")), Err(()));
    }
}
