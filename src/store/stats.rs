//! The statistics pipelines over the raw collections and the shapes they answer with.

use std::time::Duration;

use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{DbError, Store};
use crate::generate::Kind;

/// Longest a statistics pipeline may run on the server.
pub const STATS_MAX_TIME: Duration = Duration::from_secs(60);

impl Store {
    /// Aggregated statistics of both collections over `[from, to)`.
    pub async fn stats(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Stats, DbError> {
        let (calls, metrics) = tokio::try_join!(
            self.call_stats(range_filter("start_time", from, to)),
            self.metric_stats(range_filter("timestamp", from, to)),
        )?;
        Ok(Stats {
            from,
            to,
            calls,
            metrics,
        })
    }

    async fn call_stats(&self, filter: Document) -> Result<CallStats, DbError> {
        let sums = doc! {
            "count": { "$sum": 1 },
            "total_duration": { "$sum": "$duration" },
            "avg_duration": { "$avg": "$duration" },
            "total_cost": { "$sum": "$cost" },
        };
        let group = |key: Bson| {
            let mut g = doc! { "_id": key };
            g.extend(sums.clone());
            g
        };
        let pipeline = [
            doc! { "$match": filter },
            doc! { "$facet": {
                "by_day": [
                    { "$group": group(doc! { "date": day("$start_time"), "status": "$status" }.into()) },
                    { "$sort": { "_id.date": 1, "_id.status": 1 } },
                ],
                "by_status": [
                    { "$group": group("$status".into()) },
                    { "$sort": { "_id": 1 } },
                ],
                "by_type": [
                    { "$group": group("$call_type".into()) },
                    { "$sort": { "_id": 1 } },
                ],
            } },
        ];
        let facet: CallFacet = self.one(Kind::Calls, pipeline).await?;
        let row = |key: &Document, g: Group| CallGroup {
            date: key.get_str("date").ok().map(str::to_owned),
            status: key.get_str("status").ok().map(str::to_owned),
            call_type: key.get_str("call_type").ok().map(str::to_owned),
            count: g.count,
            total_duration: g.total_duration.unwrap_or(0),
            avg_duration: g.avg_duration.map(round2),
            total_cost: round2(g.total_cost.unwrap_or(0.0)),
        };
        let by_day = facet
            .by_day
            .into_iter()
            .map(|k| {
                let key = k.id.as_document().cloned().unwrap_or_default();
                row(&key, k.group)
            })
            .collect();
        let keyed = |rows: Vec<Keyed>, field: &str| -> Vec<CallGroup> {
            rows.into_iter()
                .map(|k| {
                    let name = k.id.as_str().unwrap_or_default().to_owned();
                    row(&doc! { field: name }, k.group)
                })
                .collect()
        };
        let by_status = keyed(facet.by_status, "status");
        let by_type = keyed(facet.by_type, "call_type");
        Ok(CallStats {
            total: by_status.iter().map(|s| s.count).sum(),
            by_day,
            by_status,
            by_type,
        })
    }

    async fn metric_stats(&self, filter: Document) -> Result<MetricStats, DbError> {
        let aggs = doc! {
            "count": { "$sum": 1 },
            "min": { "$min": "$value" },
            "avg": { "$avg": "$value" },
            "max": { "$max": "$value" },
        };
        let mut by_day = doc! { "_id": { "date": day("$timestamp"), "category": "$category" } };
        by_day.extend(aggs.clone());
        let mut by_category = doc! { "_id": "$category" };
        by_category.extend(aggs);
        let pipeline = [
            doc! { "$match": filter },
            doc! { "$facet": {
                "by_day": [ { "$group": by_day }, { "$sort": { "_id.date": 1, "_id.category": 1 } } ],
                "by_category": [ { "$group": by_category }, { "$sort": { "_id": 1 } } ],
            } },
        ];
        let facet: MetricFacet = self.one(Kind::Metrics, pipeline).await?;
        let row = |date: Option<String>, category: String, a: MetricAgg| MetricGroup {
            date,
            category,
            count: a.count,
            min: a.min,
            avg: a.avg.map(round2),
            max: a.max,
        };
        let by_day = facet
            .by_day
            .into_iter()
            .map(|r| {
                let key = r.id.as_document().cloned().unwrap_or_default();
                let date = key.get_str("date").ok().map(str::to_owned);
                let category = key.get_str("category").unwrap_or_default().to_owned();
                row(date, category, r.agg)
            })
            .collect();
        let by_category: Vec<MetricGroup> = facet
            .by_category
            .into_iter()
            .map(|r| row(None, r.id.as_str().unwrap_or_default().to_owned(), r.agg))
            .collect();
        Ok(MetricStats {
            total: by_category.iter().map(|c| c.count).sum(),
            by_day,
            by_category,
        })
    }

    /// Runs a pipeline that yields exactly one document (a `$facet`) and decodes it.
    async fn one<T: serde::de::DeserializeOwned + Send + Sync>(
        &self,
        kind: Kind,
        pipeline: impl IntoIterator<Item = Document>,
    ) -> Result<T, DbError> {
        let mut cursor = self
            .raw(kind)
            .aggregate(pipeline)
            .max_time(STATS_MAX_TIME)
            .with_type::<T>()
            .await?;
        cursor.try_next().await?.ok_or_else(|| {
            mongodb::error::Error::custom("$facet returned no document".to_string()).into()
        })
    }
}

fn day(field: &str) -> Document {
    doc! { "$dateToString": { "format": "%Y-%m-%d", "date": field } }
}

fn range_filter(field: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Document {
    let mut range = Document::new();
    if let Some(f) = from {
        range.insert("$gte", bson::DateTime::from_chrono(f));
    }
    if let Some(t) = to {
        range.insert("$lt", bson::DateTime::from_chrono(t));
    }
    if range.is_empty() {
        Document::new()
    } else {
        doc! { field: range }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Deserialize)]
struct Group {
    count: i64,
    total_duration: Option<i64>,
    avg_duration: Option<f64>,
    total_cost: Option<f64>,
}

#[derive(Deserialize)]
struct Keyed {
    #[serde(rename = "_id")]
    id: Bson,
    #[serde(flatten)]
    group: Group,
}

#[derive(Deserialize)]
struct CallFacet {
    by_day: Vec<Keyed>,
    by_status: Vec<Keyed>,
    by_type: Vec<Keyed>,
}

#[derive(Deserialize)]
struct MetricAgg {
    count: i64,
    min: Option<f64>,
    avg: Option<f64>,
    max: Option<f64>,
}

#[derive(Deserialize)]
struct MetricRow {
    #[serde(rename = "_id")]
    id: Bson,
    #[serde(flatten)]
    agg: MetricAgg,
}

#[derive(Deserialize)]
struct MetricFacet {
    by_day: Vec<MetricRow>,
    by_category: Vec<MetricRow>,
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
