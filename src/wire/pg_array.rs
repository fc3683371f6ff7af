//! PostgreSQL's binary array format (`array_send`), read straight from the bytes: the
//! server sends each owner's page of attachments as one row of arrays, and reading them here
//! costs a fraction of sqlx's per-element decoding. Plumbing of the wire, apart from the
//! soft-delete rules that use it (`soft_delete/decode.rs`).

/// An array element type read straight from its binary form.
pub trait BinaryElement: Sized {
    /// The element types (OIDs) [`BinaryElement::binary`] reads.
    const OIDS: &'static [u32];
    /// The element out of its binary form (`None`: SQL NULL), as sqlx would decode it.
    fn binary(bytes: Option<&[u8]>) -> Result<Self, String>;
}

/// PostgreSQL's `int8`.
pub const INT8: u32 = 20;
/// PostgreSQL's `text` and `varchar`.
const TEXT: [u32; 2] = [25, 1043];
/// PostgreSQL's `timestamptz`.
pub const TIMESTAMPTZ: u32 = 1184;
/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn not_null(bytes: Option<&[u8]>) -> Result<&[u8], String> {
    bytes.ok_or_else(|| "unexpected NULL".to_owned())
}

impl BinaryElement for i64 {
    const OIDS: &'static [u32] = &[INT8];
    fn binary(bytes: Option<&[u8]>) -> Result<i64, String> {
        let bytes = not_null(bytes)?;
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| "an int8 of other than 8 bytes")?;
        Ok(i64::from_be_bytes(bytes))
    }
}

impl BinaryElement for String {
    const OIDS: &'static [u32] = &TEXT;
    fn binary(bytes: Option<&[u8]>) -> Result<String, String> {
        let bytes = not_null(bytes)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| e.to_string())
    }
}

impl BinaryElement for chrono::DateTime<chrono::Utc> {
    const OIDS: &'static [u32] = &[TIMESTAMPTZ];
    fn binary(bytes: Option<&[u8]>) -> Result<Self, String> {
        let micros = i64::binary(bytes)?;
        micros
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(chrono::DateTime::from_timestamp_micros)
            .ok_or_else(|| format!("timestamp out of range: {micros} µs"))
    }
}

impl<T: BinaryElement> BinaryElement for Option<T> {
    const OIDS: &'static [u32] = T::OIDS;
    fn binary(bytes: Option<&[u8]>) -> Result<Option<T>, String> {
        match bytes {
            None => Ok(None),
            Some(bytes) => T::binary(Some(bytes)).map(Some),
        }
    }
}

