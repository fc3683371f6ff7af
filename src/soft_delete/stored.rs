//! What a row looks like on its way into the database, the same on SQLite and PostgreSQL:
//!
//! - **Timestamps at microseconds.** PostgreSQL's `timestamptz` holds microseconds; SQLite
//!   keeps whatever text it is given, and `Utc::now()` has nanoseconds. Every moment Keepsake
//!   writes comes from [`now`] or passes [`to_micros`], and so does every moment a filter
//!   compares with (`since`, `until`, a purge's cutoff), so a boundary counts alike on both.
//! - **Search text folded once, in Rust** ([`fold`], defined beside the migrations): the
//!   `*_folded` columns hold the folding of the text they sit beside, and a search looks
//!   for the folded search text in them with `LIKE`. Neither database's own `lower()` takes
//!   part (SQLite's folds ASCII only; PostgreSQL's follows the database's locale).
//!
//! [`Stored::stored`] does both to an active model: [`super::insert`], [`super::update_live`]
//! and the core's own writes call it, so no writer can forget a folded column.

use chrono::SubsecRound as _;
use sea_orm::ActiveValue;
use sea_orm::prelude::DateTimeUtc;

pub use migration::fold::fold;

use crate::entity::{archive, attachment, deletion, user};

/// Now, to the microsecond: the moment every write stamps.
pub fn now() -> DateTimeUtc {
    to_micros(chrono::Utc::now())
}

/// `at` truncated to the microsecond (toward the past, never rounded up): the precision both
/// databases store and compare.
pub fn to_micros(at: DateTimeUtc) -> DateTimeUtc {
    at.trunc_subsecs(6)
}

/// An active model as it is written: timestamps at microseconds and, for each searched text
/// being written, its folded column set to its [`fold`].
pub trait Stored {
    /// `self`, ready to write.
    fn stored(self) -> Self;
}

fn micros(value: &mut ActiveValue<DateTimeUtc>) {
    if let ActiveValue::Set(at) = value {
        *at = to_micros(*at);
    }
}

fn micros_or_null(value: &mut ActiveValue<Option<DateTimeUtc>>) {
    if let ActiveValue::Set(Some(at)) = value {
        *at = to_micros(*at);
    }
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
        micros(&mut self.created_at);
        micros(&mut self.updated_at);
        micros_or_null(&mut self.deleted_at);
        self
    }
}

impl Stored for attachment::ActiveModel {
    fn stored(mut self) -> Self {
        folded(&self.filename, &mut self.filename_folded);
        micros(&mut self.created_at);
        micros_or_null(&mut self.deleted_at);
        self
    }
}

impl Stored for deletion::ActiveModel {
    fn stored(mut self) -> Self {
        if let ActiveValue::Set(reason) = &self.reason {
            self.reason_folded = ActiveValue::Set(reason.as_deref().map(fold));
        }
        micros(&mut self.deleted_at);
        micros_or_null(&mut self.restored_at);
        micros_or_null(&mut self.purged_at);
        micros_or_null(&mut self.purge_started_at);
        self
    }
}

impl Stored for archive::ActiveModel {
    fn stored(mut self) -> Self {
        micros_or_null(&mut self.deleted_at);
        micros(&mut self.archived_at);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::{fold, to_micros};

    /// The folding the docs promise (docs/search-and-time.md, `migration::fold`).
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

    #[test]
    fn moments_are_truncated_to_the_microsecond() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07.123456999Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            to_micros(at).to_rfc3339(),
            "2026-03-04T05:06:07.123456+00:00"
        );
        let before_1970 = chrono::DateTime::parse_from_rfc3339("1969-12-31T23:59:59.999999999Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            to_micros(before_1970).to_rfc3339(),
            "1969-12-31T23:59:59.999999+00:00"
        );
    }
}
