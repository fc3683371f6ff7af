//! The HTTP headers of attachment content, read and written by RFC 9110 and RFC 6266: one
//! `Range`, `If-None-Match` and `If-Range` against the content's `ETag`, and a
//! `Content-Disposition` that names the file safely. Plumbing of the route
//! (`app/content.rs`), apart from who may read what.

use axum::http::{HeaderMap, HeaderValue, header};

/// A range no byte of the content satisfies (416): it starts past the end, or asks for the
/// last 0 bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A single `Range: bytes=…` over `size` bytes: `Ok(None)` to serve it whole (no range, or
/// several, which a server may ignore), `Err(Unsatisfiable)` when no byte is in it.
pub fn byte_range(
    headers: &HeaderMap,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, Unsatisfiable> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            let (unit, spec) = v.split_once('=')?;
            unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
        })
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    // Digits only: `u64::from_str` would also take `+5`.
    let number = |text: &str| match text.bytes().all(|b| b.is_ascii_digit()) {
        true => text.parse::<u64>().map_err(|_| ()),
        false => Err(()),
    };
    let range = match (number(start), number(end)) {
        // The last `n` bytes.
        (Err(_), Ok(n)) if start.is_empty() => {
            if n == 0 {
                return Err(Unsatisfiable);
            }
            size.saturating_sub(n)..size
        }
        (Ok(first), Err(_)) if end.is_empty() => first..size,
        (Ok(first), Ok(last)) if last >= first => first..last.saturating_add(1).min(size),
        _ => return Ok(None),
    };
    if range.start >= size {
        return Err(Unsatisfiable);
    }
    Ok(Some(range))
}

/// A `Content-Disposition` that names the file safely: an ASCII fallback with anything
/// unsafe replaced, and the exact name percent-encoded (RFC 6266, RFC 8187).
pub fn disposition(filename: &str) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The headers every answer about the content carries: its `ETag`, ranges, and caching
/// that keeps one viewer's answer from another (`private`, revalidated, varying by token).
pub fn validators(etag: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    headers
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks of it) or is `*`.
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Whether a `Range` may be served: always without `If-Range`; with it, only while it names
/// the current content (a strong comparison), so a resumed download never splices two files.
pub fn if_range_holds(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(value)) => value.trim() == etag,
        Some(Err(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, Unsatisfiable> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&headers, size)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-500", 100), Ok(Some(0..100)));
        assert_eq!(range("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(range("bytes=100-", 100), Err(Unsatisfiable));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("bytes=9-3", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
        assert_eq!(range("Bytes=0-0", 100), Ok(Some(0..1)));
        assert_eq!(range("bytes=0-18446744073709551615", 100), Ok(Some(0..100)));
        assert_eq!(range("bytes=+5-9", 100), Ok(None));
        assert_eq!(range("bytes=-0", 100), Err(Unsatisfiable));
        assert_eq!(range("bytes=0-", 0), Err(Unsatisfiable));
        assert_eq!(range("bytes=99999999999999999999-", 100), Ok(None));
    }

    fn with(name: header::HeaderName, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn if_none_match_compares_weakly_and_reads_lists() {
        let etag = "\"abc\"";
        for yes in [
            &["\"abc\""][..],
            &["W/\"abc\""],
            &["\"x\", W/\"abc\""],
            &["\"x\"", "\"abc\""],
            &["*"],
        ] {
            assert!(
                none_match(&with(header::IF_NONE_MATCH, yes), etag),
                "{yes:?}"
            );
        }
        for no in [&[][..], &["\"abcd\""], &["abc"], &["W/\"x\""]] {
            assert!(
                !none_match(&with(header::IF_NONE_MATCH, no), etag),
                "{no:?}"
            );
        }
    }

    #[test]
    fn if_range_lets_a_range_through_only_for_the_current_content() {
        let etag = "\"abc\"";
        assert!(if_range_holds(&HeaderMap::new(), etag));
        assert!(if_range_holds(&with(header::IF_RANGE, &["\"abc\""]), etag));
        assert!(!if_range_holds(
            &with(header::IF_RANGE, &["W/\"abc\""]),
            etag
        ));
        assert!(!if_range_holds(&with(header::IF_RANGE, &["\"old\""]), etag));
        assert!(!if_range_holds(
            &with(header::IF_RANGE, &["Tue, 01 Jan 2030 00:00:00 GMT"]),
            etag
        ));
    }

    #[test]
    fn a_filename_is_quoted_safely() {
        let value = disposition("a \"quoted\"\\name\r\n.txt");
        assert_eq!(
            value.to_str().unwrap(),
            "attachment; filename=\"a _quoted__name__.txt\"; filename*=UTF-8''a%20%22quoted%22%5Cname%0D%0A.txt"
        );
        let value = disposition("../etc/passwd");
        assert!(
            value
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\".._etc_passwd\";")
        );
        let value = disposition("résumé.pdf");
        assert!(
            value
                .to_str()
                .unwrap()
                .contains("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
        );
    }
}
