//! `GET /stats/cells`: the busiest radio cells over whole UTC days, with their completed and failed
//! shares, minutes and a daily series, summed from the per-cell rollup (see
//! [`by_cell`](crate::store::rollup::by_cell)) or, to check it, from the raw calls.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::DateTime;
use serde::Serialize;

use super::{Source, StatsReader};
use crate::error::ApiError;
use crate::generate::cells::{Eci, cell, cities, ecgi};
use crate::store::rollup::DAY_MS;
use crate::store::rollup::by_cell::CellCounts;

pub mod kept;
pub mod totals;

use totals::{Entry, Ranked, Totals, doc_entries, entries};

/// Most cells one answer ranks (`top`).
pub const MAX_TOP: usize = 1_000;
/// Most days one answer covers: a quarter.
pub const MAX_DAYS: i64 = 93;
/// Days covered when the request names neither end.
pub const DEFAULT_DAYS: i64 = 30;
/// Latest end of a range, 9999-12-31T00:00:00Z: the end of a later day is in year 10000, which an
/// RFC 3339 date-time cannot write.
pub const LAST_END_MS: i64 = 253_402_214_400_000;

/// What `GET /stats/cells` answers.
#[derive(Debug, Serialize, PartialEq)]
pub struct CellStats {
    /// First day covered (midnight UTC).
    pub from: String,
    /// End of the last day covered (midnight UTC, exclusive).
    pub to: String,
    /// Cells where at least one call started in the range.
    pub cells: usize,
    /// Calls that started in a cell in the range (desk phones' calls have none).
    pub calls: i64,
    /// The busiest cells, most calls first (ties by operator, then cell identity).
    pub top: Vec<CellFigures>,
}

/// One cell's figures over the range.
#[derive(Debug, Serialize, PartialEq)]
pub struct CellFigures {
    /// `MCC-MNC-ECI`, as the calls and `GET /cells` name it.
    pub ecgi: String,
    /// The area code whose city the cell serves.
    pub area_code: Option<u16>,
    /// That city.
    pub city: Option<String>,
    /// Calls that started in the cell.
    pub calls: i64,
    /// Of those, completed.
    pub completed: i64,
    /// Of those, failed.
    pub failed: i64,
    /// `completed / calls`, to four places.
    pub completed_share: f64,
    /// `failed / calls`, to four places.
    pub failed_share: f64,
    /// Total duration of its calls, minutes to two places.
    pub minutes: f64,
    /// Its calls and minutes per day of the range, every day listed.
    pub series: Vec<CellDayFigures>,
}

/// One cell's day.
#[derive(Debug, Serialize, PartialEq)]
pub struct CellDayFigures {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Calls that started in the cell that day.
    pub calls: i64,
    /// Their minutes, to two places.
    pub minutes: f64,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn date(ms: i64, format: &str) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// The whole UTC days a request covers: `from` back to its midnight, `to` on to the next (an
/// instant at midnight stays); a missing end lies [`DEFAULT_DAYS`] from the other, both missing:
/// the last [`DEFAULT_DAYS`] days up to and including today (`now_ms`).
pub fn day_range(from: Option<i64>, to: Option<i64>, now_ms: i64) -> Result<(i64, i64), ApiError> {
    let floor = |t: i64| t - t.rem_euclid(DAY_MS);
    let ceil = |t: i64| floor(t + DAY_MS - 1);
    let span = DEFAULT_DAYS * DAY_MS;
    let (a, b) = match (from.map(floor), to.map(ceil)) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a + span),
        (None, Some(b)) => (b - span, b),
        (None, None) => (ceil(now_ms + 1) - span, ceil(now_ms + 1)),
    };
    if b > LAST_END_MS {
        return Err(ApiError::invalid(
            "to",
            "the range must end by 9999-12-31T00:00:00Z (the end of a later day is in year 10000)",
        ));
    }
    let days = (b - a) / DAY_MS;
    if days > MAX_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("the range covers {days} days; at most {MAX_DAYS}"),
        ));
    }
    Ok((a, b))
}

