//! `POST /generate/calls`, `/generate/metrics` and `/generate/sms`: parse into a [`RunSpec`] (every bound checked
//! before anything touches the database), then run it here (small counts) or as a background job.
//!
//! A synchronous run is not cut by `REQUEST_TIMEOUT_SECS` (its size is bounded by
//! `ASYNC_THRESHOLD` instead) and runs in a task of its own: its answer always says exactly what
//! it wrote, and only an answer after which nothing was written advises a retry.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::idempotency::{self, Answer, KeyedJson};
use super::state::AppState;
use crate::error::ApiError;
use crate::generate::scenario::ScenarioRequest;
use crate::generate::sms::{self, TrafficParams};
use crate::generate::{CallParams, ParamError, Params, PointParams, params};
use crate::jobs;
use crate::pipeline::{self, Progress, Run, RunError, RunSpec, Tuning};
use crate::store::RetryPolicy;

/// How long a synchronous request keeps asking a database that went away how many of its documents
/// arrived, before answering with the acknowledged count as a lower bound.
const RECONCILE_PATIENCE: Duration = Duration::from_secs(10);

/// Body of `POST /generate/calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsRequest {
    count: i64,
    seed: Option<u64>,
    days: Option<i64>,
    subscribers: Option<i64>,
    end: Option<DateTime<Utc>>,
    scenario: Option<ScenarioRequest>,
    model: Option<serde_json::Value>,
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
    scenario: Option<ScenarioRequest>,
    model: Option<serde_json::Value>,
    #[serde(rename = "async")]
    run_async: Option<bool>,
}

/// Body of `POST /generate/sms`: texts between the subscribers of the same seed's calls; `count`
/// (threads: a message and perhaps its reply) defaults to what the subscribers send over the days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsRequest {
    count: Option<i64>,
    seed: Option<u64>,
    days: Option<i64>,
    subscribers: Option<i64>,
    end: Option<DateTime<Utc>>,
    model: Option<serde_json::Value>,
    #[serde(rename = "async")]
    run_async: Option<bool>,
}

/// Answer of a synchronous generation.
#[derive(Debug, Serialize, Deserialize)]
pub struct GenerateResponse {
    /// Documents now in the collection from this request (`inserted` on the wire).
    #[serde(rename = "inserted")]
    pub written: u64,
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

impl CallsRequest {
    /// The run this request asks for, and whether it asked to run in the background.
    pub fn into_spec(self, max_count: u64) -> Result<(RunSpec, bool), ParamError> {
        let count = params::count(self.count, max_count)?;
        let p = CallParams::new(
            self.days,
            self.subscribers,
            self.end,
            pipeline::now_millis(),
        )?;
        let p = p
            .with_scenario(self.scenario.as_ref())?
            .with_model(self.model.as_ref())?;
        let spec = RunSpec::new(Params::Calls(p), count, self.seed);
        Ok((spec, self.run_async.unwrap_or(false)))
    }
}

impl MetricsRequest {
    /// The run this request asks for, and whether it asked to run in the background.
    pub fn into_spec(self, max_count: u64) -> Result<(RunSpec, bool), ParamError> {
        let count = params::count(self.count, max_count)?;
        let p = PointParams::new(
            count,
            self.step_seconds,
            self.categories.as_deref(),
            self.hosts,
            self.end,
            pipeline::now_millis(),
        )?;
        let p = p
            .with_scenario(count, self.scenario.as_ref())?
            .with_model(self.model.as_ref())?;
        let spec = RunSpec::new(Params::Metrics(p), count, self.seed);
        Ok((spec, self.run_async.unwrap_or(false)))
    }
}

impl SmsRequest {
    /// The run this request asks for, and whether it asked to run in the background.
    pub fn into_spec(self, max_count: u64) -> Result<(RunSpec, bool), ParamError> {
        let p = TrafficParams::new(
            self.days,
            self.subscribers,
            self.end,
            self.model.as_ref(),
            pipeline::now_millis(),
        )?;
        let max = max_count.min(u64::from(sms::MAX_THREADS));
        let count = match self.count {
            Some(n) => params::count(n, max)?,
            None => {
                let n = sms::daily_threads(&p);
                if u64::from(n) > max {
                    return Err(ParamError::new(
                        "count",
                        format!(
                            "omitted, it is {n} threads ({} subscribers × {} days × {} messages \
                             a day), more than the largest count, {max}: give a count, or fewer \
                             subscribers or days",
                            p.subscribers,
                            p.days,
                            sms::DAILY_MESSAGES
                        ),
                    ));
                }
                n
            }
        };
        let spec = RunSpec::new(Params::Sms(p), count, self.seed);
        Ok((spec, self.run_async.unwrap_or(false)))
    }
}

/// `POST /generate/calls`.
pub async fn calls(
    State(state): State<AppState>,
    KeyedJson { body, key }: KeyedJson<CallsRequest>,
) -> Result<Response, ApiError> {
    let (spec, run_async) = body.into_spec(state.settings.max_count)?;
    idempotency::once(&state, key, move |state| generate(state, spec, run_async)).await
}

/// `POST /generate/sms`.
pub async fn sms(
    State(state): State<AppState>,
    KeyedJson { body, key }: KeyedJson<SmsRequest>,
) -> Result<Response, ApiError> {
    let (spec, run_async) = body.into_spec(state.settings.max_count)?;
    idempotency::once(&state, key, move |state| generate(state, spec, run_async)).await
}

/// `POST /generate/metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    KeyedJson { body, key }: KeyedJson<MetricsRequest>,
) -> Result<Response, ApiError> {
    let (spec, run_async) = body.into_spec(state.settings.max_count)?;
    idempotency::once(&state, key, move |state| generate(state, spec, run_async)).await
}

