//! The one error type of the HTTP API and how it renders.
//!
//! Every error body is `{"error": {"code": "...", "message": "..."}}` (plus `field` where one field is
//! at fault). Codes are stable and meant for programs; messages are for people. 4xx messages say
//! exactly what is wrong with the input; 5xx messages are opaque and the cause is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Seconds a client should wait before retrying after a 429 or 503.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `malformed_request`: the body or query string cannot be parsed at all.
    #[error("{0}")]
    Malformed(String),
    /// 422 `invalid_field`: a field has the wrong type, an unknown name, or a value out of bounds.
    #[error("{field}: {message}")]
    InvalidField {
        /// Path of the offending field, e.g. `count` or `categories[1]`.
        field: String,
        /// What is wrong with it, naming the bound where there is one.
        message: String,
    },
    /// 404 `not_found`: no such route or resource.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`: the request is valid but the resource's state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`: the body exceeds the size limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    #[error("expected a request with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 429 `too_many_jobs`: this instance already runs its maximum of background jobs.
    #[error("{0} background jobs are already running on this instance; retry later")]
    TooManyJobs(u32),
    /// 503 `overloaded`: this instance is at its limit of concurrent generation requests.
    #[error("the service is at its limit of concurrent generation requests; retry later")]
    Overloaded,
    /// 503 `database_unavailable`: MongoDB cannot be reached; retry later.
    #[error("{message}")]
    DatabaseUnavailable {
        /// What the client should know (never the driver's error text).
        message: String,
        /// The driver error, for the log.
        #[source]
        source: Option<mongodb::error::Error>,
    },
    /// 500 `internal`: anything else; the body says nothing, the log says everything.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A 422 naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyJobs(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::DatabaseUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::TooManyJobs(_) => "too_many_jobs",
            ApiError::Overloaded => "overloaded",
            ApiError::DatabaseUnavailable { .. } => "database_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(e: mongodb::error::Error) -> Self {
        crate::telemetry::record_db_error(&e);
        if crate::store::is_unavailable(&e) {
            ApiError::DatabaseUnavailable {
                message: "the database is unavailable; retry later".into(),
                source: Some(e),
            }
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, field) = match &self {
            ApiError::Internal(_) => ("internal error".to_string(), None),
            ApiError::InvalidField { field, message } => (message.clone(), Some(field.as_str())),
            other => (other.to_string(), None),
        };
        match &self {
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            ApiError::DatabaseUnavailable {
                source: Some(e), ..
            } => {
                tracing::warn!(error = %e, "database unavailable")
            }
            _ => {}
        }
        let body = Body {
            error: Detail {
                code: self.code(),
                message,
                field,
            },
        };
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
}

/// Renders a bare error status (one produced by a layer or by axum itself, with no JSON body) in
/// the API's error format, so clients see one shape for every error.
pub fn status_body(status: StatusCode) -> Response {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => (
            "timeout",
            "the request took longer than the configured limit",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body is too large"),
        // The timeout layer answers 503 (handlers render their own 503s as JSON).
        StatusCode::SERVICE_UNAVAILABLE => (
            "timeout",
            "the request took longer than the configured limit",
        ),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("bad_request", "bad request"),
    };
    let body = Body {
        error: Detail {
            code,
            message: message.into(),
            field: None,
        },
    };
    (status, axum::Json(body)).into_response()
}