/// The value of `top`: a whole number from 1 to [`MAX_TOP`]; 10 when absent.
pub fn top(value: Option<&str>) -> Result<usize, ApiError> {
    let Some(v) = value else { return Ok(10) };
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_TOP).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ApiError::invalid(
            "top",
            format!("expected a whole number from 1 to {MAX_TOP}, got {v:?}"),
        )),
    }
}

/// Ranks the cells of `days` (stored days of `[from_day, to_day)`, read twice) and keeps the
/// first `top`.
pub fn summarize<'a>(
    days: impl Iterator<Item = Entry<'a>> + Clone,
    range: (i64, i64),
    top: usize,
) -> CellStats {
    let mut totals = Totals::default();
    totals.add(days.clone());
    answer(&totals.ranked(top), days, range)
}

/// The answer for the `ranked` cells, their daily series summed from `days` (any entries holding
/// theirs).
pub fn answer<'a>(
    ranked: &Ranked,
    days: impl Iterator<Item = Entry<'a>>,
    (from_day, to_day): (i64, i64),
) -> CellStats {
    let name = |(o, e): (&str, Eci)| ecgi(o, e);
    let n_days = ((to_day - from_day) / DAY_MS).max(0) as usize;
    let mut series: HashMap<(&str, Eci), Vec<CellCounts>> = ranked
        .top
        .iter()
        .map(|((o, e), _)| ((&**o, *e), vec![CellCounts::default(); n_days]))
        .collect();
    for (o, day, eci, c) in days {
        if let Some(s) = series.get_mut(&(o, eci)) {
            let i = ((day - from_day) / DAY_MS) as usize;
            if let Some(slot) = s.get_mut(i) {
                slot.merge(c);
            }
        }
    }
    let top = ranked
        .top
        .iter()
        .map(|((o, e), c)| {
            let k = (&**o, *e);
            let place = cell(k.1);
            let share = |n: i64| round(n as f64 / c.calls.max(1) as f64, 4);
            let days = series.remove(&k).unwrap_or_default();
            CellFigures {
                ecgi: name(k),
                area_code: place.as_ref().map(|p| p.area_code),
                city: place.and_then(|p| {
                    let i = crate::generate::cells::city_of(p.area_code)?;
                    Some(cities()[i].name.clone())
                }),
                calls: c.calls,
                completed: c.completed,
                failed: c.failed,
                completed_share: share(c.completed),
                failed_share: share(c.failed),
                minutes: round(c.seconds as f64 / 60.0, 2),
                series: days
                    .iter()
                    .enumerate()
                    .map(|(i, d)| CellDayFigures {
                        day: date(from_day + i as i64 * DAY_MS, "%Y-%m-%d"),
                        calls: d.calls,
                        minutes: round(d.seconds as f64 / 60.0, 2),
                    })
                    .collect(),
            }
        })
        .collect();
    CellStats {
        from: date(from_day, "%Y-%m-%dT%H:%M:%SZ"),
        to: date(to_day, "%Y-%m-%dT%H:%M:%SZ"),
        cells: ranked.cells,
        calls: ranked.calls,
        top,
    }
}

