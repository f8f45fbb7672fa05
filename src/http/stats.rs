//! `GET /stats`: aggregation pipelines over both collections, for dashboards.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{ApiQuery, AppState};
use crate::error::ApiError;
use crate::store::stats::Stats;

/// Query of `GET /stats`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

/// An RFC 3339 instant, or a date meaning its midnight UTC.
fn instant(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(Some(
            d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(),
        ));
    }
    Err(ApiError::invalid(
        field,
        format!("expected an RFC 3339 timestamp or a YYYY-MM-DD date, got {v:?}"),
    ))
}

/// `GET /stats?from=&to=`: calls per day and status, per status and per type; metrics per day and
/// category and per category. `from` is inclusive, `to` exclusive.
pub async fn stats(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<Stats>, ApiError> {
    let from = instant("from", q.from.as_deref())?;
    let to = instant("to", q.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(ApiError::invalid("to", "must be later than from"));
    }
    Ok(Json(state.store.stats(from, to).await?))
}
