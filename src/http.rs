//! The HTTP surface: the route table. Handlers are thin: parse, call a generator, the pipeline,
//! the job manager, the live runs, the statistics or the store, answer. Files: `state` (AppState
//! and what handlers share), handlers [`generate`], `preview`, `export`, `cells`, `stats`, `jobs`, `live`,
//! `idempotency` (keyed generations), `ops` (health, readiness, Prometheus, the spec), `layers`
//! (middleware stack), `extract` (JSON and query extractors with field-naming errors), `serve`
//! and `page` (the dashboard page).

mod cells;
mod export;
mod extract;
pub mod generate;
pub mod idempotency;
mod jobs;
mod layers;
mod live;
mod ops;
pub mod preview;
pub mod serve;
mod state;
mod stats;

use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};

pub use extract::{ApiJson, ApiQuery, MAX_BODY_BYTES};
pub use layers::REQUEST_ID;
pub use ops::{OPENAPI_YAML, SECURITY_LINES, bounds, served_spec};
pub use state::{AppState, STATUS_READ_TIMEOUT};

use crate::error::ApiError;

/// Every route: path, method, handler. The router is built from this table and the OpenAPI test
/// compares the same table with `openapi.yaml`, so neither can drift from the other unnoticed.
fn route_table() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        ("/generate/calls", Method::POST, post(generate::calls)),
        ("/generate/metrics", Method::POST, post(generate::metrics)),
        ("/generate/sms", Method::POST, post(generate::sms)),
        ("/preview/calls", Method::GET, get(preview::calls)),
        ("/preview/metrics", Method::GET, get(preview::metrics)),
        ("/preview/sms", Method::GET, get(preview::sms)),
        ("/export/calls", Method::GET, get(export::calls)),
        ("/export/metrics", Method::GET, get(export::metrics)),
        ("/export/sms", Method::GET, get(export::sms)),
        ("/cells", Method::GET, get(cells::list)),
        ("/stats", Method::GET, get(stats::stats)),
        ("/stats/cells", Method::GET, get(stats::cells)),
        ("/stats/calls/series", Method::GET, get(stats::calls_series)),
        (
            "/stats/metrics/series",
            Method::GET,
            get(stats::metrics_series),
        ),
        ("/stats/stream", Method::GET, get(stats::stream)),
        ("/stats/rebuild", Method::POST, post(stats::rebuild)),
        ("/live", Method::POST, post(live::start)),
        ("/live", Method::GET, get(live::list)),
        ("/live/{id}", Method::GET, get(live::get)),
        ("/live/{id}", Method::DELETE, delete(live::remove)),
        ("/live/{id}/stop", Method::POST, post(live::stop)),
        ("/calls/stream", Method::GET, get(live::calls_stream)),
        ("/jobs", Method::GET, get(jobs::list)),
        ("/jobs/{id}", Method::GET, get(jobs::get)),
        ("/jobs/{id}", Method::DELETE, delete(jobs::remove)),
        ("/jobs/{id}/cancel", Method::POST, post(jobs::cancel)),
        ("/", Method::GET, get(ops::dashboard)),
        ("/healthz", Method::GET, get(ops::healthz)),
        ("/readyz", Method::GET, get(ops::readyz)),
        ("/metrics", Method::GET, get(ops::prometheus_metrics)),
        ("/openapi.yaml", Method::GET, get(ops::openapi)),
    ]
}

/// (path, method) of every route the router serves.
pub fn routes() -> Vec<(&'static str, Method)> {
    route_table().into_iter().map(|(p, m, _)| (p, m)).collect()
}

/// Whether `REQUEST_TIMEOUT_SECS` bounds a route. Generations do not: cutting one after it wrote
/// would leave the client with a 503 advising a retry that writes everything again. A
/// synchronous run is bounded by `ASYNC_THRESHOLD` instead, and a job answers once recorded.
fn timed(path: &str) -> bool {
    !path.starts_with("/generate/") && !path.starts_with("/export/") && !path.ends_with("/stream")
}

/// The application's routes and layers.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let (mut bounded, mut unbounded) = (Router::new(), Router::new());
    for (path, _, handler) in route_table() {
        if timed(path) {
            bounded = bounded.route(path, handler);
        } else {
            unbounded = unbounded.route(path, handler);
        }
    }
    let routes = bounded
        .route_layer(layers::timeout(timeout))
        .merge(unbounded);
    let cors = layers::cors(&state.settings.cors_origins);
    let api_key = state.settings.api_key.clone().filter(|k| !k.is_empty());
    layers::apply(routes.fallback(not_found).with_state(state), cors, api_key)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}
