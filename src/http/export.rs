//! `GET /export/calls` and `GET /export/metrics`: a generation's documents streamed to the client
//! instead of written to MongoDB, as NDJSON or CSV by `Accept` (gzip-compressed by the compression
//! layer when the client accepts it). The same parameters, bounds and 422s as the generate
//! endpoints, `count` up to `MAX_COUNT`. One blocking task generates and encodes into a channel of
//! a few chunks, so memory stays flat at any count and a client that disconnects stops the
//! generation; at most `MAX_EXPORTS` run at once (503 + `Retry-After` beyond).

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use super::preview::spec_from_query;
use super::state::AppState;
use crate::error::ApiError;
use crate::export::{self, Format};
use crate::generate::Kind;
use crate::pipeline::{Run, RunSpec};

/// Chunks buffered between the generating task and a slow client.
const BUFFERED_CHUNKS: usize = 4;

/// `GET /export/calls`.
pub async fn calls(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let spec = spec_from_query(query, Kind::Calls, None, state.settings.max_count)?;
    stream(&state, &headers, spec)
}

/// `GET /export/sms`.
pub async fn sms(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let spec = spec_from_query(query, Kind::Sms, None, state.settings.max_count)?;
    stream(&state, &headers, spec)
}

/// `GET /export/metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let spec = spec_from_query(query, Kind::Metrics, None, state.settings.max_count)?;
    stream(&state, &headers, spec)
}

/// CSV when the client asks for `text/csv` (and not for NDJSON); NDJSON otherwise.
fn format(headers: &HeaderMap) -> Format {
    let accept = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    if accept.contains("text/csv") && !accept.contains("application/x-ndjson") {
        Format::Csv
    } else {
        Format::Ndjson
    }
}

fn stream(state: &AppState, headers: &HeaderMap, spec: RunSpec) -> Result<Response, ApiError> {
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded("exports"))?;
    let format = format(headers);
    let run = Run::new(spec);
    let (seed, end) = (run.spec().seed, run.spec().params.end());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(BUFFERED_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        // A send fails once the client is gone and the body with the receiver dropped.
        let sent = export::stream(
            run.spec(),
            run.id(),
            format,
            |_| (),
            |chunk| tx.blocking_send(Bytes::from(chunk)),
        );
        if let Err(e) = sent {
            tracing::debug!(error = %e, "export stopped: the client went away");
        }
    });
    let body = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(Ok::<_, std::convert::Infallible>))
    });
    let end = end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Response::builder()
        .header(CONTENT_TYPE, HeaderValue::from_static(format.media_type()))
        .header("x-seed", seed)
        .header("x-end", end)
        .body(Body::from_stream(body))
        .map_err(|e| ApiError::Internal(e.into()))
}
