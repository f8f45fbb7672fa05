//! `POST /generate/calls` and `POST /generate/metrics`: parse, check every bound before touching the
//! database, then run the pipeline (small counts) or start a background job (large ones).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::extract::ApiJson;
use crate::error::ApiError;
use crate::generate::{CallParams, Category, PointParams, rng};
use crate::pipeline::{self, Dataset, Progress, RunSpec};

/// Body of `POST /generate/calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsRequest {
    count: i64,
    seed: Option<u64>,
    days: Option<i64>,
    end: Option<DateTime<Utc>>,
    #[serde(rename = "async")]
    run_async: Option<bool>,
}

/// Body of `POST /generate/metrics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsRequest {
    count: i64,
    step_seconds: Option<i64>,
    categories: Option<Vec<String>>,
    hosts: Option<i64>,
    seed: Option<u64>,
    end: Option<DateTime<Utc>>,
    #[serde(rename = "async")]
    run_async: Option<bool>,
}

/// Answer of a synchronous generation.
#[derive(Debug, Serialize, Deserialize)]
pub struct GenerateResponse {
    /// Documents now in the collection from this request.
    pub inserted: u64,
    /// The seed used; send it back to get the same documents.
    pub seed: u64,
    /// The end of the time window used; send it back too for identical timestamps.
    pub end: DateTime<Utc>,
    /// Collection written to.
    pub collection: String,
    /// Wall time of the request, milliseconds.
    pub elapsed_ms: u64,
    /// Insert rate over the request.
    pub docs_per_second: f64,
}

fn in_range(field: &str, value: i64, lo: i64, hi: i64) -> Result<i64, ApiError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between {lo} and {hi}, got {value}"),
        ))
    }
}

/// Checks the window end: present-day defaults, and nothing that would put timestamps before 1970.
fn window_end(
    field: &str,
    end: Option<DateTime<Utc>>,
    span_secs: i64,
) -> Result<DateTime<Utc>, ApiError> {
    let end = end.unwrap_or_else(pipeline::now_millis);
    if end.timestamp() - span_secs < 0 {
        return Err(ApiError::invalid(
            field,
            format!(
                "the window reaching {span_secs} s back from {end} would start before 1970-01-01"
            ),
        ));
    }
    Ok(end)
}

impl CallsRequest {
    /// Validates every field; the result can be run as is.
    pub fn into_spec(self, max_count: u64) -> Result<(RunSpec, bool), ApiError> {
        let count = in_range("count", self.count, 1, max_count as i64)? as u32;
        let days = in_range("days", self.days.unwrap_or(30), 1, 3650)? as u32;
        let end = window_end("end", self.end, i64::from(days) * 86_400)?;
        let spec = RunSpec {
            dataset: Dataset::Calls(CallParams { end, days }),
            count,
            seed: self.seed.unwrap_or_else(rng::random_seed),
        };
        Ok((spec, self.run_async.unwrap_or(false)))
    }
}

impl MetricsRequest {
    /// Validates every field; the result can be run as is.
    pub fn into_spec(self, max_count: u64) -> Result<(RunSpec, bool), ApiError> {
        let count = in_range("count", self.count, 1, max_count as i64)? as u32;
        let step = in_range(
            "step_seconds",
            self.step_seconds.unwrap_or(30),
            1,
            31_536_000,
        )? as u32;
        let hosts = in_range("hosts", self.hosts.unwrap_or(3), 1, 10_000)? as u32;
        let categories = match self.categories {
            None => Category::ALL.to_vec(),
            Some(names) => {
                if names.is_empty() {
                    return Err(ApiError::invalid(
                        "categories",
                        "must name at least one category",
                    ));
                }
                Category::parse_list(&names).map_err(|(i, message)| {
                    ApiError::invalid(format!("categories[{i}]"), message)
                })?
            }
        };
        let series = u64::from(hosts) * categories.len() as u64;
        let ticks = u64::from(count).div_ceil(series);
        let end = window_end(
            "step_seconds",
            self.end,
            ((ticks - 1) * u64::from(step)) as i64,
        )?;
        let spec = RunSpec {
            dataset: Dataset::Metrics(PointParams {
                end,
                step_seconds: step,
                categories,
                hosts,
            }),
            count,
            seed: self.seed.unwrap_or_else(rng::random_seed),
        };
        Ok((spec, self.run_async.unwrap_or(false)))
    }
}

/// `POST /generate/calls`.
pub async fn calls(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CallsRequest>,
) -> Result<Response, ApiError> {
    let (spec, run_async) = body.into_spec(state.settings.max_count)?;
    generate(state, spec, run_async).await
}

/// `POST /generate/metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MetricsRequest>,
) -> Result<Response, ApiError> {
    let (spec, run_async) = body.into_spec(state.settings.max_count)?;
    generate(state, spec, run_async).await
}

async fn generate(state: AppState, spec: RunSpec, run_async: bool) -> Result<Response, ApiError> {
    if run_async || u64::from(spec.count) > state.settings.async_threshold {
        let job = state.jobs.start(spec).await?;
        let location = format!("/jobs/{}", job.id);
        return Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            axum::Json(job.view(Utc::now())),
        )
            .into_response());
    }
    let _permit = state
        .limiter
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded)?;
    state.ensure_setup().await?;

    let started = Instant::now();
    let run = pipeline::new_run_id();
    let mut outcome = pipeline::run(
        &state.store,
        &spec,
        run,
        state.tuning,
        Arc::new(Progress::default()),
        &CancellationToken::new(),
    )
    .await;
    if let Some(e) = outcome.error.take() {
        let written = match outcome.written(&state.store, &spec, run).await {
            Ok(n) => format!("{n} of {} documents were written", spec.count),
            Err(_) => format!(
                "at least {} of {} documents were written",
                outcome.acknowledged, spec.count
            ),
        };
        return Err(match ApiError::from(e) {
            ApiError::DatabaseUnavailable { source, .. } => ApiError::DatabaseUnavailable {
                message: format!("the database became unavailable; {written}; retry later"),
                source,
            },
            other => other,
        });
    }
    let elapsed = started.elapsed();
    let end = match &spec.dataset {
        Dataset::Calls(p) => p.end,
        Dataset::Metrics(p) => p.end,
    };
    let body = GenerateResponse {
        inserted: outcome.acknowledged,
        seed: spec.seed,
        end,
        collection: spec.target().collection().to_string(),
        elapsed_ms: elapsed.as_millis() as u64,
        docs_per_second: (outcome.acknowledged as f64 / elapsed.as_secs_f64().max(1e-6)).round(),
    };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}
