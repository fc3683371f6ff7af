//! A GraphQL response's JSON, written by hand so that parts of it can be written early.
//!
//! async-graphql builds a response as a tree of [`Value`]s (an `IndexMap` for every object,
//! its keys hashed), which serde then walks again to write JSON. For a list whose objects ask
//! only for plain fields (`graphql/leaves.rs`) that tree is most of a request's work: the
//! yardstick page has 500 such objects. Such a list is written straight to JSON instead, and
//! travels through the executor as one [`spliced`] value that [`write_response`] copies into
//! the body as it stands.
//!
//! A spliced value is a [`Value::Binary`] that starts with a marker no JSON text and no
//! schema field produces (the schema has no binary output). Anything that reads a response
//! other than through [`write_response`] must first [`expand`] it.

use async_graphql::{Name, Response, Value};
use bytes::Bytes;

/// The first bytes of a spliced value: a NUL cannot start JSON text.
const MARK: &[u8] = b"\0keepsake-json\0";

/// A buffer to write one spliced value into, with room for about `capacity` bytes of JSON.
pub fn splice_buffer(capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(MARK.len() + capacity);
    out.extend_from_slice(MARK);
    out
}

/// The JSON text written into a [`splice_buffer`] as a value of the response. The caller
/// vouches that it is one well-formed JSON value.
pub fn spliced(buffer: Vec<u8>) -> Value {
    debug_assert!(buffer.starts_with(MARK));
    Value::Binary(Bytes::from(buffer))
}

/// The JSON text of a spliced value, or `None` for any other value.
fn splice_text(value: &Value) -> Option<&[u8]> {
    match value {
        Value::Binary(bytes) => bytes.strip_prefix(MARK),
        _ => None,
    }
}

/// Writes `response` as async-graphql's `Serialize` does (`data`, then `extensions` and
/// `errors` when there are any), with spliced values copied in as they stand.
pub fn write_response(response: &Response, out: &mut Vec<u8>) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"data\":");
    write_value(&response.data, out)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut *out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

/// Writes `value` as JSON: exactly serde's text for it, with spliced values as they stand.
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match value {
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_key(key, out)?;
                write_value(item, out)?;
            }
            out.push(b'}');
        }
        Value::String(text) => write_str(text, out)?,
        other => match splice_text(other) {
            Some(text) => out.extend_from_slice(text),
            None => serde_json::to_writer(&mut *out, other)?,
        },
    }
    Ok(())
}

/// Writes `"key":`.
pub fn write_key(key: &Name, out: &mut Vec<u8>) -> serde_json::Result<()> {
    write_str(key, out)?;
    out.push(b':');
    Ok(())
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it.
pub fn write_str(text: &str, out: &mut Vec<u8>) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, text)
}

/// About how many bytes `value`'s JSON takes: its spliced parts exactly, a guess for the
/// rest (a page of rows is mostly spliced lists). Walks objects and lists, not their text.
pub fn size_hint(value: &Value) -> usize {
    match value {
        Value::List(items) => 2 + items.iter().map(size_hint).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(key, item)| key.len() + 4 + size_hint(item))
                .sum::<usize>()
        }
        Value::String(text) => text.len() + 2,
        other => splice_text(other).map_or(8, <[u8]>::len),
    }
}

/// `value` with every spliced part read back into values: what async-graphql alone would
/// have built. For code that reads a response as values rather than sending it.
pub fn expand(value: Value) -> serde_json::Result<Value> {
    Ok(match value {
        Value::List(items) => Value::List(items.into_iter().map(expand).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| Ok((key, expand(item)?)))
                .collect::<serde_json::Result<_>>()?,
        ),
        other => match splice_text(&other) {
            Some(text) => serde_json::from_slice(text)?,
            None => other,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spliced_text(text: &str) -> Value {
        let mut buffer = splice_buffer(text.len());
        buffer.extend_from_slice(text.as_bytes());
        spliced(buffer)
    }

    fn written(response: &Response) -> String {
        let mut out = Vec::new();
        write_response(response, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_response_without_splices_is_serdes_text() {
        let data: Value = serde_json::from_str(
            r#"{"a":[1,2.5,-3,null,true,"x\"\n\u0001é"],"b":{"c":"ENUM","z":{}},"e":[]}"#,
        )
        .unwrap();
        let mut response = Response::new(data);
        response
            .errors
            .push(async_graphql::ServerError::new("boom \"here\"", None));
        let response = response.extension("k", Value::from(7));
        assert_eq!(
            written(&response),
            serde_json::to_string(&response).unwrap()
        );
        assert_eq!(written(&Response::default()), r#"{"data":null}"#);
    }

    #[test]
    fn a_splice_is_copied_in_and_expands_to_its_values() {
        let list = r#"[{"id":"QQ","n":1},{"id":"Qg","n":null}]"#;
        let mut map = async_graphql::indexmap::IndexMap::new();
        map.insert(Name::new("nodes"), spliced_text(list));
        let response = Response::new(Value::Object(map.clone()));
        assert_eq!(
            written(&response),
            format!(r#"{{"data":{{"nodes":{list}}}}}"#)
        );

        let expanded = expand(Value::Object(map)).unwrap();
        let expected: Value = serde_json::from_str(&format!(r#"{{"nodes":{list}}}"#)).unwrap();
        assert_eq!(expanded, expected);
    }

    #[test]
    fn binary_that_is_not_a_splice_is_written_as_serde_writes_it() {
        let value = Value::Binary(Bytes::from_static(b"\0kee"));
        let mut out = Vec::new();
        write_value(&value, &mut out).unwrap();
        assert_eq!(out, serde_json::to_vec(&value).unwrap());
    }
}