async fn generate(state: AppState, spec: RunSpec, run_async: bool) -> Result<Answer, ApiError> {
    if run_async || u64::from(spec.count) > state.settings.async_threshold {
        let job = state.jobs.start(spec).await?;
        let view = jobs::view(&job, Utc::now());
        return Ok(Answer {
            status: StatusCode::ACCEPTED,
            location: Some(format!("/jobs/{}", job.id)),
            job: Some(job.id.clone()),
            body: serde_json::to_value(view).map_err(|e| ApiError::Internal(e.into()))?,
        });
    }
    let _permit = state
        .limiter
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded("generation requests"))?;
    state.ensure_setup().await?;

    let run = Run::new(spec);
    let report = run
        .execute(
            &state.store,
            // Bounded by the request timeout: an outage is answered, not waited out.
            Tuning {
                wait_out_outages: false,
                ..state.tuning
            },
            &Progress::default(),
            &CancellationToken::new(),
            &RetryPolicy::for_up_to(RECONCILE_PATIENCE),
        )
        .await;
    let spec = run.spec();
    if let Some(e) = report.error {
        return Err(failed(e, report.written, report.exact, spec.count));
    }
    let body = GenerateResponse {
        written: report.written,
        seed: spec.seed,
        end: spec.params.end(),
        collection: spec.kind().collection().to_string(),
        elapsed_ms: report.elapsed.as_millis() as u64,
        docs_per_second: report.docs_per_second().round(),
    };
    Ok(Answer {
        status: StatusCode::CREATED,
        location: None,
        job: None,
        body: serde_json::to_value(body).map_err(|e| ApiError::Internal(e.into()))?,
    })
}

/// The error of a failed synchronous run. When nothing was written it is the plain error (a
/// `503` advises a retry, which is safe); otherwise a `partially_written` saying how much was, and
/// never a retry.
fn failed(e: RunError, written: u64, exact: bool, requested: u32) -> ApiError {
    if exact && written == 0 {
        return match e {
            RunError::Database(e) if e.is_unavailable() => ApiError::DatabaseUnavailable {
                message: "the database became unavailable; no documents were written; retry later"
                    .into(),
                source: Some(e),
            },
            RunError::Database(e) => e.into(),
            RunError::Generation(m) => ApiError::Internal(anyhow::anyhow!("{m}")),
            RunError::Lost(n) => ApiError::Internal(anyhow::anyhow!("{n} documents lost")),
        };
    }
    let cause = match &e {
        RunError::Database(e) if e.is_unavailable() => "the database became unavailable",
        RunError::Database(_) => "the database refused a batch",
        RunError::Generation(_) => "an internal error",
        RunError::Lost(_) => "the database lost documents it had acknowledged",
    };
    ApiError::PartiallyWritten {
        written,
        exact,
        requested,
        cause,
        source: Some(e.into()),
    }
}
