//! UTC timestamps with microsecond resolution.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time in UTC, as whole microseconds since the Unix epoch (what Optuna's
/// `isoformat(timespec="microseconds")` keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
        };
        Timestamp(micros)
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub fn as_micros(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Timestamp {
    /// ISO-8601 in UTC with microseconds, as Python writes it: `2026-11-22T16:40:01.123456+00:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
            tod / 3600,
            tod / 60 % 60,
            tod % 60
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month 1-12, day 1-31) (H. Hinnant's
/// algorithm; exact for every `i64` day count whose year fits an `i64`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_isoformat() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000+00:00");
        // 2024-02-29T12:34:56.000789Z
        assert_eq!(
            Timestamp(1_709_210_096_000_789).to_string(),
            "2024-02-29T12:34:56.000789+00:00"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999999+00:00");
    }
}
