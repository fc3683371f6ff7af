//! The one folding of Keepsake's case-insensitive search: what the `*_folded` columns hold and
//! what a search text is turned into before it is looked for in them.
//!
//! `fold(text)` is NFC(toCasefold(NFD(text))): canonical decomposition, Unicode's default
//! *full* case folding (CaseFolding.txt statuses C and F; the Turkic mappings T are not
//! used), then canonical composition. Two texts fold alike exactly when the Unicode Standard
//! calls them a *canonical caseless match* (§3.13, D145), so:
//!
//! - `ΣΊΣΥΦΟΣ`, `σίσυφος` and `σίσυφοσ` fold alike (Σ, σ and final ς are one letter);
//! - `Straße`, `STRASSE` and `STRAẞE` fold alike (ß and ẞ fold to `ss`);
//! - `é` written as U+00E9 and as `e` + U+0301 fold alike (both to U+00E9);
//! - `İ` (dotted capital I) folds to `i` + U+0307 (a combining dot), so `İstanbul` is found
//!   by `İSTANBUL` or `i̇stanbul` but not by `istanbul`; dotless `ı` folds to itself and `I` to
//!   `i`, so `kırmızı` is found by `KıRMıZı` but not by `KIRMIZI`. That is Unicode's default,
//!   language-independent folding: Turkish and Azeri rules would need the user's language;
//! - accents count: `cafe` does not find `café`. Full folding expands what has a case
//!   mapping to several letters (`ﬁ` folds to `fi`), but it is no compatibility mapping:
//!   full-width `Ａ` folds to full-width `ａ`, not `a`, and `²` stays `²`.
//!
//! It lives beside the migrations because the migration that fills the folded columns of
//! existing rows must fold exactly as the server does when it writes them, and the server
//! already depends on this crate. Changing it changes what stored rows mean: a change ships
//! with a migration that folds every row again.

use caseless::Caseless as _;
use unicode_normalization::UnicodeNormalization as _;

/// `text` folded for search; see the module's docs.
pub fn fold(text: &str) -> String {
    text.nfd().default_case_fold().nfc().collect()
}
