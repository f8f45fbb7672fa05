//! Operational endpoints: liveness, readiness, the Prometheus scrape, the OpenAPI description and
//! the dashboard page.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use super::state::{AppState, bounded};
use crate::config::ServeSettings;
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

/// `GET /openapi.yaml`: the description as this instance runs: its bounds and its authorization
/// (see [`served_spec`]), so a client (or a fuzzer) reading it knows exactly what is accepted.
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        served_spec(&state.settings),
    )
}

/// The settings that bound a request, each marked `x-bound: NAME` next to its `maximum` in
/// [`OPENAPI_YAML`] (which holds the defaults), with this instance's value.
pub fn bounds(settings: &ServeSettings) -> [(&'static str, String); 2] {
    [
        ("MAX_COUNT", settings.max_count.to_string()),
        (
            "LIVE_MAX_CALLS_PER_SECOND",
            settings.live_max_calls_per_second.to_string(),
        ),
    ]
}

/// Each write operation's `security` requirement, and its 401 answer, as [`OPENAPI_YAML`] states
/// them (one per line).
pub const SECURITY_LINES: [&str; 2] = [
    "      security: [{ apiKey: [] }]\n",
    "        '401': { $ref: '#/components/responses/Unauthorized' }\n",
];

/// [`OPENAPI_YAML`] as this instance runs: every `maximum` marked `x-bound: NAME` is the setting
/// `NAME` ([`bounds`]), and without `API_KEY` the write operations declare no `security` and no
/// 401, since nothing asks for a key.
pub fn served_spec(settings: &ServeSettings) -> String {
    let mut spec = OPENAPI_YAML.to_string();
    for (name, value) in bounds(settings) {
        spec = replace_bound(&spec, name, &value);
    }
    if settings.api_key.as_deref().is_none_or(str::is_empty) {
        for line in SECURITY_LINES {
            spec = spec.replace(line, "");
        }
    }
    spec
}

/// `spec` with `maximum: <anything>, x-bound: NAME` made `maximum: VALUE, x-bound: NAME`.
fn replace_bound(spec: &str, name: &str, value: &str) -> String {
    let marker = format!(", x-bound: {name}");
    let mut out = String::with_capacity(spec.len());
    let mut rest = spec;
    while let Some(at) = rest.find(&marker) {
        let head = &rest[..at];
        let number = head.rfind("maximum: ").map(|m| m + "maximum: ".len());
        match number {
            Some(start) if head[start..].bytes().all(|b| b.is_ascii_digit()) => {
                out.push_str(&head[..start]);
                out.push_str(value);
            }
            _ => out.push_str(head),
        }
        out.push_str(&marker);
        rest = &rest[at + marker.len()..];
    }
    out.push_str(rest);
    out
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
