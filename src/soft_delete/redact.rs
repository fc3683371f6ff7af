//! Replacing a person's email and name in free text with [`REDACTED`], case-insensitively,
//! by the same folding as search ([`super::fold`]): what an erasure does to every reason in
//! the log, and to any other free text that names them.

use super::fold;

/// What each occurrence becomes.
pub const REDACTED: &str = "[erased]";

/// What to look for: an email and a name.
#[derive(Clone, Debug)]
pub struct Needles {
    /// The email, folded; replaced wherever it occurs.
    email: String,
    /// The name, folded; replaced where it stands as a word or words (not inside a longer
    /// word: erasing "Al" must not turn "Also" into "[erased]so").
    name: String,
}

impl Needles {
    /// The needles for a person with this email and name.
    pub fn new(email: &str, name: &str) -> Needles {
        Needles {
            email: fold(email.trim()),
            name: fold(name.trim()),
        }
    }

    /// The folded texts, for a prefilter in SQL (`LIKE` over a folded column).
    pub fn folded(&self) -> [&str; 2] {
        [&self.email, &self.name]
    }

    /// `text` with every occurrence replaced; `None` when nothing occurs.
    pub fn redact(&self, text: &str) -> Option<String> {
        let once = replace_folded(text, &self.email, false);
        let twice = replace_folded(once.as_deref().unwrap_or(text), &self.name, true);
        twice.or(once)
    }

    /// Whether `text` names them.
    pub fn occurs_in(&self, text: &str) -> bool {
        self.redact(text).is_some()
    }
}

/// `text` with each stretch whose folding is `needle` replaced by [`REDACTED`] (leftmost
/// first, not overlapping); `None` when there is none. With `whole_words`, only stretches
/// with no letter or digit right before or after them.
fn replace_folded(text: &str, needle: &str, whole_words: bool) -> Option<String> {
    if needle.is_empty() {
        return None;
    }
    // Each character's byte offset and its folding.
    let chars: Vec<(usize, char, String)> = text
        .char_indices()
        .map(|(at, c)| (at, c, fold(c.encode_utf8(&mut [0; 4]))))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    let mut found = false;
    while i < chars.len() {
        let end = match_at(&chars, i, needle);
        let fits = end.is_some_and(|end| {
            !whole_words
                || (i == 0 || !chars[i - 1].1.is_alphanumeric())
                    && (end == chars.len() || !chars[end].1.is_alphanumeric())
        });
        match end {
            Some(end) if fits => {
                out.push_str(&text[copied..chars[i].0]);
                out.push_str(REDACTED);
                copied = chars.get(end).map_or(text.len(), |c| c.0);
                i = end;
                found = true;
            }
            _ => i += 1,
        }
    }
    if !found {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Where a stretch starting at character `start` whose folding is exactly `needle` ends (the
/// index of the character after it), if there is one.
fn match_at(chars: &[(usize, char, String)], start: usize, needle: &str) -> Option<usize> {
    let mut rest = needle;
    for (i, (_, _, folded)) in chars.iter().enumerate().skip(start) {
        rest = rest.strip_prefix(folded.as_str())?;
        if rest.is_empty() {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_anywhere_name_as_words_any_case() {
        let n = Needles::new("Ada.Lovelace@Example.com", "Ada Lovelace");
        assert_eq!(
            n.redact("asked by ADA.LOVELACE@example.COM (ada lovelace), also Adal")
                .as_deref(),
            Some("asked by [erased] ([erased]), also Adal")
        );
        assert_eq!(n.redact("nothing here"), None);
        let short = Needles::new("al@x.io", "Al");
        assert_eq!(
            short.redact("Also: al, AL and al@x.io").as_deref(),
            Some("Also: [erased], [erased] and [erased]")
        );
        // Folding as search does: ß matches ss, final sigma matches sigma.
        let greek = Needles::new("s@x.io", "Straße Σίσυφος");
        assert_eq!(
            greek.redact("for STRASSE σίσυφοσ!").as_deref(),
            Some("for [erased]!")
        );
    }
}
