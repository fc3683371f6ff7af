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
/// it. `None` when they fit, else what was declared and what the bytes look like, in words.
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
        Some(kind) => Some(format!(
            "{declared} was declared, but the bytes are {kind} (they start with its signature)"
        )),
        None if signed => Some(format!(
            "{declared} was declared, but the bytes are not {declared} (they do not start with \
             its signature); they look like {}",
            looks_like(head)
        )),
        None => None,
    }
}

/// What bytes that carry no known signature look like, in words: text (its start quoted),
/// binary data (its first bytes in hex), or nothing.
fn looks_like(head: &[u8]) -> String {
    let sample = &head[..head.len().min(16)];
    let text = match std::str::from_utf8(sample) {
        Ok(text) => Some(text),
        // Cut inside a character at the sample's end: the whole characters before it.
        Err(err) if err.error_len().is_none() => {
            std::str::from_utf8(&sample[..err.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text {
        _ if head.is_empty() => "nothing: the body is empty".to_owned(),
        Some(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            format!("text, starting {text:?}")
        }
        _ => {
            let hex: Vec<String> = sample.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("binary data starting {}", hex.join(" "))
        }
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
            Some(
                "text/plain was declared, but the bytes are application/pdf (they start with \
                 its signature)"
            )
        );
        assert_eq!(
            misfit("image/png", b"hello").as_deref(),
            Some(
                "image/png was declared, but the bytes are not image/png (they do not start \
                 with its signature); they look like text, starting \"hello\""
            )
        );
        assert!(
            misfit("image/jpeg", b"\x00\x01\x02\xfe")
                .unwrap()
                .ends_with("they look like binary data starting 00 01 02 fe")
        );
        assert!(
            misfit("application/pdf", b"")
                .unwrap()
                .ends_with("nothing: the body is empty")
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
