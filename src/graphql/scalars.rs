//! Keepsake's own scalars and the descriptions of the library's: [`SafeInt`] for byte
//! counts, and words for `DateTime`, `JSON` and `Upload` that say what Keepsake sends and takes.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// The largest whole number a JavaScript number holds exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A whole number a JSON number carries exactly everywhere, from −(2^53 − 1) to 2^53 − 1
/// (JavaScript's `Number.MAX_SAFE_INTEGER`, 9,007,199,254,740,991): byte counts, which pass
/// `Int`'s 32 bits at 2 GiB. Written as a plain JSON number, never a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SafeInt(pub i64);

/// A whole number that a JSON number carries exactly everywhere, from -(2^53 - 1) to
/// 2^53 - 1 (JavaScript's `Number.MAX_SAFE_INTEGER`, 9007199254740991): byte counts, which
/// pass `Int`'s 32 bits at 2 GiB. Written as a plain JSON number, never a string.
#[Scalar(
    name = "SafeInt",
    specified_by_url = "https://the-guild.dev/graphql/scalars/docs/scalars/safe-int"
)]
impl ScalarType for SafeInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        let out_of_range = || {
            InputValueError::custom(format!(
                "a SafeInt is a whole number from -{MAX_SAFE_INTEGER} to {MAX_SAFE_INTEGER}"
            ))
        };
        match &value {
            Value::Number(number) => number
                .as_i64()
                .filter(|n| n.abs() <= MAX_SAFE_INTEGER)
                .map(SafeInt)
                .ok_or_else(out_of_range),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::from(self.0.clamp(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER))
    }
}

impl From<i64> for SafeInt {
    fn from(n: i64) -> SafeInt {
        SafeInt(n)
    }
}

/// `DateTime`'s description in the schema.
pub const DATE_TIME: &str = "A moment in time, as an RFC 3339 string in UTC with microseconds \
     (`2026-12-06T09:15:00.123456Z`). Arguments take any RFC 3339 offset.";

/// `JSON`'s description in the schema.
pub const JSON: &str = "Any JSON value, as it was stored: an archived row's columns.";

/// `Upload`'s description in the schema.
pub const UPLOAD: &str = "A file sent beside the request, as the GraphQL multipart request \
     spec says: `null` in `variables`, and the file's part named in `map`.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ints_are_whole_numbers_within_two_to_the_53() {
        assert_eq!(
            SafeInt::parse(Value::from(3_000_000_000i64)).ok(),
            Some(SafeInt(3_000_000_000))
        );
        assert_eq!(
            SafeInt::parse(Value::from(MAX_SAFE_INTEGER)).ok(),
            Some(SafeInt(MAX_SAFE_INTEGER))
        );
        assert!(SafeInt::parse(Value::from(MAX_SAFE_INTEGER + 1)).is_err());
        assert!(SafeInt::parse(Value::from(1.5)).is_err());
        assert!(SafeInt::parse(Value::from("12")).is_err());
        assert_eq!(
            SafeInt(3_000_000_000).to_value(),
            Value::from(3_000_000_000i64)
        );
    }
}
