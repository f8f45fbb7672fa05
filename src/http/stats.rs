//! `GET /stats` and the series endpoints: parse what a dashboard sends, read through the
//! [`StatsReader`](crate::stats::StatsReader), answer with a strong `ETag` and `Cache-Control`, and
//! `304` when the client already has the answer. `GET /stats/stream` pushes the overview as
//! Server-Sent Events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;

use super::{ApiQuery, AppState};
use crate::error::ApiError;
use crate::generate::Kind;
use crate::stats::query::{
    self, Interval, MAX_BUCKETS, MAX_FINE_RANGE_MS, MAX_RAW_RANGE_MS, present,
};
use crate::stats::series::{self, CallSplit, MetricSplit};
use crate::stats::{Ask, Source, StatsReader};
use crate::store::DataVersion;
use crate::store::rollup::{Cells, DAY_MS, HOUR_MS, MINUTE_MS, Resolution, fine_ms};
use crate::store::stats::KeyFilter;

/// Query of `GET /stats`. Unknown parameters (cache busters like `_`) are ignored.
#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    source: Option<String>,
}

/// Query of the series endpoints.
#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    max_points: Option<String>,
    by: Option<String>,
    category: Option<String>,
    host: Option<String>,
    source: Option<String>,
}

/// The value of `by`, one of `choices` (the first is the default), as its position.
fn by(v: &Option<String>, choices: &[&str]) -> Result<usize, ApiError> {
    match present(v) {
        None => Ok(0),
        Some(x) => choices.iter().position(|c| *c == x).ok_or_else(|| {
            ApiError::invalid(
                "by",
                format!("expected one of {}, got {x:?}", choices.join(", ")),
            )
        }),
    }
}

fn source(v: &Option<String>) -> Result<Source, ApiError> {
    match present(v) {
        None | Some("rollups") => Ok(Source::Rollups),
        Some("raw") => Ok(Source::Raw),
        Some(other) => Err(ApiError::invalid(
            "source",
            format!("expected rollups or raw, got {other:?}"),
        )),
    }
}

/// `GET /stats?from=&to=`: calls per day and status, per status and per type; metrics per day and
/// category and per category. `from` is inclusive, `to` exclusive.
pub async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, ApiError> {
    let (from, to) = query::range(present(&q.from), present(&q.to))?;
    let source = source(&q.source)?;
    let body = state.stats.overview(from, to, source).await?;
    Ok(cached(&headers, state.settings.stats_max_age_secs, body))
}

/// A series request resolved: range, bucket width, and whether buckets come from raw documents.
struct Plan {
    from: i64,
    to: i64,
    width: i64,
}

/// Resolves the range (default: the last 24 hours) and the bucket width, refusing what would be
/// too expensive to answer for `kind`.
fn plan(q: &SeriesQuery, kind: Kind) -> Result<Plan, ApiError> {
    let (from, to) = query::range(present(&q.from), present(&q.to))?;
    let to = to.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let from = from.unwrap_or(to - DAY_MS);
    if from >= to {
        return Err(ApiError::invalid("from", "must be earlier than to"));
    }
    let max_points = match present(&q.max_points) {
        None => 500,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_BUCKETS).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "max_points",
                    format!("must be an integer between 1 and {MAX_BUCKETS}, got {v:?}"),
                )
            })?,
    };
    let span = to - from;
    let width = match query::interval(present(&q.interval))? {
        Interval::Auto => query::auto_width(span, max_points, fine_ms(kind)),
        Interval::Fixed(w) => w,
    };
    let fine = fine_ms(kind);
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
    Ok(Plan { from, to, width })
}

