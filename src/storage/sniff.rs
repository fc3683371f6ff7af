//! What the first bytes of a file say it is, for the formats whose bytes say so clearly, and
//! whether a client's `contentType` fits them.

/// Formats told by their first bytes: (magic at offset, content type).
const SIGNATURES: &[(usize, &[u8], &str)] = &[
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
];

/// The content type `head` (a file's first bytes) shows, if it is one of the formats told
/// by their first bytes.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    SIGNATURES
        .iter()
        .find(|(at, magic, _)| head.get(*at..at + magic.len()) == Some(*magic))
        .map(|(_, _, kind)| *kind)
}

/// Whether bytes starting with `head` may be stored as `declared` (`type/subtype`, lower
/// case, parameters removed). A format with a signature must carry it, and bytes that carry
/// one must be declared as it, except that zip and gzip containers may be any `application/`
/// type built on them (docx, epub, jar, tar.gz), and `application/octet-stream` says only
/// "some bytes" (what browsers and curl send for a file they cannot name), so anything fits
/// it. `None` when they fit, else the type the bytes look like (or "not a `declared` file").
pub fn misfit(declared: &str, head: &[u8]) -> Option<String> {
    if declared == "application/octet-stream" {
        return None;
    }
    let seen = sniff(head);
    let signed = SIGNATURES.iter().any(|(_, _, kind)| *kind == declared);
    match seen {
        Some(kind) if kind == declared => None,
        Some("application/zip" | "application/gzip") if declared.starts_with("application/") => {
            None
        }
        Some(kind) => Some(format!("the bytes are {kind}")),
        None if signed => Some(format!("the bytes are not {declared}")),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_told_and_checked() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(misfit("image/png", b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(misfit("text/plain", b"hello"), None);
        assert_eq!(
            misfit("text/plain", b"%PDF-1.7").as_deref(),
            Some("the bytes are application/pdf")
        );
        assert_eq!(
            misfit("image/png", b"hello").as_deref(),
            Some("the bytes are not image/png")
        );
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(misfit(docx, b"PK\x03\x04"), None);
        assert!(misfit("image/jpeg", b"PK\x03\x04").is_some());
        assert_eq!(
            misfit("application/octet-stream", b"\x89PNG\r\n\x1a\n"),
            None
        );
        assert_eq!(misfit("application/octet-stream", b"%PDF-1.7"), None);
    }
}
