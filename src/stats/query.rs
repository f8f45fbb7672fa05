//! Parsing what dashboards send: instants as RFC 3339, dates or epoch milliseconds, Grafana-style
//! durations, and the choice of a bucket width for `interval=auto`.

use chrono::{DateTime, NaiveDate};

use crate::error::ApiError;
use crate::generate::params::{EARLIEST_MS, LATEST_MS_EXCLUSIVE};
use crate::store::rollup::{DAY_MS, Grouping, HOUR_MS, MINUTE_MS};

/// A week, in milliseconds; weekly buckets start on Mondays (UTC).
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-05, the first Monday after the epoch: where weekly buckets are aligned.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;
/// Longest range buckets of whole fine slots (under an hour: a minute for calls, five minutes for
/// metrics) may cover: they are read from the fine rollups, documents per hour.
pub const MAX_FINE_RANGE_MS: i64 = 2 * DAY_MS;
/// Longest range buckets of other widths (finer than the fine slots, or not a multiple of them) may
/// cover: they are computed from raw documents.
pub const MAX_RAW_RANGE_MS: i64 = HOUR_MS;
/// Most buckets one series answer may hold.
pub const MAX_BUCKETS: i64 = 10_000;
/// Widths `interval=auto` chooses from.
const AUTO_WIDTHS: [i64; 12] = [
    MINUTE_MS,
    5 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    WEEK_MS,
    4 * WEEK_MS,
    52 * WEEK_MS,
];

/// A value sent for an optional parameter: empty means absent (Grafana sends `from=` for unset
/// variables). Nothing is trimmed: ` 1h` is not `1h`, as the spec's patterns say.
pub fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// An instant in epoch milliseconds: RFC 3339 (a `+hh:mm` offset may arrive as ` hh:mm` from an
/// unencoded URL), `YYYY-MM-DD` (midnight UTC) or epoch milliseconds (what `${__from}` sends).
pub fn instant(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let ms = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<i64>().ok()
    } else if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        Some(t.timestamp_millis())
    } else if let Ok(t) = DateTime::parse_from_rfc3339(&v.replacen(' ', "+", 1)) {
        Some(t.timestamp_millis())
    } else if let Some(d) = date(v) {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
    } else {
        None
    };
    match ms {
        Some(ms) if (EARLIEST_MS..LATEST_MS_EXCLUSIVE).contains(&ms) => Ok(Some(ms)),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("must lie between 1970-01-01 and 9999-12-31, got {v:?}"),
        )),
        None => Err(ApiError::invalid(
            field,
            format!(
                "expected an RFC 3339 timestamp, a YYYY-MM-DD date or epoch milliseconds, got {v:?}"
            ),
        )),
    }
}

/// `YYYY-MM-DD` exactly (chrono's own parser would also take spaces before each number).
fn date(v: &str) -> Option<NaiveDate> {
    let b = v.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
}

/// `[from, to)` with `from` before `to` when both are given.
pub fn range(from: Option<&str>, to: Option<&str>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let (from, to) = (instant("from", from)?, instant("to", to)?);
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(ApiError::invalid("to", "must be later than from"));
    }
    Ok((from, to))
}

/// A bucket width asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// Chosen from the range and the number of points the panel can show.
    Auto,
    /// This many milliseconds.
    Fixed(i64),
}

/// A Grafana-style duration (`30s`, `5m`, `1h`, `6h`, `1d`, `1w`, a bare number of milliseconds as
/// `$__interval_ms` sends) or `auto`.
pub fn interval(value: Option<&str>) -> Result<Interval, ApiError> {
    let Some(v) = value else {
        return Ok(Interval::Auto);
    };
    if v == "auto" {
        return Ok(Interval::Auto);
    }
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = v.split_at(digits);
    let unit_ms = match unit {
        "" | "ms" => Some(1),
        "s" => Some(1000),
        "m" => Some(MINUTE_MS),
        "h" => Some(HOUR_MS),
        "d" => Some(DAY_MS),
        "w" => Some(WEEK_MS),
        _ => None,
    };
    match (n.parse::<i64>().ok(), unit_ms) {
        (Some(n), Some(u)) if n > 0 && n.checked_mul(u).is_some() => Ok(Interval::Fixed(n * u)),
        _ => Err(ApiError::invalid(
            "interval",
            format!("expected auto or a duration like 30s, 5m, 1h, 6h, 1d, 1w, got {v:?}"),
        )),
    }
}

