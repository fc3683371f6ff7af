//! Automatic Persisted Queries (Apollo's APQ): a document's SHA-256 names it, a client may
//! send the hash alone once the server holds the document, and [`PersistedQueries`] holds
//! them, in memory and bounded.
//!
//! Documents are held per audience (each role, and callers without a token apart): a hash
//! finds only documents someone of the same audience has run. Otherwise a hash alone would
//! tell a member whether an admin had run a document with a given literal in it.

use std::sync::{Mutex, PoisonError};

use super::refusal::Refusal;

/// The SHA-256 of a GraphQL document's text, which names it in Automatic Persisted Queries.
pub type DocumentHash = [u8; 32];

/// The hash of `document`.
pub fn document_hash(document: &str) -> DocumentHash {
    use sha2::Digest as _;
    sha2::Sha256::digest(document.as_bytes()).into()
}

/// `extensions.persistedQuery` (`{"version": 1, "sha256Hash": "<64 hex digits>"}`), if any.
pub(super) fn persisted_query(
    extensions: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<DocumentHash>, Refusal> {
    const SHAPE: &str = r#"{"persistedQuery": {"version": 1, "sha256Hash": "<64 hex digits>"}}"#;
    let Some(persisted) = extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let serde_json::Value::Object(persisted) = persisted else {
        return Err(Refusal::BadRequest(format!(
            "\"extensions.persistedQuery\" must be an object, as in {SHAPE}"
        )));
    };
    if persisted.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(Refusal::BadRequest(format!(
            "unsupported persisted query version; this server speaks version 1: {SHAPE}"
        )));
    }
    persisted
        .get("sha256Hash")
        .and_then(serde_json::Value::as_str)
        .and_then(parse_hex_hash)
        .map(Some)
        .ok_or_else(|| {
            Refusal::BadRequest(format!(
                "\"sha256Hash\" must be the SHA-256 of the document as 64 hex digits: {SHAPE}"
            ))
        })
}

/// 64 hex digits (either case) as the 32 bytes they spell.
fn parse_hex_hash(hex: &str) -> Option<DocumentHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |b: u8| char::from(b).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? << 4 | digit(pair[1])?).ok()?;
    }
    Some(hash)
}

/// The documents of Automatic Persisted Queries, by hash: in memory, per server, the least
/// recently used forgotten first past [`PersistedQueries::MAX_DOCUMENTS`] documents or
/// [`PersistedQueries::MAX_BYTES`] bytes of text. Servers share nothing and forget all at a
/// restart: a miss only asks the client to send the document once more.
pub struct PersistedQueries {
    cache: Mutex<Documents>,
    max_documents: usize,
    max_bytes: usize,
}

/// Who may find a document by its hash: a role's name, or another label for callers without
/// one (the handler decides).
pub type Audience = &'static str;

struct Documents {
    by_hash: lru::LruCache<(Audience, DocumentHash), String>,
    bytes: usize,
}

impl Default for PersistedQueries {
    fn default() -> PersistedQueries {
        PersistedQueries::new(Self::MAX_DOCUMENTS, Self::MAX_BYTES)
    }
}

impl PersistedQueries {
    /// How many documents a server keeps.
    pub const MAX_DOCUMENTS: usize = 1_000;
    /// How much document text a server keeps: a bound on memory whatever the documents'
    /// sizes (each may be as large as a request body).
    pub const MAX_BYTES: usize = 16 * 1024 * 1024;

    /// A store of at most `max_documents` documents and `max_bytes` bytes of text.
    pub fn new(max_documents: usize, max_bytes: usize) -> PersistedQueries {
        PersistedQueries {
            cache: Mutex::new(Documents {
                by_hash: lru::LruCache::unbounded(),
                bytes: 0,
            }),
            max_documents,
            max_bytes,
        }
    }

    /// The document `audience` ran under `hash`, if held (it becomes the most recently used).
    pub fn get(&self, audience: Audience, hash: &DocumentHash) -> Option<String> {
        self.lock().by_hash.get(&(audience, *hash)).cloned()
    }

    /// Keeps `document`, run by `audience`, under its hash, forgetting the least recently
    /// used documents past the bounds.
    pub fn insert(&self, audience: Audience, hash: DocumentHash, document: String) {
        if document.len() > self.max_bytes || self.max_documents == 0 {
            return;
        }
        let mut cache = self.lock();
        cache.bytes += document.len();
        if let Some(old) = cache.by_hash.put((audience, hash), document) {
            cache.bytes -= old.len();
        }
        while cache.by_hash.len() > self.max_documents || cache.bytes > self.max_bytes {
            let Some((_, old)) = cache.by_hash.pop_lru() else {
                break;
            };
            cache.bytes -= old.len();
        }
    }

    /// How many documents are held.
    pub fn len(&self) -> usize {
        self.lock().by_hash.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Documents> {
        // A panic while holding the lock leaves the map consistent: use it anyway.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_hashes_are_sha256_in_hex() {
        // sha256("{ __typename }"), as `printf '{ __typename }' | sha256sum` prints it.
        let hex = "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b";
        assert_eq!(parse_hex_hash(hex), Some(document_hash("{ __typename }")));
        assert_eq!(
            parse_hex_hash(&hex.to_ascii_uppercase()),
            parse_hex_hash(hex)
        );
        assert_eq!(parse_hex_hash(&hex[1..]), None);
        assert_eq!(parse_hex_hash(&format!("{}zz", &hex[2..])), None);
        assert_eq!(parse_hex_hash(&format!("+{}", &hex[1..])), None);
    }

    #[test]
    fn persisted_queries_forget_the_least_recently_used_past_either_bound() {
        let store = PersistedQueries::new(2, 10);
        let put = |doc: &str| store.insert("member", document_hash(doc), doc.to_owned());
        let held = |doc: &str| store.get("member", &document_hash(doc)).is_some();
        put("{ a }");
        put("{ b }");
        assert!(held("{ a }")); // now the most recently used
        put("{ c }");
        assert!(held("{ a }") && held("{ c }") && !held("{ b }"));
        put("{ aaaaa }"); // 9 bytes: only it fits in 10
        assert_eq!(store.len(), 1);
        assert!(held("{ aaaaa }"));
        put("{ much too long }"); // larger than the whole budget: not kept
        assert!(held("{ aaaaa }") && !held("{ much too long }"));
        put("{ aaaaa }"); // again: counted once
        assert_eq!(store.lock().bytes, 9);
    }

    #[test]
    fn a_hash_finds_only_what_the_same_audience_ran() {
        let store = PersistedQueries::default();
        let doc = r#"{ users(search: "secret@example.com") { totalCount } }"#;
        store.insert("admin", document_hash(doc), doc.to_owned());
        assert!(store.get("admin", &document_hash(doc)).is_some());
        assert!(store.get("member", &document_hash(doc)).is_none());
        assert!(store.get("anonymous", &document_hash(doc)).is_none());
    }
}