/// Comma-separated hosts of the `host` filter (any text: spaces around a name and empty items
/// are dropped).
fn list(v: &Option<String>) -> Option<Vec<String>> {
    present(v).map(|s| {
        s.split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

async fn cells(
    reader: &StatsReader,
    kind: Kind,
    plan: &Plan,
    keys: KeyFilter,
    source: Source,
    version: Option<DataVersion>,
) -> Result<Cells, ApiError> {
    if plan.width % fine_ms(kind) != 0 {
        // Buckets the rollups' fine cells cannot make up: only the raw documents have them.
        return reader
            .raw(kind, plan.from, plan.to, plan.width, &keys)
            .await;
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
    reader.cells(&ask, source, version).await
}

/// `GET /stats/calls/series`: calls per bucket, split by status, call type or not at all.
pub async fn calls_series(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Response, ApiError> {
    let plan = plan(&q, Kind::Calls)?;
    let split = [CallSplit::Status, CallSplit::CallType, CallSplit::None]
        [by(&q.by, &["status", "call_type", "none"])?];
    let source = source(&q.source)?;
    let reader = state.stats.clone();
    let key = format!(
        "calls|{}|{}|{}|{split:?}|{source:?}",
        plan.from, plan.to, plan.width
    );
    let body = state
        .stats
        .shared(key, source == Source::Rollups, move |version| async move {
            let keys = KeyFilter::default();
            let cells = cells(&reader, Kind::Calls, &plan, keys, source, version).await?;
            serde_json::to_vec(&series::calls(&cells, plan.width, split))
                .map_err(|e| ApiError::Internal(e.into()))
        })
        .await?;
    Ok(cached(&headers, state.settings.stats_max_age_secs, body))
}

/// `GET /stats/metrics/series`: min/avg/max per bucket and category (and host, with `by=host`),
/// optionally for some categories or hosts only.
pub async fn metrics_series(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Response, ApiError> {
    let plan = plan(&q, Kind::Metrics)?;
    let split = [MetricSplit::Category, MetricSplit::Host][by(&q.by, &["category", "host"])?];
    let keys = KeyFilter {
        // Exactly the spec's pattern: names joined by commas, no spaces, no empty items.
        a: present(&q.category).map(|s| s.split(',').map(str::to_owned).collect()),
        b: list(&q.host),
    };
    if let Some(cats) = &keys.a {
        crate::generate::Category::parse_list(cats)
            .map_err(|(_, message)| ApiError::invalid("category", message))?;
    }
    let source = source(&q.source)?;
    let reader = state.stats.clone();
    let key = format!(
        "metrics|{}|{}|{}|{split:?}|{keys:?}|{source:?}",
        plan.from, plan.to, plan.width
    );
    let body = state
        .stats
        .shared(key, source == Source::Rollups, move |version| async move {
            let cells = cells(&reader, Kind::Metrics, &plan, keys, source, version).await?;
            serde_json::to_vec(&series::metrics(&cells, plan.width, split))
                .map_err(|e| ApiError::Internal(e.into()))
        })
        .await?;
    Ok(cached(&headers, state.settings.stats_max_age_secs, body))
}

/// Heartbeat comment interval of `GET /stats/stream`, so proxies keep the connection open.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(15);

/// `GET /stats/stream`: the overview (as `GET /stats` without a range) as Server-Sent Events of type
/// `overview`, at once and then whenever it changed, at most once a second; the event id is the
/// overview's ETag. All streams of a replica share one upstream read.
pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.feed.subscribe();
    let closing = state.feed.closing();
    let events = futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let body = rx.borrow_and_update().clone();
        Some((body, (rx, false)))
    })
    .filter_map(|body| async move {
        let body = body?;
        let event = Event::default()
            .event("overview")
            .id(format!("{:016x}-{:x}", fnv1a(&body), body.len()))
            .data(String::from_utf8_lossy(&body));
        Some(Ok(event))
    })
    .take_until(closing.cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT))
}

/// FNV-1a: a hash that is the same on every replica and release, for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A JSON answer with a strong `ETag` of its bytes (so it changes exactly when the answer does),
/// `Cache-Control: max-age`, and `304` when `If-None-Match` already names it.
fn cached(headers: &HeaderMap, max_age: u32, body: Arc<Vec<u8>>) -> Response {
    let etag = format!("\"{:016x}-{:x}\"", fnv1a(&body), body.len());
    let cache = format!("max-age={max_age}");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            Arc::unwrap_or_clone(body),
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    response
}

/// Body of `POST /stats/rebuild`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildRequest {
    kind: Kind,
}

/// `POST /stats/rebuild`: recomputes one kind's rollups from the raw documents as a background
/// job (`202` + `Location`), for data loaded or deleted by other tools.
pub async fn rebuild(
    State(state): State<AppState>,
    super::ApiJson(body): super::ApiJson<RebuildRequest>,
) -> Result<Response, ApiError> {
    state.ensure_setup().await?;
    let job = state.jobs.start_rebuild(body.kind).await?;
    let location = format!("/jobs/{}", job.id);
    let view = crate::jobs::view(&job, chrono::Utc::now());
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        axum::Json(view),
    )
        .into_response())
}
