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

/// `GET /openapi.yaml`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
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
