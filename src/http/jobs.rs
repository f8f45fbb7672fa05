//! `GET /jobs`, `GET /jobs/{id}`, `POST /jobs/{id}/cancel` (stop a running job),
//! `DELETE /jobs/{id}` (remove the record of a job that has ended).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::extract::ApiQuery;
use super::state::{AppState, bounded};
use crate::error::ApiError;
use crate::jobs::{self as job, JobView};

/// Query of `GET /jobs` and `GET /live`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
}

impl ListQuery {
    /// How many records to list: 20 by default, 1 to 1000.
    pub(super) fn limit(&self) -> Result<i64, ApiError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and 1000, got {limit}"),
            ));
        }
        Ok(limit)
    }
}

/// `GET /jobs?limit=N`: the most recent jobs of every instance, newest first.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<JobView>>, ApiError> {
    let limit = q.limit()?;
    let now = Utc::now();
    let jobs = bounded(state.jobs.list(limit)).await?;
    Ok(Json(jobs.iter().map(|j| job::view(j, now)).collect()))
}

/// `GET /jobs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let record = bounded(state.jobs.get(&id)).await?;
    Ok(Json(job::view(&record, Utc::now())))
}

/// `POST /jobs/{id}/cancel`: cancels a running job; `200` with the final record once it has stopped,
/// `202` if it is still finishing its last batch after the wait.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (record, stopped) = state.jobs.cancel(&id).await?;
    let status = if stopped {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(job::view(&record, Utc::now()))).into_response())
}

/// `DELETE /jobs/{id}`: removes the record of a job that has ended (`204`); its documents stay.
/// A running job is `409`: cancel it first.
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    bounded(state.jobs.remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
