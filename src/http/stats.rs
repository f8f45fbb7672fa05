//! `GET /stats` and the series endpoints: parse what a dashboard sends, read through the
//! [`StatsReader`](crate::stats::StatsReader), answer with a strong `ETag` and `Cache-Control`, and
//! `304` when the client already has the answer. `GET /stats/stream` pushes the overview as
//! Server-Sent Events.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::state::{AppState, HEARTBEAT};
use crate::error::ApiError;
use crate::generate::Kind;
use crate::stats::Source;
use crate::stats::plan::Plan;
use crate::stats::query::{self, present};
use crate::stats::series::{CallSplit, MetricSplit};
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

/// Query of `GET /stats/cells`.
#[derive(Debug, Deserialize)]
pub struct CellStatsQuery {
    from: Option<String>,
    to: Option<String>,
    top: Option<String>,
    source: Option<String>,
}

/// `GET /stats/cells?from=&to=&top=`: the busiest radio cells over whole UTC days, with a daily
/// series each.
pub async fn cells(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<CellStatsQuery>,
) -> Result<Response, ApiError> {
    let (from, to) = query::range(present(&q.from), present(&q.to))?;
    let days = crate::stats::cells::day_range(from, to, chrono::Utc::now().timestamp_millis())?;
    let top = crate::stats::cells::top(present(&q.top))?;
    let source = source(&q.source)?;
    let body = state.stats.cell_stats(days, top, source).await?;
    Ok(cached(&headers, state.settings.stats_max_age_secs, body))
}

/// The plan of a series request for `kind`, from what the dashboard sent.
fn plan(q: &SeriesQuery, kind: Kind) -> Result<Plan, ApiError> {
    Plan::parse(
        kind,
        present(&q.from),
        present(&q.to),
        present(&q.interval),
        present(&q.max_points),
    )
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
    let body = state.stats.calls_series(plan, split, source).await?;
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
    let body = state
        .stats
        .metrics_series(plan, split, keys, source)
        .await?;
    Ok(cached(&headers, state.settings.stats_max_age_secs, body))
}

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
    ApiJson(body): ApiJson<RebuildRequest>,
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
