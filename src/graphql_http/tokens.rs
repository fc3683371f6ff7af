//! Counting a document's lexical tokens before it is parsed, so that the parser (which
//! builds a tree and allocates for every field) never sees a document past the limit.
//!
//! The count follows the GraphQL spec's lexical grammar: punctuators (`...` is one), names,
//! numbers and strings (block strings included) are tokens; whitespace, commas, comments
//! and a byte-order mark are not. It stops one past the limit, so its cost is bounded by the
//! limit, not by the document: a 1 MiB document of repeated fields is refused after reading
//! its first few kilobytes. A document that does not lex cleanly is still counted (anything
//! unexpected is one token); the parser reports what is wrong with it.

/// How many lexical tokens `text` holds, counting no further than `stop_after + 1`.
pub fn count_tokens(text: &str, stop_after: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut tokens = 0;
    while at < bytes.len() && tokens <= stop_after {
        let byte = bytes[at];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => at += 1,
            // The byte-order mark, U+FEFF, is ignored like whitespace.
            0xEF if bytes[at..].starts_with(&[0xEF, 0xBB, 0xBF]) => at += 3,
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
            }
            b'"' => {
                at = skip_string(bytes, at);
                tokens += 1;
            }
            b'.' if bytes[at..].starts_with(b"...") => {
                at += 3;
                tokens += 1;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                at += 1;
                while at < bytes.len() && (bytes[at] == b'_' || bytes[at].is_ascii_alphanumeric()) {
                    at += 1;
                }
                tokens += 1;
            }
            b'-' | b'0'..=b'9' => {
                at += 1;
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric()
                        || matches!(bytes[at], b'.' | b'+' | b'-'))
                {
                    at += 1;
                }
                tokens += 1;
            }
            _ => {
                // A punctuator, or something the parser will refuse: one token, one
                // character (never inside a UTF-8 sequence, so slicing stays valid).
                at += text[at..].chars().next().map_or(1, char::len_utf8);
                tokens += 1;
            }
        }
    }
    tokens
}

/// Where the string starting at `at` (a `"`) ends: after its closing quote, or at the end of
/// the text (or of the line, for an ordinary string) when it is not closed.
fn skip_string(bytes: &[u8], at: usize) -> usize {
    if bytes[at..].starts_with(b"\"\"\"") {
        let mut i = at + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return i + 3;
            } else {
                i += 1;
            }
        }
        return bytes.len();
    }
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::count_tokens;

    #[test]
    fn tokens_are_counted_as_the_grammar_says() {
        assert_eq!(count_tokens("{ me { id } }", 100), 6);
        // Commas, comments and whitespace are not tokens; `...` is one.
        assert_eq!(count_tokens("{ a, b # c d e\n ...F }", 100), 6);
        // A string is one token, escapes and block strings included.
        assert_eq!(
            count_tokens(r#"{ f(a: "x \" y", b: """ q \""" "r" """) }"#, 100),
            11
        );
        // Numbers, variables, directives.
        assert_eq!(
            count_tokens(
                "query($n: Int = -1.5e3) { u(first: $n) @skip(if: true) }",
                100
            ),
            25
        );
        // Names past ASCII are one token each character, as the parser will refuse them.
        assert_eq!(count_tokens("{ é }", 100), 3);
    }

    #[test]
    fn counting_stops_just_past_the_limit() {
        let document = format!("{{ {} }}", "__typename ".repeat(100_000));
        assert_eq!(count_tokens(&document, 5_000), 5_001);
        assert_eq!(count_tokens("{ a }", 5_000), 3);
    }

    #[test]
    fn an_unclosed_string_ends_the_count() {
        assert_eq!(count_tokens("{ f(a: \"never closed", 100), 6);
        assert_eq!(count_tokens("{ f(a: \"\"\"never closed", 100), 6);
    }
}
