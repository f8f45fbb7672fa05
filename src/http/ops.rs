//! Operational endpoints: liveness, readiness, the Prometheus scrape, the OpenAPI description and
//! the dashboard page.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use super::{AppState, bounded};
use crate::error::ApiError;

/// The OpenAPI description of this API, served at `GET /openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and the collections are set up.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    bounded(async {
        state.store.ping().await?;
        state.ensure_setup().await
    })
    .await?;
    Ok(Json(json!({ "status": "ready" })))
}

/// `GET /metrics`: Prometheus text format.
pub async fn prometheus_metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::prometheus().render(),
    )
}

/// `GET /openapi.yaml`: the description with this instance's `MAX_COUNT` as the bound of `count`,
/// so a client (or a fuzzer) reading it knows exactly which counts are accepted.
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        served_spec(
            state.settings.max_count,
            state.settings.live_max_calls_per_second,
        ),
    )
}

/// [`OPENAPI_YAML`] with `max_count` as the maximum of every `count`.
pub fn served_spec(max_count: u64, max_live_rate: u32) -> String {
    OPENAPI_YAML
        .replace(
            "count: { type: integer, minimum: 1, maximum: 100000000,",
            &format!("count: {{ type: integer, minimum: 1, maximum: {max_count},"),
        )
        .replace(
            "maximum: 100000000, x-bound: MAX_COUNT",
            &format!("maximum: {max_count}, x-bound: MAX_COUNT"),
        )
        .replace(
            "calls_per_second: { type: number, minimum: 0, maximum: 100000,",
            &format!("calls_per_second: {{ type: number, minimum: 0, maximum: {max_live_rate},"),
        )
}

/// The dashboard page (`src/http/page/index.html`): self-contained (no CDN, charts drawn as SVG by
/// its own script), embedded in the binary so the service needs no files at run time.
pub const DASHBOARD_HTML: &str = include_str!("page/index.html");

/// `GET /`: the dashboard page. Not cached, so a new release's page is picked up at once.
pub async fn dashboard() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DASHBOARD_HTML,
    )
}
