//! What a row looks like on its way into the database, the same on SQLite and PostgreSQL:
//!
//! - **Search text folded once, in Rust** ([`fold`], defined beside the migrations): the
//!   `*_folded` columns hold the folding of the text they sit beside, and a search looks
//!   for the folded search text in them with `LIKE`. Neither database's own `lower()` takes
//!   part (SQLite's folds ASCII only; PostgreSQL's follows the database's locale).
//!
//! [`Stored::stored`] does it to an active model: [`super::insert`], [`super::update_live`]
//! and the core's own writes call it, so no writer can forget a folded column.

use sea_orm::ActiveValue;

pub use migration::fold::fold;

use crate::entity::{attachment, deletion, user};

/// An active model as it is written: for each searched text being written, its folded
/// column set to its [`fold`].
pub trait Stored {
    /// `self`, ready to write.
    fn stored(self) -> Self;
}

/// Sets `folded` to the folding of `text` when `text` is being written.
fn folded(text: &ActiveValue<String>, folded: &mut ActiveValue<String>) {
    if let ActiveValue::Set(text) = text {
        *folded = ActiveValue::Set(fold(text));
    }
}

impl Stored for user::ActiveModel {
    fn stored(mut self) -> Self {
        folded(&self.email, &mut self.email_folded);
        folded(&self.name, &mut self.name_folded);
        self
    }
}

impl Stored for attachment::ActiveModel {
    fn stored(mut self) -> Self {
        folded(&self.filename, &mut self.filename_folded);
        self
    }
}

impl Stored for deletion::ActiveModel {
    fn stored(mut self) -> Self {
        if let ActiveValue::Set(reason) = &self.reason {
            self.reason_folded = ActiveValue::Set(reason.as_deref().map(fold));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::fold;

    /// The folding the docs promise (README, `migration::fold`).
    #[test]
    fn folding_is_canonical_full_case_folding() {
        for (text, folded) in [
            ("ÄRGER-Ü.txt", "ärger-ü.txt"),
            // Greek: capital, small and final sigma are one letter.
            ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
            ("σίσυφος", "σίσυφοσ"),
            // German: ß and ẞ fold to ss.
            ("Straße", "strasse"),
            ("STRAẞE", "strasse"),
            ("STRASSE", "strasse"),
            // Dotted capital I folds to i and a combining dot; dotless ı stays itself.
            ("İstanbul", "i\u{307}stanbul"),
            ("KIRMIZI", "kirmizi"),
            ("kırmızı", "kırmızı"),
            // Composed and decomposed accents fold alike, to the composed form.
            ("CAFÉ", "caf\u{e9}"),
            ("cafe\u{301}", "caf\u{e9}"),
            ("CAFE\u{301}", "caf\u{e9}"),
            // Accents count. Full folding expands ligatures that have a case mapping (ﬁ);
            // other compatibility characters stay themselves (full-width letters fold to
            // full-width ones, ² stays ²).
            ("cafe", "cafe"),
            ("ﬁle", "file"),
            ("ＡＢＣ²", "ａｂｃ²"),
            // What a LIKE pattern gives meaning to is left as it is (and escaped later).
            ("100%_\\", "100%_\\"),
        ] {
            assert_eq!(fold(text), folded, "{text:?}");
        }
    }

    /// Folding twice changes nothing, for every scalar value alone and, where case or
    /// composition can interact, between a letter and marks: a stored folding searched with
    /// itself always matches.
    #[test]
    fn folding_is_idempotent() {
        let mut text = String::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            text.clear();
            text.push(c);
            let once = fold(&text);
            assert_eq!(fold(&once), once, "U+{:04X}", c as u32);
            if once != text || c.is_alphabetic() && (c as u32) < 0x3400 {
                for around in ["I", "\u{301}", "\u{345}"] {
                    let mixed = format!("{around}{c}{around}");
                    let once = fold(&mixed);
                    assert_eq!(fold(&once), once, "{mixed:?}");
                }
            }
        }
    }
}