/// A one-dimensional PostgreSQL array in binary form, read without sqlx's per-element
/// machinery: `Ok(None)` when it is not one this reads (another element type, more
/// dimensions), for sqlx to read; an error when it is malformed.
pub fn binary_array<T: BinaryElement>(bytes: &[u8]) -> Result<Option<Vec<T>>, String> {
    fn take<const N: usize>(r: &mut &[u8]) -> Result<[u8; N], String> {
        let (head, rest) = r
            .split_first_chunk::<N>()
            .ok_or_else(|| "array cut short".to_owned())?;
        *r = rest;
        Ok(*head)
    }
    let mut r = bytes;
    let dimensions = i32::from_be_bytes(take(&mut r)?);
    let _has_nulls = take::<4>(&mut r)?;
    let oid = u32::from_be_bytes(take(&mut r)?);
    if !T::OIDS.contains(&oid) {
        return Ok(None);
    }
    match dimensions {
        0 if r.is_empty() => return Ok(Some(Vec::new())),
        0 => return Err("bytes after an empty array".into()),
        1 => {}
        _ => return Ok(None),
    }
    let len = i32::from_be_bytes(take(&mut r)?);
    let _lower_bound = take::<4>(&mut r)?;
    let len = usize::try_from(len).map_err(|_| "negative array length")?;
    // Each element takes at least its 4-byte length.
    let mut out = Vec::with_capacity(len.min(r.len() / 4));
    for _ in 0..len {
        let size = i32::from_be_bytes(take(&mut r)?);
        let cell = match usize::try_from(size) {
            Err(_) if size == -1 => None,
            Err(_) => return Err(format!("an element of length {size}")),
            Ok(size) => {
                let (cell, rest) = r.split_at_checked(size).ok_or("array cut short")?;
                r = rest;
                Some(cell)
            }
        };
        out.push(T::binary(cell)?);
    }
    if !r.is_empty() {
        return Err("bytes after the array's last element".into());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    /// A one-dimensional array in PostgreSQL's binary form.
    fn array(oid: u32, cells: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&i32::from(cells.iter().any(Option::is_none)).to_be_bytes());
        out.extend_from_slice(&oid.to_be_bytes());
        out.extend_from_slice(&(cells.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for cell in cells {
            match cell {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(bytes) => {
                    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    /// Arrays read from their binary form give what PostgreSQL sent, and anything else is
    /// handed back (`Ok(None)`) or refused, never misread.
    #[test]
    fn binary_arrays_read_as_sqlx_would() {
        use super::{INT8, TIMESTAMPTZ, binary_array};
        type DateTimeUtc = chrono::DateTime<chrono::Utc>;

        let ints = array(
            INT8,
            &[Some(&1i64.to_be_bytes()), Some(&(-2i64).to_be_bytes())],
        );
        assert_eq!(binary_array::<i64>(&ints), Ok(Some(vec![1, -2])));
        // Another element type is not misread: sqlx reads it (and checks it).
        assert_eq!(binary_array::<String>(&ints), Ok(None));
        let int4 = array(23, &[Some(&1i32.to_be_bytes())]);
        assert_eq!(binary_array::<i64>(&int4), Ok(None));

        let texts = array(1043, &[Some("a".as_bytes()), None, Some("é".as_bytes())]);
        assert_eq!(
            binary_array::<Option<String>>(&texts),
            Ok(Some(vec![Some("a".into()), None, Some("é".into())]))
        );
        // A NULL where the column holds none is an error, as it is for sqlx.
        assert!(binary_array::<String>(&texts).is_err());
        let bad_utf8 = array(25, &[Some(&[0xff, 0xfe][..])]);
        assert!(binary_array::<String>(&bad_utf8).is_err());

        // 2000-01-01 plus one day and one microsecond.
        let micros = 86_400_000_001i64;
        let stamps = array(TIMESTAMPTZ, &[Some(&micros.to_be_bytes())]);
        let expected = chrono::DateTime::parse_from_rfc3339("2000-01-02T00:00:00.000001Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            binary_array::<DateTimeUtc>(&stamps),
            Ok(Some(vec![expected]))
        );
        let infinity = array(TIMESTAMPTZ, &[Some(&i64::MAX.to_be_bytes())]);
        assert!(binary_array::<DateTimeUtc>(&infinity).is_err());

        // An empty array has no dimensions.
        let mut empty = Vec::new();
        for word in [0i32, 0, INT8 as i32] {
            empty.extend_from_slice(&word.to_be_bytes());
        }
        assert_eq!(binary_array::<i64>(&empty), Ok(Some(vec![])));

        // Cut short, padded, or with a cell of the wrong size: refused.
        assert!(binary_array::<i64>(&ints[..ints.len() - 1]).is_err());
        let mut padded = ints.clone();
        padded.push(0);
        assert!(binary_array::<i64>(&padded).is_err());
        let short = array(INT8, &[Some(&[0, 1][..])]);
        assert!(binary_array::<i64>(&short).is_err());
        assert!(binary_array::<i64>(&[0, 0, 0]).is_err());
        let mut negative = array(INT8, &[]);
        negative[12..16].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(binary_array::<i64>(&negative).is_err());
        let mut odd_null = array(INT8, &[None]);
        odd_null[20..24].copy_from_slice(&(-2i32).to_be_bytes());
        assert!(binary_array::<Option<i64>>(&odd_null).is_err());
        let mut padded_empty = empty.clone();
        padded_empty.push(0);
        assert!(binary_array::<i64>(&padded_empty).is_err());
        let nulls = array(TIMESTAMPTZ, &[None, Some(&0i64.to_be_bytes())]);
        let epoch = chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            binary_array::<Option<DateTimeUtc>>(&nulls),
            Ok(Some(vec![None, Some(epoch)]))
        );
    }
}
