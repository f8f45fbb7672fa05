//! A series request planned and read: its range (by default the last 24 hours), its bucket width,
//! which cells answer it (day, hour or fine rollups, or only the raw documents), refusing what would
//! cost too much; then its rows, shared and kept like every statistics answer.

use std::sync::Arc;

use super::query::{self, Interval, MAX_BUCKETS, MAX_FINE_RANGE_MS, MAX_RAW_RANGE_MS};
use super::series::{self, CallSplit, MetricSplit};
use super::{Ask, Source, StatsReader};
use crate::error::ApiError;
use crate::generate::Kind;
use crate::store::DataVersion;
use crate::store::rollup::{Cells, DAY_MS, HOUR_MS, MINUTE_MS, Resolution, fine_ms};
use crate::store::stats::KeyFilter;

/// A series request resolved: range and bucket width.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Start of the range, inclusive (epoch ms).
    pub from: i64,
    /// End of the range, exclusive (epoch ms).
    pub to: i64,
    /// Bucket width (ms).
    pub width: i64,
}

impl Plan {
    /// Resolves the range (default: the last 24 hours) and the bucket width from what a dashboard
    /// sent (`from`, `to`, `interval`, `max_points`), refusing what would be too expensive to
    /// answer for `kind`.
    pub fn parse(
        kind: Kind,
        from: Option<&str>,
        to: Option<&str>,
        interval: Option<&str>,
        max_points: Option<&str>,
    ) -> Result<Self, ApiError> {
        let (from, to) = query::range(from, to)?;
        let to = to.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let from = from.unwrap_or(to - DAY_MS);
        if from >= to {
            return Err(ApiError::invalid("from", "must be earlier than to"));
        }
        let max_points = query::max_points(max_points)?;
        let interval = query::interval(interval)?;
        let span = to - from;
        let fine = fine_ms(kind);
        let width = match interval {
            Interval::Auto => query::auto_width(span, max_points, fine),
            Interval::Fixed(w) => w,
        };
        let limit = if width % fine != 0 {
            MAX_RAW_RANGE_MS
        } else if width % HOUR_MS != 0 {
            MAX_FINE_RANGE_MS
        } else {
            i64::MAX
        };
        if span > limit {
            return Err(ApiError::invalid(
                "interval",
                format!(
                    "buckets of {width} ms need {} cells; this range is {:.1} h, the limit for them \
                     {:.0} h: ask for a larger interval (multiples of {}m, or whole hours), or a shorter range",
                    if width % fine != 0 {
                        "raw documents'"
                    } else {
                        "fine rollup"
                    },
                    span as f64 / HOUR_MS as f64,
                    limit as f64 / HOUR_MS as f64,
                    fine / MINUTE_MS,
                ),
            ));
        }
        if query::ceil_div(span, width) > MAX_BUCKETS {
            return Err(ApiError::invalid(
                "interval",
                format!(
                    "the range would need more than {MAX_BUCKETS} buckets; ask for a larger interval"
                ),
            ));
        }
        Ok(Self { from, to, width })
    }
}

impl StatsReader {
    /// The JSON rows of `GET /stats/calls/series` for `plan`.
    pub async fn calls_series(
        &self,
        plan: Plan,
        split: CallSplit,
        source: Source,
    ) -> Result<Arc<Vec<u8>>, ApiError> {
        let reader = self.clone();
        let key = format!(
            "calls|{}|{}|{}|{split:?}|{source:?}",
            plan.from, plan.to, plan.width
        );
        self.shared(key, source == Source::Rollups, move |version| async move {
            let keys = KeyFilter::default();
            let cells = reader
                .series_cells(Kind::Calls, &plan, keys, source, version)
                .await?;
            serde_json::to_vec(&series::calls(&cells, plan.width, split))
                .map_err(|e| ApiError::Internal(e.into()))
        })
        .await
    }

    /// The JSON rows of `GET /stats/metrics/series` for `plan`, for the categories and hosts
    /// `keys` names (all when `None`).
    pub async fn metrics_series(
        &self,
        plan: Plan,
        split: MetricSplit,
        keys: KeyFilter,
        source: Source,
    ) -> Result<Arc<Vec<u8>>, ApiError> {
        let reader = self.clone();
        let key = format!(
            "metrics|{}|{}|{}|{split:?}|{keys:?}|{source:?}",
            plan.from, plan.to, plan.width
        );
        self.shared(key, source == Source::Rollups, move |version| async move {
            let cells = reader
                .series_cells(Kind::Metrics, &plan, keys, source, version)
                .await?;
            serde_json::to_vec(&series::metrics(&cells, plan.width, split))
                .map_err(|e| ApiError::Internal(e.into()))
        })
        .await
    }

    /// The cells of `plan`'s buckets: from the coarsest rollups whose cells make up a bucket, or
    /// from the raw documents when not even the fine cells do.
    async fn series_cells(
        &self,
        kind: Kind,
        plan: &Plan,
        keys: KeyFilter,
        source: Source,
        version: Option<DataVersion>,
    ) -> Result<Cells, ApiError> {
        if plan.width % fine_ms(kind) != 0 {
            // Buckets the rollups' fine cells cannot make up: only the raw documents have them.
            return self.raw(kind, plan.from, plan.to, plan.width, &keys).await;
        }
        let finest = if plan.width % DAY_MS == 0 {
            Resolution::Day
        } else if plan.width % HOUR_MS == 0 {
            Resolution::Hour
        } else {
            Resolution::Fine
        };
        let ask = Ask {
            kind,
            from: Some(plan.from),
            to: Some(plan.to),
            keys,
            finest,
            grouping: query::grouping(plan.width),
        };
        self.cells(&ask, source, version).await
    }
}
