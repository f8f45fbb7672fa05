//! `GET /stats/calls/series` and `GET /stats/metrics/series`: flat rows per time bucket, the shape
//! Grafana's Infinity and JSON API datasources read (a time column in epoch ms, one column per
//! value, one per series key).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::overview::{call_figures, metric_figures};
use super::query::bucket;
use crate::store::rollup::{Cell, Cells};

/// How call rows are split into series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallSplit {
    /// One series per status.
    Status,
    /// One series per call type.
    CallType,
    /// One series of all calls.
    None,
}

/// How metric rows are split into series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricSplit {
    /// One series per category.
    Category,
    /// One series per category and host.
    Host,
}

/// One bucket of calls.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CallRow {
    /// Bucket start, epoch milliseconds.
    pub time: i64,
    /// Status, when split by status.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Call type, when split by type.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_type: Option<String>,
    /// Calls started in the bucket.
    pub count: i64,
    /// Their total duration, seconds.
    pub total_duration: i64,
    /// Mean duration of those with one; null when none has.
    pub avg_duration: Option<f64>,
    /// Their total cost, USD.
    pub total_cost: f64,
}

/// One bucket of one metric series.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricRow {
    /// Bucket start, epoch milliseconds.
    pub time: i64,
    /// Category.
    pub category: String,
    /// Host, when split by host.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// Points in the bucket.
    pub count: i64,
    /// Smallest value.
    pub min: Option<f64>,
    /// Mean value.
    pub avg: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

/// Call rows of buckets `width` wide, sorted by time then key, from marginal call cells.
pub fn calls(cells: &Cells, width: i64, split: CallSplit) -> Vec<CallRow> {
    let mut groups: BTreeMap<(i64, String), Cell> = BTreeMap::new();
    // Call cells are marginal (see `store::rollup::marginals`): per status (`b` empty) and per type
    // (`a` empty); the status cells alone make up the whole.
    for (k, c) in cells {
        let key = match split {
            CallSplit::Status | CallSplit::None if !k.b.is_empty() => continue,
            CallSplit::CallType if !k.a.is_empty() => continue,
            CallSplit::Status => k.a.clone(),
            CallSplit::CallType => k.b.clone(),
            CallSplit::None => String::new(),
        };
        groups
            .entry((bucket(k.t, width), key))
            .or_default()
            .merge(c);
    }
    groups
        .into_iter()
        .map(|((time, key), c)| {
            let (count, total_duration, avg_duration, total_cost) = call_figures(&c);
            CallRow {
                time,
                status: (split == CallSplit::Status).then(|| key.clone()),
                call_type: (split == CallSplit::CallType).then_some(key),
                count,
                total_duration,
                avg_duration,
                total_cost,
            }
        })
        .collect()
}

/// Metric rows of buckets `width` wide, sorted by time then category (then host).
pub fn metrics(cells: &Cells, width: i64, split: MetricSplit) -> Vec<MetricRow> {
    let mut groups: BTreeMap<(i64, String, String), Cell> = BTreeMap::new();
    for (k, c) in cells {
        let host = match split {
            MetricSplit::Host => k.b.clone(),
            MetricSplit::Category => String::new(),
        };
        groups
            .entry((bucket(k.t, width), k.a.clone(), host))
            .or_default()
            .merge(c);
    }
    groups
        .into_iter()
        .map(|((time, category, host), c)| {
            let (count, min, avg, max) = metric_figures(&c);
            MetricRow {
                time,
                category,
                host: (split == MetricSplit::Host).then_some(host),
                count,
                min,
                avg,
                max,
            }
        })
        .collect()
}
