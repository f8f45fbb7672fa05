//! `GET /stats`: the overview a dashboard's summary panels read, assembled from hourly cells.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ask, Source, StatsReader};
use crate::error::ApiError;
use crate::generate::Kind;
use crate::store::rollup::{Cell, Cells, DAY_MS, Grouping, Resolution};
use crate::store::stats::KeyFilter;

impl StatsReader {
    /// The overview of `[from, to)` as JSON: kept until the data changes (unless read from the raw
    /// documents), shared by identical concurrent requests.
    pub async fn overview(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        source: Source,
    ) -> Result<Arc<Vec<u8>>, ApiError> {
        let reader = self.clone();
        let key = format!("overview|{from:?}|{to:?}|{source:?}");
        self.shared(key, source == Source::Rollups, move |version| async move {
            // The overview sums by day: whole days come from the day totals, and the cells of a
            // partial day are summed into it while they are read.
            let ask = |kind| Ask {
                kind,
                from,
                to,
                keys: KeyFilter::default(),
                finest: Resolution::Day,
                grouping: Grouping::every(DAY_MS),
            };
            let (calls, metrics, sms) = (ask(Kind::Calls), ask(Kind::Metrics), ask(Kind::Sms));
            let (calls, metrics, sms) = tokio::try_join!(
                reader.cells(&calls, source, version),
                reader.cells(&metrics, source, version),
                reader.cells(&sms, source, version),
            )?;
            let stats = Stats {
                from: from.and_then(DateTime::from_timestamp_millis),
                to: to.and_then(DateTime::from_timestamp_millis),
                calls: self::calls(&calls),
                metrics: self::metrics(&metrics),
                sms: self::sms(&sms),
            };
            serde_json::to_vec(&stats).map_err(|e| ApiError::Internal(e.into()))
        })
        .await
    }
}

/// What `GET /stats` answers.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// Start of the range (inclusive), if one was given.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (exclusive), if one was given.
    pub to: Option<DateTime<Utc>>,
    /// Call record statistics.
    pub calls: CallStats,
    /// Metric statistics.
    pub metrics: MetricStats,
    /// Text record statistics.
    pub sms: SmsStats,
}

/// Text records (MO and MT) grouped three ways.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct SmsStats {
    /// Records in the range.
    pub total: i64,
    /// Per UTC day (submit time) and status, oldest day first.
    pub by_day: Vec<SmsGroup>,
    /// Per status.
    pub by_status: Vec<SmsGroup>,
    /// Per kind (person to person, or an application's one-time code, alert or marketing).
    pub by_kind: Vec<SmsGroup>,
}

/// One group of text records.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct SmsGroup {
    /// UTC day, `YYYY-MM-DD` (in `by_day`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    /// Status (in `by_day` and `by_status`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Kind (in `by_kind`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<String>,
    /// Number of records.
    pub count: i64,
    /// Sum of segments.
    pub total_segments: i64,
    /// Mean segments a record; null when there is none.
    pub avg_segments: Option<f64>,
    /// Sum of prices, US cents (exact: summed in thousandths of a cent).
    pub total_price_cents: f64,
}

/// Call records grouped three ways.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CallStats {
    /// Calls in the range.
    pub total: i64,
    /// Per UTC day (start time) and status, oldest day first.
    pub by_day: Vec<CallGroup>,
    /// Per status.
    pub by_status: Vec<CallGroup>,
    /// Per call type.
    pub by_type: Vec<CallGroup>,
}

/// One group of call records.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CallGroup {
    /// UTC day, `YYYY-MM-DD` (in `by_day`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    /// Status (in `by_day` and `by_status`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Call type (in `by_type`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_type: Option<String>,
    /// Number of calls.
    pub count: i64,
    /// Sum of durations in seconds (completed calls only have one).
    pub total_duration: i64,
    /// Mean duration in seconds over calls that have one; null when none does.
    pub avg_duration: Option<f64>,
    /// Sum of costs, USD.
    pub total_cost: f64,
}

/// Metric points grouped by day and category.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricStats {
    /// Points in the range.
    pub total: i64,
    /// Per UTC day and category, oldest day first.
    pub by_day: Vec<MetricGroup>,
    /// Per category over the whole range.
    pub by_category: Vec<MetricGroup>,
}

/// One group of metric points.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricGroup {
    /// UTC day, `YYYY-MM-DD` (in `by_day`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    /// Category.
    pub category: String,
    /// Number of points.
    pub count: i64,
    /// Smallest value.
    pub min: Option<f64>,
    /// Mean value.
    pub avg: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

/// Rounds to cents (or hundredths), as every figure of the API is shown.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn date(t: i64) -> String {
    DateTime::from_timestamp_millis(t)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Cells summed per group key.
