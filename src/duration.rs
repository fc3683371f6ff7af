//! Durations as Keepsake writes them: a whole number and one unit, `0s`, `90s`, `15m`, `24h`,
//! `30d`. Used by `--ttl`, `KEEPSAKE_UNDO_WINDOW` and `olderThan`.

use std::time::Duration;

/// Parses `90s`, `15m`, `24h` or `30d`. The message says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "'{text}' is not a duration; write a whole number and a unit, like 90s, 15m, 24h or 30d"
        )
    };
    let text_trimmed = text.trim();
    let split = text_trimmed.len().checked_sub(1).ok_or_else(bad)?;
    if !text_trimmed.is_char_boundary(split) {
        return Err(bad());
    }
    let (number, unit) = text_trimmed.split_at(split);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    // Ten thousand years is far past any sensible setting and safely inside chrono's range.
    const MAX_SECONDS: u64 = 10_000 * 365 * 86_400;
    match n.checked_mul(seconds_per_unit) {
        Some(secs) if secs <= MAX_SECONDS => Ok(Duration::from_secs(secs)),
        _ => Err(format!("'{text}' is too long a duration")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit() {
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("30d"), Ok(Duration::from_secs(30 * 86_400)));
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "s",
            "15",
            "15x",
            "-5m",
            "1.5h",
            "15 m",
            "m15",
            "99999999999999999999d",
            "1é",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
