//! `POST /live` (start a live run), `GET /live`, `GET /live/{id}`, `POST /live/{id}/stop` (stop
//! it), `DELETE /live/{id}` (stop it and remove its record), and `GET /calls/stream` (new calls as
//! Server-Sent Events).

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::{Stream, StreamExt};
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery};
use super::jobs::ListQuery;
use super::state::{AppState, HEARTBEAT, bounded};
use crate::error::ApiError;
use crate::generate::live::LiveParams;
use crate::generate::scenario::ScenarioRequest;
use crate::live::feed::CallEvent;
use crate::live::{LiveView, view};
use crate::store::live::LiveRecord;

/// Body of `POST /live`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveRequest {
    calls_per_second: Option<f64>,
    shaped: Option<bool>,
    step_seconds: Option<i64>,
    hosts: Option<i64>,
    categories: Option<Vec<String>>,
    subscribers: Option<i64>,
    seed: Option<u64>,
    scenario: Option<ScenarioRequest>,
    model: Option<serde_json::Value>,
}

/// `POST /live`: starts a live run on this replica; `201` with its record and `Location`.
pub async fn start(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LiveRequest>,
) -> Result<Response, ApiError> {
    let max = f64::from(state.settings.live_max_calls_per_second);
    if req.calls_per_second.is_some_and(|r| r > max) {
        return Err(ApiError::invalid(
            "calls_per_second",
            format!(
                "must be between 0 and {max} (LIVE_MAX_CALLS_PER_SECOND), got {}",
                req.calls_per_second.unwrap_or_default()
            ),
        ));
    }
    let params = LiveParams::new(
        req.calls_per_second,
        req.shaped,
        req.step_seconds,
        req.hosts,
        req.categories.as_deref(),
        req.subscribers,
    )?
    .with_model(req.model.as_ref())?;
    state.ensure_setup().await?;
    let record = state
        .live
        .start(params, req.seed, req.scenario.as_ref())
        .await?;
    let location = format!("/live/{}", record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&record, Utc::now())),
    )
        .into_response())
}

/// `GET /live?limit=N`: the most recent live runs of every replica, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<LiveView>>, ApiError> {
    let limit = q.limit()?;
    let now = Utc::now();
    let runs = bounded(state.live.list(limit)).await?;
    Ok(Json(runs.iter().map(|r| view(r, now)).collect()))
}

/// `GET /live/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LiveView>, ApiError> {
    let record = bounded(state.live.get(&id)).await?;
    Ok(Json(view(&record, Utc::now())))
}

/// `POST /live/{id}/stop`: stops the run (whichever replica writes it); `200` with the final
/// record once stopped, `202` if it is still finishing its last second.
pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (record, stopped) = state.live.stop(&id).await?;
    answer(&record, stopped)
}

/// `DELETE /live/{id}`: stops the run and removes its record (its documents stay); `200` with the
/// final record, or `202` (record kept) if it is still finishing its last second.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (record, stopped) = state.live.remove(&id).await?;
    answer(&record, stopped)
}

fn answer(record: &LiveRecord, stopped: bool) -> Result<Response, ApiError> {
    let status = if stopped {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(view(record, Utc::now()))).into_response())
}

/// `GET /calls/stream`: every new call as an SSE `call` event (JSON of the record), from a change
/// stream where the server has one (`Last-Event-ID` resumes after that event), otherwise the
/// calls this replica's live runs write.
pub async fn calls_stream(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let backfill = match q.include.as_deref() {
        None => false,
        Some("backfill") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "include",
                format!("must be backfill, got {other:?}"),
            ));
        }
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let closing = state.calls_feed.closing();
    let events = state
        .calls_feed
        .subscribe(last, backfill)
        .await
        .map(|e| {
            Ok(match &*e {
                CallEvent::Call { id, data } => Event::default().event("call").id(id).data(data),
                CallEvent::Lagged(n) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"skipped\":{n}}}")),
                CallEvent::Reset(why) => Event::default()
                    .event("reset")
                    .data(serde_json::json!({ "message": why }).to_string()),
            })
        })
        .take_until(closing.cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// Query of `GET /calls/stream`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// `backfill`: every insert, capped per client; by default calls as they happen.
    include: Option<String>,
}