impl StatsReader {
    /// The JSON answer of `GET /stats/cells` for whole days `[from_day, to_day)`; from the
    /// rollup, an answer is kept until the data changes.
    pub async fn cell_stats(
        &self,
        days: (i64, i64),
        top: usize,
        source: Source,
    ) -> Result<Arc<Vec<u8>>, ApiError> {
        let store = self.store.clone();
        let kept = self.cell_docs.clone();
        let key = format!("cells|{days:?}|{top}|{source:?}");
        self.shared(key, source == Source::Rollups, move |_| async move {
            let stats = match source {
                // The rollup's documents (mostly kept copies) into the range's kept totals.
                Source::Rollups => {
                    let docs = kept::current_docs(&store, &kept, days).await?;
                    tokio::task::spawn_blocking(move || {
                        let totals = kept::totals(&kept, days);
                        let ranked = {
                            let mut totals = totals.lock().expect("kept cell totals");
                            totals.update(&docs);
                            totals.ranked(top)
                        };
                        let wanted = docs.iter().filter(|d| ranked.wants(d));
                        answer(&ranked, doc_entries(wanted), days)
                    })
                    .await
                }
                Source::Raw => {
                    let stored = store.raw_cell_totals(days.0, days.1).await?;
                    tokio::task::spawn_blocking(move || summarize(entries(&stored), days, top))
                        .await
                }
            }
            .map_err(|e| ApiError::Internal(e.into()))?;
            serde_json::to_vec(&stats).map_err(|e| ApiError::Internal(e.into()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::cells::eci_in;
    use crate::store::rollup::by_cell::CellDay;

    fn day(operator: &str, d: i64, eci: Eci, calls: i64, completed: i64) -> CellDay {
        CellDay {
            operator: operator.into(),
            day: d * DAY_MS,
            eci,
            counts: CellCounts {
                calls,
                completed,
                failed: 1,
                seconds: 90,
            },
        }
    }

    #[test]
    fn cells_rank_by_calls_then_identity_with_every_day_listed() {
        let (a, b, c) = (eci_in(0, 4), eci_in(0, 9), eci_in(3, 1));
        let days = [
            day("311-480", 10, a, 5, 2),
            day("311-480", 12, a, 1, 1),
            day("311-480", 11, b, 6, 3),
            day("311-480", 11, c, 2, 0),
        ];
        let s = summarize(entries(&days), (10 * DAY_MS, 13 * DAY_MS), 2);
        assert_eq!((s.cells, s.calls), (3, 14));
        assert_eq!(s.from, "1970-01-11T00:00:00Z");
        assert_eq!(s.to, "1970-01-14T00:00:00Z");
        // a and b tie at 6 calls: the smaller ECI first.
        let got: Vec<(Eci, i64)> = s
            .top
            .iter()
            .map(|f| (f.ecgi.rsplit('-').next().unwrap().parse().unwrap(), f.calls))
            .collect();
        assert_eq!(got, vec![(a, 6), (b, 6)]);
        let first = &s.top[0];
        assert_eq!((first.completed, first.failed, first.minutes), (3, 2, 3.0));
        assert_eq!(first.completed_share, 0.5);
        let series: Vec<(&str, i64)> = first
            .series
            .iter()
            .map(|d| (d.day.as_str(), d.calls))
            .collect();
        assert_eq!(
            series,
            vec![("1970-01-11", 5), ("1970-01-12", 0), ("1970-01-13", 1)]
        );
        assert!(first.city.is_some());
    }

    #[test]
    fn ranges_are_whole_days_and_bounded() {
        let d = |n: i64| n * DAY_MS;
        assert_eq!(
            day_range(Some(d(3) + 5), Some(d(5) + 1), 0).unwrap(),
            (d(3), d(6))
        );
        assert_eq!(day_range(Some(d(3)), Some(d(5)), 0).unwrap(), (d(3), d(5)));
        assert_eq!(day_range(Some(d(3)), None, 0).unwrap(), (d(3), d(33)));
        assert_eq!(day_range(None, Some(d(40)), 0).unwrap(), (d(10), d(40)));
        // Both missing: the last 30 days, today included.
        assert_eq!(day_range(None, None, d(50) + 7).unwrap(), (d(21), d(51)));
        assert_eq!(day_range(Some(0), Some(d(93)), 0).unwrap(), (0, d(93)));
        assert!(day_range(Some(0), Some(d(93) + 1), 0).is_err());
        let last = LAST_END_MS;
        assert_eq!(day_range(None, Some(last), 0).unwrap().1, last);
        assert!(
            day_range(None, Some(last + 1), 0).is_err(),
            "its end is in year 10000"
        );
        assert_eq!(date(last, "%Y-%m-%dT%H:%M:%SZ"), "9999-12-31T00:00:00Z");
    }

    #[test]
    fn top_is_a_whole_number_up_to_its_bound() {
        assert_eq!(top(None).unwrap(), 10);
        assert_eq!(top(Some("1000")).unwrap(), 1000);
        assert_eq!(
            top(Some("007")).unwrap(),
            7,
            "leading zeros, as the pattern allows"
        );
        for bad in ["0", "1001", "+5", "-1", "ten", " 5"] {
            assert!(top(Some(bad)).is_err(), "{bad}");
        }
    }
}