/// Most buckets a panel can show (`max_points`), 500 when absent.
pub fn max_points(value: Option<&str>) -> Result<i64, ApiError> {
    let Some(v) = value else {
        return Ok(500);
    };
    v.parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_BUCKETS).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(
                "max_points",
                format!("must be an integer between 1 and {MAX_BUCKETS}, got {v:?}"),
            )
        })
}

/// The width for `auto`: the smallest standard width giving at most `max_points` buckets over
/// `span_ms`, among the widths the range allows (see [`MAX_FINE_RANGE_MS`], [`MAX_RAW_RANGE_MS`])
/// with fine rollup slots `fine_ms` wide.
pub fn auto_width(span_ms: i64, max_points: i64, fine_ms: i64) -> i64 {
    let floor = if span_ms > MAX_FINE_RANGE_MS {
        HOUR_MS
    } else if span_ms > MAX_RAW_RANGE_MS {
        fine_ms
    } else {
        1
    };
    AUTO_WIDTHS
        .into_iter()
        .filter(|w| *w >= floor)
        .find(|w| ceil_div(span_ms, *w) <= max_points)
        .unwrap_or_else(|| ceil_div(ceil_div(span_ms, max_points), WEEK_MS) * WEEK_MS)
}

/// `a / b` rounded up, for positive `a` and `b`.
pub fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// The buckets of width `width`: aligned to the epoch, or to Mondays for whole weeks.
pub fn grouping(width: i64) -> Grouping {
    Grouping {
        width,
        offset: if width % WEEK_MS == 0 {
            FIRST_MONDAY_MS
        } else {
            0
        },
    }
}

/// Start of the bucket of width `width` holding `t`.
pub fn bucket(t: i64, width: i64) -> i64 {
    grouping(width).slot(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_every_form_dashboards_send() {
        let t = 1_761_955_200_000; // 2025-11-01T00:00:00Z
        for v in [
            "1761955200000",
            "2025-11-01T00:00:00Z",
            "2025-11-01T01:00:00+01:00",
            "2025-11-01T01:00:00 01:00",
            "2025-11-01",
        ] {
            assert_eq!(instant("from", Some(v)).unwrap(), Some(t), "{v}");
        }
        assert_eq!(present(&Some(String::new())), None);
        assert_eq!(present(&Some("\u{b}".into())), Some("\u{b}"));
        for v in [
            " 2025-11-01",
            "2025-11-01 ",
            "2025- 11-01",
            "\u{b}",
            " 1761955200000",
        ] {
            assert!(instant("from", Some(v)).is_err(), "{v:?}");
        }
        assert!(instant("from", Some("last-week")).is_err());
        assert!(instant("from", Some("99999999999999999")).is_err());
    }

    #[test]
    fn intervals_and_auto() {
        assert_eq!(interval(Some("1h")).unwrap(), Interval::Fixed(HOUR_MS));
        assert_eq!(interval(Some("30s")).unwrap(), Interval::Fixed(30_000));
        assert_eq!(interval(Some("60000")).unwrap(), Interval::Fixed(MINUTE_MS));
        assert_eq!(interval(None).unwrap(), Interval::Auto);
        assert!(interval(Some("1M")).is_err());
        assert!(interval(Some("0h")).is_err());
        let five = 5 * MINUTE_MS;
        assert_eq!(auto_width(30 * DAY_MS, 500, five), 3 * HOUR_MS);
        assert_eq!(auto_width(6 * HOUR_MS, 500, five), 5 * MINUTE_MS);
        assert_eq!(auto_width(6 * HOUR_MS, 500, MINUTE_MS), MINUTE_MS);
        assert_eq!(auto_width(2 * HOUR_MS, 100, five), 5 * MINUTE_MS);
        assert_eq!(auto_width(HOUR_MS, 500, five), MINUTE_MS);
        assert_eq!(auto_width(2 * DAY_MS, 10, five), 6 * HOUR_MS);
        assert_eq!(auto_width(7 * DAY_MS, 10_000, MINUTE_MS), HOUR_MS);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-18 is a Wednesday; its week starts Monday 2026-11-16.
        let wed = 1_794_960_000_000;
        let monday = 1_794_787_200_000;
        assert_eq!(bucket(wed, WEEK_MS), monday);
        assert_eq!(bucket(wed + 5 * HOUR_MS, DAY_MS), wed);
    }
}
