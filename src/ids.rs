//! Opaque ids and cursors.
//!
//! A GraphQL id is the URL-safe base64 of `Kind:number` (Relay global object identification):
//! clients treat it as an opaque string, and `node(id)` can tell a user's id from an
//! attachment's. Cursors are the base64 of `cursor:number`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// What a global id names: a soft-deletable entity's row, or a deletion log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Attachment,
    Deletion,
}

impl Kind {
    /// The prefix inside the id: the GraphQL type's name.
    fn prefix(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Attachment => "Attachment",
            Kind::Deletion => "Deletion",
        }
    }

    const ALL: [Kind; 3] = [Kind::User, Kind::Attachment, Kind::Deletion];
}

/// The global id of row `id` of `kind`.
pub fn encode(kind: Kind, id: i64) -> String {
    encode_text(kind.prefix(), id)
}

/// Appends the global id of row `id` of `kind` to `out` (base64url: nothing in it needs
/// escaping in JSON). Written for every row of every page, so encoded here in one loop over
/// the text on the stack; a unit test checks it against the `base64` crate.
pub fn encode_into(kind: Kind, id: i64, out: &mut Vec<u8>) {
    let (text, len) = plain_text(kind.prefix(), id);
    base64url_into(&text[..len], out);
}

/// The URL-safe base64 alphabet.
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Appends the URL-safe base64 of `text`, without padding.
fn base64url_into(text: &[u8], out: &mut Vec<u8>) {
    let sextet = |n: u32, shift: u32| BASE64URL[((n >> shift) & 63) as usize];
    out.reserve(text.len().div_ceil(3) * 4);
    let mut groups = text.chunks_exact(3);
    for group in &mut groups {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)]);
    }
    match *groups.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12)]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6)]);
        }
        _ => {}
    }
}

/// `prefix:id` on the stack, and its length.
fn plain_text(prefix: &str, id: i64) -> ([u8; 48], usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(id).as_bytes();
    let mut text = [0u8; 48];
    let len = prefix.len() + 1 + digits.len();
    text[..prefix.len()].copy_from_slice(prefix.as_bytes());
    text[prefix.len()] = b':';
    text[prefix.len() + 1..len].copy_from_slice(digits);
    (text, len)
}

/// The base64 of `prefix:id`, built on the stack: ids are written for every row of every
/// page, and `format!` would cost one more allocation and the formatting machinery each.
fn encode_text(prefix: &str, id: i64) -> String {
    let (text, len) = plain_text(prefix, id);
    URL_SAFE_NO_PAD.encode(&text[..len])
}

/// The bytes of an id or cursor in base64: Keepsake writes the URL-safe alphabet without
/// padding, and reads that, the standard alphabet (`+`, `/`) and padding (`=`) alike, so an
/// id a client built with `btoa("User:10")` or Node's `Buffer` is the same id.
fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    let unpadded = text
        .strip_suffix("==")
        .or_else(|| text.strip_suffix('='))
        .unwrap_or(text);
    if unpadded.len() != text.len() && !text.len().is_multiple_of(4) {
        return None; // padding where none belongs
    }
    let url_safe: String = unpadded
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(url_safe).ok()
}

/// Splits a global id into its kind and row id; `BAD_USER_INPUT` when it is not one of ours.
pub fn decode_any(global: &str) -> Result<(Kind, i64)> {
    let bad = || Error::bad_input(format!("'{global}' is not a Keepsake id"));
    let bytes = base64_bytes(global).ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (prefix, number) = text.split_once(':').ok_or_else(bad)?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.prefix() == prefix)
        .ok_or_else(bad)?;
    let id = number.parse::<i64>().map_err(|_| bad())?;
    if id <= 0 {
        return Err(bad());
    }
    Ok((kind, id))
}

/// The row id inside a global id that must be of `kind`.
pub fn decode(kind: Kind, global: &str) -> Result<i64> {
    match decode_any(global)? {
        (k, id) if k == kind => Ok(id),
        (k, _) => Err(Error::bad_input(format!(
            "'{global}' is the id of a {}, not of a {}",
            k.prefix(),
            kind.prefix()
        ))),
    }
}

/// The cursor just after row `id`.
pub fn cursor(id: i64) -> String {
    encode_text("cursor", id)
}

