//! The HTTP surface: state, routes, layers. Handlers are thin: parse, call the generator, the
//! pipeline or the store, answer.

mod extract;
pub mod generate;
mod jobs;
mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use extract::{ApiJson, ApiQuery, MAX_BODY_BYTES};

use crate::config::ServeSettings;
use crate::error::{ApiError, status_body};
use crate::jobs::JobManager;
use crate::pipeline::Tuning;
use crate::store::Store;

/// The header carrying the request id in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything a handler may need; cloned per request (all fields are handles).
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The serve settings.
    pub settings: Arc<ServeSettings>,
    /// Batch size and in-flight batches per run.
    pub tuning: Tuning,
    /// Slots for synchronous generation requests.
    pub limiter: Arc<Semaphore>,
    /// Background jobs.
    pub jobs: JobManager,
    setup: Arc<OnceCell<()>>,
}

impl AppState {
    /// State for `store` with `settings`.
    pub fn new(store: Store, settings: ServeSettings, tuning: Tuning) -> Self {
        // Installed before anything records a metric (the job gauge starts at 0 right below).
        crate::telemetry::prometheus();
        let jobs = JobManager::new(store.clone(), tuning, settings.max_jobs);
        Self {
            limiter: Arc::new(Semaphore::new(settings.max_concurrent_requests as usize)),
            store,
            tuning,
            jobs,
            settings: Arc::new(settings),
            setup: Arc::new(OnceCell::new()),
        }
    }

    /// Runs collection set-up once per process, retrying on later calls while it fails (the
    /// service may start before its database).
    pub async fn ensure_setup(&self) -> Result<(), ApiError> {
        self.setup
            .get_or_try_init(|| async { self.store.setup().await })
            .await
            .map(|_| ())
            .map_err(ApiError::from)
    }
}

/// The OpenAPI description of this API, served at `GET /openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Every route: path, method, handler. The router is built from this table and the OpenAPI test
/// compares the same table with `openapi.yaml`, so neither can drift from the other unnoticed.
fn route_table() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        ("/generate/calls", Method::POST, post(generate::calls)),
        ("/generate/metrics", Method::POST, post(generate::metrics)),
        ("/stats", Method::GET, get(stats::stats)),
        ("/jobs", Method::GET, get(jobs::list)),
        ("/jobs/{id}", Method::GET, get(jobs::get)),
        ("/jobs/{id}", Method::DELETE, delete(jobs::cancel)),
        ("/healthz", Method::GET, get(healthz)),
        ("/readyz", Method::GET, get(readyz)),
        ("/metrics", Method::GET, get(prometheus_metrics)),
        ("/openapi.yaml", Method::GET, get(openapi)),
    ]
}

/// (path, method) of every route the router serves.
pub fn routes() -> Vec<(&'static str, Method)> {
    route_table().into_iter().map(|(p, m, _)| (p, m)).collect()
}

/// The application's routes and layers.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let mut routes = Router::new();
    for (path, _, handler) in route_table() {
        routes = routes.route(path, handler);
    }
    routes.fallback(not_found).with_state(state).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    // One access-log line per request at INFO, inside the request's span.
                    .on_response(
                        DefaultOnResponse::new()
                            .level(tracing::Level::INFO)
                            .latency_unit(LatencyUnit::Millis),
                    )
                    .make_span_with(|req: &Request| {
                        let route = req
                            .extensions()
                            .get::<MatchedPath>()
                            .map(|p| p.as_str().to_owned());
                        let id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        tracing::info_span!(
                            "request",
                            method = %req.method(),
                            uri = %req.uri(),
                            route = route.as_deref().unwrap_or("unmatched"),
                            request_id = %id,
                        )
                    }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::from_fn(track_metrics))
            .layer(CatchPanicLayer::custom(|_| {
                status_body(StatusCode::INTERNAL_SERVER_ERROR)
            }))
            .layer(middleware::from_fn(json_errors))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                timeout,
            ))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(CompressionLayer::new()),
    )
}

/// Gives error statuses produced outside the handlers (405, timeouts, …) the API's JSON body.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let mut replaced = status_body(status);
        if let Some(allow) = response.headers().get(header::ALLOW) {
            replaced.headers_mut().insert(header::ALLOW, allow.clone());
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            replaced
                .headers_mut()
                .insert(header::RETRY_AFTER, crate::error::RETRY_AFTER_SECS.into());
        }
        return replaced;
    }
    response
}

/// Counts and times every request by method, matched route (never the raw URL) and status.
async fn track_metrics(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: Prometheus text format.
async fn prometheus_metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::prometheus().render(),
    )
}

/// `GET /openapi.yaml`.
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// How long a status read (a job, readiness) may take before it is answered 503: a stalled database
/// should not hold a polling dashboard for the whole request timeout.
pub const STATUS_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a status read within [`STATUS_READ_TIMEOUT`].
async fn bounded<T>(read: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
    tokio::time::timeout(STATUS_READ_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::DatabaseUnavailable {
                message: format!(
                    "the database did not answer within {} s; retry later",
                    STATUS_READ_TIMEOUT.as_secs()
                ),
                source: None,
            })
        })
}

/// `GET /healthz`: the process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and the collections are set up.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    bounded(async {
        state.store.ping().await?;
        state.ensure_setup().await
    })
    .await?;
    Ok(Json(json!({ "status": "ready" })))
}

impl IntoResponse for crate::jobs::JobView {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}