fn group<K: Ord>(cells: &Cells, key: impl Fn(i64, &str, &str) -> K) -> BTreeMap<K, Cell> {
    let mut out: BTreeMap<K, Cell> = BTreeMap::new();
    for (k, c) in cells {
        out.entry(key(k.t, &k.a, &k.b)).or_default().merge(c);
    }
    out
}

/// A call group's figures from its summed cell.
pub fn call_figures(c: &Cell) -> (i64, i64, Option<f64>, f64) {
    let avg = (c.nx > 0).then(|| round2(c.sx as f64 / c.nx as f64));
    (c.n, c.sx, avg, c.cents as f64 / 100.0)
}

/// A metric group's figures from its summed cell (sums are kept in hundredths).
pub fn metric_figures(c: &Cell) -> (i64, Option<f64>, Option<f64>, Option<f64>) {
    let avg = (c.nx > 0).then(|| round2(c.sx as f64 / 100.0 / c.nx as f64));
    (c.n, c.min, avg, c.max)
}

/// The calls part of the overview, from marginal call cells.
pub fn calls(cells: &Cells) -> CallStats {
    let row = |date: Option<String>, status: Option<&str>, call_type: Option<&str>, c: &Cell| {
        let (count, total_duration, avg_duration, total_cost) = call_figures(c);
        CallGroup {
            date,
            status: status.map(str::to_owned),
            call_type: call_type.map(str::to_owned),
            count,
            total_duration,
            avg_duration,
            total_cost,
        }
    };
    // Call cells are marginal (see `store::rollup::marginals`): per status (`b` empty), per type.
    let (by_status_cells, by_type_cells): (Cells, Cells) = cells
        .iter()
        .map(|(k, c)| (k.clone(), c.clone()))
        .partition(|(k, _)| k.b.is_empty());
    let by_day = group(&by_status_cells, |t, a, _| (date(t), a.to_owned()))
        .iter()
        .map(|((d, s), c)| row(Some(d.clone()), Some(s), None, c))
        .collect();
    let by_status: Vec<CallGroup> = group(&by_status_cells, |_, a, _| a.to_owned())
        .iter()
        .map(|(s, c)| row(None, Some(s), None, c))
        .collect();
    let by_type = group(&by_type_cells, |_, _, b| b.to_owned())
        .iter()
        .map(|(t, c)| row(None, None, Some(t), c))
        .collect();
    CallStats {
        total: by_status.iter().map(|s| s.count).sum(),
        by_day,
        by_status,
        by_type,
    }
}

/// The metrics part of the overview.
pub fn metrics(cells: &Cells) -> MetricStats {
    let row = |date: Option<String>, category: &str, c: &Cell| {
        let (count, min, avg, max) = metric_figures(c);
        MetricGroup {
            date,
            category: category.to_owned(),
            count,
            min,
            avg,
            max,
        }
    };
    let by_day = group(cells, |t, a, _| (date(t), a.to_owned()))
        .iter()
        .map(|((d, cat), c)| row(Some(d.clone()), cat, c))
        .collect();
    let by_category: Vec<MetricGroup> = group(cells, |_, a, _| a.to_owned())
        .iter()
        .map(|(cat, c)| row(None, cat, c))
        .collect();
    MetricStats {
        total: by_category.iter().map(|c| c.count).sum(),
        by_day,
        by_category,
    }
}

/// The texts part of the overview, from marginal cells (per status, per kind).
pub fn sms(cells: &Cells) -> SmsStats {
    let row = |date: Option<String>, status: Option<&str>, kind: Option<&str>, c: &Cell| SmsGroup {
        date,
        status: status.map(str::to_owned),
        kind: kind.map(str::to_owned),
        count: c.n,
        total_segments: c.sx,
        avg_segments: (c.n > 0).then(|| round2(c.sx as f64 / c.n as f64)),
        total_price_cents: c.cents as f64 / 1000.0,
    };
    let (by_status_cells, by_kind_cells): (Cells, Cells) = cells
        .iter()
        .map(|(k, c)| (k.clone(), c.clone()))
        .partition(|(k, _)| k.b.is_empty());
    let by_day = group(&by_status_cells, |t, a, _| (date(t), a.to_owned()))
        .iter()
        .map(|((d, s), c)| row(Some(d.clone()), Some(s), None, c))
        .collect();
    let by_status: Vec<SmsGroup> = group(&by_status_cells, |_, a, _| a.to_owned())
        .iter()
        .map(|(s, c)| row(None, Some(s), None, c))
        .collect();
    let by_kind = group(&by_kind_cells, |_, _, b| b.to_owned())
        .iter()
        .map(|(k, c)| row(None, None, Some(k), c))
        .collect();
    SmsStats {
        total: by_status.iter().map(|s| s.count).sum(),
        by_day,
        by_status,
        by_kind,
    }
}
