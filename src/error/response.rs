//! How an [`ApiError`] answers: its JSON body, `Retry-After` where a retry is advised, the cause
//! logged once; and the same shape for the bare statuses layers and axum produce.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ApiError, ErrorCode, RETRY_AFTER_SECS};

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: ErrorCode,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// With `partially_written`: documents written, and whether that count is exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    written: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    written_exact: Option<bool>,
}

impl ApiError {
    /// The JSON body this error answers with (also what an idempotency record keeps of it).
    pub fn body(&self) -> serde_json::Value {
        let (message, field) = match &self {
            ApiError::Internal(_) => ("internal error".to_string(), None),
            ApiError::InvalidField { field, message } => (message.clone(), Some(field.as_str())),
            other => (other.to_string(), None),
        };
        let (written, written_exact) = match self {
            ApiError::PartiallyWritten { written, exact, .. } => (Some(*written), Some(*exact)),
            _ => (None, None),
        };
        let detail = Detail {
            code: self.code(),
            message,
            field,
            written,
            written_exact,
        };
        serde_json::to_value(Body { error: detail }).expect("an error body serializes")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            ApiError::PartiallyWritten {
                source: Some(e), ..
            } => tracing::error!(error = format!("{e:#}"), "generation stopped part-way"),
            ApiError::DatabaseUnavailable {
                source: Some(e), ..
            } => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let mut response = with_retry_after(self.status(), self.body());
        if matches!(self, ApiError::Unauthorized(_)) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The API's error body with `Retry-After` on 429 and 503.
fn render(status: StatusCode, code: ErrorCode, message: String, field: Option<&str>) -> Response {
    let detail = Detail {
        code,
        message,
        field,
        written: None,
        written_exact: None,
    };
    let body = serde_json::to_value(Body { error: detail }).expect("an error body serializes");
    with_retry_after(status, body)
}

/// `body` with `status`, and `Retry-After` on 429 and 503 (the answers that advise a retry).
pub fn with_retry_after(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

/// Renders a bare error status (one produced by a layer or by axum itself, with no JSON body) in
/// the API's error format, so clients see one shape for every error.
pub fn status_body(status: StatusCode) -> Response {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        ),
        // The timeout layer answers 503 (handlers render their own 503s as JSON).
        StatusCode::REQUEST_TIMEOUT
        | StatusCode::GATEWAY_TIMEOUT
        | StatusCode::SERVICE_UNAVAILABLE => (
            ErrorCode::Timeout,
            "the request took longer than the configured limit",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "request body is too large"),
        s if s.is_server_error() => (ErrorCode::Internal, "internal error"),
        _ => (ErrorCode::BadRequest, "bad request"),
    };
    render(status, code, message.into(), None)
}
