//! The middleware stack, outermost first: request id → trace span → request id echo → CORS →
//! metrics → panic catcher → API key on writes → JSON error bodies → body limit → compression;
//! the timeout is a route layer (see `super::router`).

use std::time::Duration;

use axum::Router;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use super::extract::MAX_BODY_BYTES;
use crate::error::{ApiError, status_body};

/// The header carrying the request id in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The CORS policy for `origins` (see `CORS_ORIGINS`): `*` lets any origin read; a list of origins
/// may read and write; empty turns CORS off.
pub fn cors(origins: &str) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let reads = [Method::GET, Method::HEAD];
    let headers = [
        header::CONTENT_TYPE,
        header::AUTHORIZATION,
        header::IF_NONE_MATCH,
        REQUEST_ID,
    ];
    let expose = [
        header::ETAG,
        header::LOCATION,
        header::RETRY_AFTER,
        REQUEST_ID,
        HeaderName::from_static("x-seed"),
        HeaderName::from_static("x-end"),
    ];
    if origins.is_empty() {
        CorsLayer::new()
    } else if origins.iter().any(|o| o == "*") {
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods(reads)
            .allow_headers(headers)
            .expose_headers(expose)
    } else {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::DELETE])
            .allow_headers(headers)
            .expose_headers(expose)
            .vary([header::ORIGIN])
    }
}

/// The per-route time limit: a `503` `timeout` past `limit`.
pub fn timeout(limit: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, limit)
}

/// Wraps `routes` in the service's layers; with `api_key`, writes must present it.
pub fn apply(routes: Router, cors: CorsLayer, api_key: Option<String>) -> Router {
    let api_key: Option<Arc<[u8]>> = api_key.map(|k| Arc::from(k.into_bytes()));
    routes.layer(
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
                    .make_span_with(request_span),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(cors)
            .layer(middleware::from_fn(track_metrics))
            .layer(CatchPanicLayer::custom(|_| {
                status_body(StatusCode::INTERNAL_SERVER_ERROR)
            }))
            .layer(middleware::from_fn_with_state(api_key, require_key))
            .layer(middleware::from_fn(json_errors))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(CompressionLayer::new()),
    )
}

/// The span every log line of a request is written in: method, URI, matched route, request id.
fn request_span(req: &Request) -> tracing::Span {
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
}

/// With `API_KEY` set, POST and DELETE need `Authorization: Bearer <key>` (`401` otherwise);
/// reads, preflights and everything else stay open.
async fn require_key(key: State<Option<Arc<[u8]>>>, req: Request, next: Next) -> Response {
    let Some(key) = key.0 else {
        return next.run(req).await;
    };
    if !matches!(*req.method(), Method::POST | Method::DELETE) {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            let (scheme, token) = v.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(token)
        });
    match presented {
        None => ApiError::Unauthorized("this API needs `Authorization: Bearer <API_KEY>` to write")
            .into_response(),
        Some(token) if !same_key(token, &key) => {
            ApiError::Unauthorized("the bearer token is not this API's key").into_response()
        }
        Some(_) => next.run(req).await,
    }
}

/// `given == key` in time that depends only on `key`'s length, so the answer's timing tells
/// nothing about how much of a guess was right.
fn same_key(given: &[u8], key: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != key.len());
    for (i, k) in key.iter().enumerate() {
        diff |= k ^ given.get(i).copied().unwrap_or(!k);
    }
    std::hint::black_box(diff) == 0
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
    // Only the methods the API knows make their own label: made-up ones (`curl -X M1`) would
    // otherwise create series for ever.
    let method = match *req.method() {
        Method::GET | Method::HEAD | Method::POST | Method::DELETE | Method::OPTIONS => {
            req.method().as_str().to_owned()
        }
        _ => "other".to_owned(),
    };
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

#[cfg(test)]
mod tests {
    use super::same_key;

    #[test]
    fn keys_compare_by_every_byte_and_the_length() {
        assert!(same_key(b"s3cret", b"s3cret"));
        assert!(!same_key(b"s3cres", b"s3cret"));
        assert!(!same_key(b"s3cre", b"s3cret"));
        assert!(!same_key(b"s3crett", b"s3cret"));
        assert!(!same_key(b"", b"s3cret"));
        // A missing byte never compares equal, whatever the key byte is.
        assert!(!same_key(b"\xff", b"\xff\x00"));
    }
}