/// The row id inside a cursor; `BAD_USER_INPUT` naming the argument (`after`, `before`) when
/// it is not a cursor.
pub fn decode_cursor(argument: &str, cursor: &str) -> Result<i64> {
    let bad = || {
        Error::bad_input(format!(
            "{argument}: '{cursor}' is not a cursor; pass a startCursor, endCursor or edge \
             cursor from this connection"
        ))
    };
    let bytes = base64_bytes(cursor).ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("cursor:")
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_into_appends_what_encode_returns() {
        for (kind, id) in [
            (Kind::User, 1),
            (Kind::Attachment, i64::MAX),
            (Kind::Deletion, -7),
        ] {
            let mut out = b"x".to_vec();
            encode_into(kind, id, &mut out);
            assert_eq!(out, format!("x{}", encode(kind, id)).into_bytes());
        }
    }

    use super::*;

    #[test]
    fn base64url_into_writes_what_the_base64_crate_does() {
        let mut text = Vec::new();
        for byte in (0..=255u8).chain(0..=255u8).step_by(7) {
            let mut out = b"x".to_vec();
            base64url_into(&text, &mut out);
            assert_eq!(
                out,
                format!("x{}", URL_SAFE_NO_PAD.encode(&text)).into_bytes()
            );
            text.push(byte);
        }
        for kind in [Kind::User, Kind::Attachment, Kind::Deletion] {
            for id in (-1_000..1_000).chain([i64::MIN, i64::MAX, 1 << 40]) {
                let mut out = Vec::new();
                encode_into(kind, id, &mut out);
                let text = format!("{}:{id}", kind.prefix());
                assert_eq!(out, URL_SAFE_NO_PAD.encode(text).into_bytes());
            }
        }
    }

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let id = encode(Kind::Attachment, 42);
        assert_eq!(decode_any(&id).unwrap(), (Kind::Attachment, 42));
        assert_eq!(decode(Kind::Attachment, &id).unwrap(), 42);
        assert_eq!(
            decode(Kind::User, &id).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
    }

    #[test]
    fn ids_are_the_base64_of_kind_and_number() {
        for id in [1, 42, i64::MAX] {
            assert_eq!(
                encode(Kind::Attachment, id),
                URL_SAFE_NO_PAD.encode(format!("Attachment:{id}"))
            );
            assert_eq!(cursor(id), URL_SAFE_NO_PAD.encode(format!("cursor:{id}")));
        }
        assert_eq!(encode(Kind::User, 1), "VXNlcjox");
    }

    #[test]
    fn garbage_is_bad_input() {
        for bad in [
            "",
            "42",
            "!!",
            &URL_SAFE_NO_PAD.encode("User:x"),
            &URL_SAFE_NO_PAD.encode("User:-1"),
        ] {
            assert_eq!(
                decode_any(bad).unwrap_err().code(),
                "BAD_USER_INPUT",
                "{bad}"
            );
        }
        assert_eq!(decode_cursor("after", &cursor(7)).unwrap(), 7);
        assert!(decode_cursor("before", &encode(Kind::User, 7)).is_err());
    }

    #[test]
    fn padded_and_standard_base64_name_the_same_id() {
        use base64::engine::general_purpose::STANDARD;
        for id in [7, 10, 123_456_789] {
            for kind in Kind::ALL {
                let text = format!("{}:{id}", kind.prefix());
                // What `btoa` and Node's `Buffer` write: the standard alphabet, padded.
                let padded = STANDARD.encode(&text);
                assert_eq!(decode_any(&padded).unwrap(), (kind, id), "{padded}");
                assert_eq!(decode_any(&encode(kind, id)).unwrap(), (kind, id));
            }
        }
        assert_eq!(decode_any("RGVsZXRpb246Nw==").unwrap(), (Kind::Deletion, 7));
        assert_eq!(
            decode_cursor("after", &STANDARD.encode("cursor:9")).unwrap(),
            9
        );
        // Padding where none belongs, or too much of it, is not an id.
        for bad in ["VXNlcjox=", "VXNlcjoxMA===", "=VXNlcjoxMA=="] {
            assert!(decode_any(bad).is_err(), "{bad}");
        }
    }
}
