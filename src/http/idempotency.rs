//! `Idempotency-Key` on `POST /generate/*`: the first request with a key does the work and its
//! answer is kept in MongoDB for a day; a repeat (on any replica) gets that answer and writes
//! nothing. A repeat with another body is a `422`; a repeat while the first is still being served
//! waits for its answer up to [`WAIT_FOR_FIRST`], then gets `409`.
//!
//! The work runs in a task of its own, so a client that hangs up does not cut a generation short:
//! it completes and its answer is recorded for the retry.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use super::extract::{json_bytes, parse_json};
use super::state::AppState;
use crate::error::ApiError;
use crate::jobs;
use crate::store::idempotency::{Claim, StoredAnswer};
use crate::store::{RetryPolicy, until_answered};

/// The request header carrying the key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer given again for a repeated key.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long a repeat waits for the first request with its key to be answered before `409`.
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;
/// How long recording an answer keeps trying a database that went away.
const RECORD_PATIENCE: Duration = Duration::from_secs(10);

/// A successful answer of a generation request, in a form that can be kept and given again.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `201` or `202`.
    pub status: StatusCode,
    /// `Location` of a job.
    pub location: Option<String>,
    /// The job, if the answer is one.
    pub job: Option<String>,
    /// The body.
    pub body: Value,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}

/// A key and the request it came with (method, path, canonical body).
#[derive(Debug, Clone)]
pub struct Keyed {
    key: String,
    request: String,
}

/// A JSON body as [`ApiJson`](super::extract::ApiJson) parses it, plus the request's idempotency key, if any.
pub struct KeyedJson<T> {
    /// The parsed body.
    pub body: T,
    /// The key and what it is bound to.
    pub key: Option<Keyed>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KeyedJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let key = match req.headers().get(IDEMPOTENCY_KEY) {
            None => None,
            Some(v) => Some(valid_key(v)?),
        };
        let target = format!("{} {}", req.method(), req.uri().path());
        let bytes = json_bytes(req, state).await?;
        let body = parse_json(&bytes)?;
        let key = key.map(|key| {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let mut request = target;
            request.push(' ');
            canonical(&value, &mut request);
            Keyed { key, request }
        });
        Ok(Self { body, key })
    }
}

/// A key of 1 to [`MAX_KEY_LEN`] visible ASCII characters.
fn valid_key(v: &HeaderValue) -> Result<String, ApiError> {
    let field = "Idempotency-Key";
    let bytes = v.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN {
        return Err(ApiError::invalid(
            field,
            format!(
                "must be 1 to {MAX_KEY_LEN} characters long, got {}",
                bytes.len()
            ),
        ));
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            field,
            "must be visible ASCII characters (a UUID, say)",
        ));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// JSON text with object keys sorted and no spaces: two bodies with the same meaning give the
/// same text.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Runs `work` once per key: without a key, simply runs it; with one, claims the key, runs it and
/// keeps its answer, or gives the answer the key already has. The work runs in a task of its own.
pub async fn once<F, Fut>(
    state: &AppState,
    key: Option<Keyed>,
    work: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Answer, ApiError>> + Send + 'static,
{
    let Some(keyed) = key else {
        return detached(work(state.clone()))
            .await
            .map(IntoResponse::into_response);
    };
    state.ensure_setup().await?;
    let store = &state.store;
    let deadline = Instant::now() + WAIT_FOR_FIRST;
    loop {
        let held = match store.claim_key(&keyed.key, &keyed.request).await? {
            Claim::Claimed => break,
            Claim::Taken(held) => held,
        };
        if held.request != keyed.request {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "this key was already used with another request (a different body or endpoint) \
                 in the last 24 h; send a new key",
            ));
        }
        if let Some(answer) = held.answer {
            return Ok(replay(state, answer).await);
        }
        if Instant::now() >= deadline {
            return Err(ApiError::Conflict(format!(
                "the first request with this Idempotency-Key is still being served after {} s; \
                 repeat it later to get its answer",
                WAIT_FOR_FIRST.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = state.clone();
    detached(async move {
        let result = work(state.clone()).await;
        record(&state, &keyed.key, &result).await;
        result
    })
    .await
    .map(IntoResponse::into_response)
}

/// Runs `work` in a task of its own, so a client hanging up does not stop it half-way; its log
/// lines stay in the request's span (with its request id).
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work.instrument(tracing::Span::current()))
        .await
        .unwrap_or_else(|e| Err(ApiError::Internal(anyhow::anyhow!("generation task: {e}"))))
}

/// Keeps the answer of the request holding `key`: a success, or a failure that wrote documents;
/// any other failure wrote nothing and frees the key for a retry.
async fn record(state: &AppState, key: &str, result: &Result<Answer, ApiError>) {
    let store = &state.store;
    let policy = RetryPolicy::for_up_to(RECORD_PATIENCE);
    let kept = match result {
        Ok(a) => Some(StoredAnswer {
            status: i32::from(a.status.as_u16()),
            location: a.location.clone(),
            job: a.job.clone(),
            body: a.body.to_string(),
        }),
        Err(e @ ApiError::PartiallyWritten { .. }) => Some(StoredAnswer {
            status: i32::from(e.status().as_u16()),
            location: None,
            job: None,
            body: e.body().to_string(),
        }),
        Err(_) => None,
    };
    let outcome = match &kept {
        Some(answer) => {
            until_answered("recording an idempotent answer", &policy, || {
                store.complete_key(key, answer)
            })
            .await
        }
        None => {
            until_answered("releasing an idempotency key", &policy, || {
                store.release_key(key)
            })
            .await
        }
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, key, "cannot record the idempotency key's outcome; repeats get 409 until it expires");
    }
}

/// A kept answer, given again: a job's answer shows the job as it is now.
async fn replay(state: &AppState, answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status as u16).unwrap_or(StatusCode::OK);
    let mut body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if let Some(id) = &answer.job
        && let Ok(record) = state.jobs.get(id).await
        && let Ok(now) = serde_json::to_value(jobs::view(&record, Utc::now()))
    {
        body = now;
    }
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Some(location) = answer.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
