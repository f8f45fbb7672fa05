//! The one error type of the HTTP API and how it renders.
//!
//! Every error body is `{"error": {"code": "...", "message": "..."}}` (plus `field` where one field is
//! at fault). Codes are stable and meant for programs ([`ErrorCode`] lists them all); messages are for
//! people. 4xx messages say exactly what is wrong with the input; 5xx messages are opaque and the
//! cause is logged once, when the response is rendered.

use axum::http::StatusCode;
use serde::Serialize;

use crate::generate::ParamError;
use crate::store::DbError;

mod response;

pub use response::{status_body, with_retry_after};

/// Seconds a client should wait before retrying after a 429 or 503.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Every machine-readable error code the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body or query string cannot be parsed at all.
    MalformedRequest,
    /// 400: any other client error produced outside the handlers.
    BadRequest,
    /// 401: `API_KEY` is set and a write came without `Authorization: Bearer <key>` matching it.
    Unauthorized,
    /// 422: a field is of the wrong type, unknown, or out of bounds.
    InvalidField,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the resource's state does not allow the request.
    Conflict,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 415: the body is not declared as JSON.
    UnsupportedMediaType,
    /// 429: this instance runs its maximum of background jobs.
    TooManyJobs,
    /// 503: this instance is at its limit of concurrent generation requests.
    Overloaded,
    /// 503: MongoDB cannot be reached.
    DatabaseUnavailable,
    /// 503/504: the request took longer than the configured limit.
    Timeout,
    /// 500: a generation stopped part-way; the body says how many documents it wrote. Not
    /// retryable as is: a retry would write them again.
    PartiallyWritten,
    /// 500: anything else.
    Internal,
}

impl ErrorCode {
    /// Every code, for the OpenAPI test that checks the spec lists them all.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::MalformedRequest,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidField,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::TooManyJobs,
        ErrorCode::Overloaded,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::Timeout,
        ErrorCode::PartiallyWritten,
        ErrorCode::Internal,
    ];

    /// The code as it appears in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::TooManyJobs => "too_many_jobs",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::PartiallyWritten => "partially_written",
            ErrorCode::Internal => "internal",
        }
    }
}

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
    /// 401 `unauthorized`: `API_KEY` is set and this write did not present it.
    #[error("{0}")]
    Unauthorized(&'static str),
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
    /// 429 `too_many_jobs`: this instance runs its maximum of background jobs (or live runs).
    #[error("{0} {1} are already running on this instance; retry later")]
    TooManyJobs(u32, &'static str),
    /// 503 `overloaded`: this instance is at its limit of generation requests or of exports.
    #[error("the service is at its limit of concurrent {0}; retry later")]
    Overloaded(&'static str),
    /// 503 `overloaded`: too many statistics reads are already waiting for the database.
    #[error("too many statistics reads are waiting for the database; retry shortly")]
    StatsBusy,
    /// 503 `timeout`: the database did not finish a read within its time limit.
    #[error(
        "the database did not finish the query within its time limit; retry later or ask for less"
    )]
    QueryTimeout,
    /// 503 `database_unavailable`: MongoDB cannot be reached; retry later.
    #[error("{message}")]
    DatabaseUnavailable {
        /// What the client should know (never the driver's error text).
        message: String,
        /// The database error, for the log.
        #[source]
        source: Option<DbError>,
    },
    /// 500 `partially_written`: a synchronous generation stopped part-way (the database failed
    /// under it). Says how many documents are in the database and no `Retry-After`: repeating the
    /// request would write them again (an `Idempotency-Key` makes a repeat safe).
    #[error(
        "the generation stopped part-way ({cause}); {at_least}{written} of {requested} documents \
         were written; retrying this request would write them again",
        at_least = if *exact { "" } else { "at least " }
    )]
    PartiallyWritten {
        /// Documents of the run in the database (a lower bound unless `exact`).
        written: u64,
        /// Whether `written` was counted (the database answered again) or is only what was
        /// acknowledged.
        exact: bool,
        /// Documents asked for.
        requested: u32,
        /// What stopped it, in words safe to show (never the driver's text).
        cause: &'static str,
        /// The error, for the log.
        #[source]
        source: Option<anyhow::Error>,
    },
    /// 500 `internal`: anything else; the body says nothing, the log says everything.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
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
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyJobs(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded(_)
            | ApiError::StatsBusy
            | ApiError::QueryTimeout
            | ApiError::DatabaseUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PartiallyWritten { .. } | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Malformed(_) => ErrorCode::MalformedRequest,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::InvalidField { .. } => ErrorCode::InvalidField,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::TooManyJobs(..) => ErrorCode::TooManyJobs,
            ApiError::Overloaded(_) | ApiError::StatsBusy => ErrorCode::Overloaded,
            ApiError::QueryTimeout => ErrorCode::Timeout,
            ApiError::DatabaseUnavailable { .. } => ErrorCode::DatabaseUnavailable,
            ApiError::PartiallyWritten { .. } => ErrorCode::PartiallyWritten,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl ApiError {
    /// A copy of a shared error (one answer read once for several waiting requests): the same
    /// status, code and message; the cause stays with the original.
    pub fn shared(e: &ApiError) -> ApiError {
        match e {
            ApiError::Malformed(m) => ApiError::Malformed(m.clone()),
            ApiError::Unauthorized(m) => ApiError::Unauthorized(m),
            ApiError::InvalidField { field, message } => ApiError::invalid(field, message),
            ApiError::NotFound(m) => ApiError::NotFound(m.clone()),
            ApiError::Conflict(m) => ApiError::Conflict(m.clone()),
            ApiError::PayloadTooLarge(n) => ApiError::PayloadTooLarge(*n),
            ApiError::UnsupportedMediaType => ApiError::UnsupportedMediaType,
            ApiError::TooManyJobs(n, what) => ApiError::TooManyJobs(*n, what),
            ApiError::Overloaded(what) => ApiError::Overloaded(what),
            ApiError::StatsBusy => ApiError::StatsBusy,
            ApiError::QueryTimeout => ApiError::QueryTimeout,
            ApiError::DatabaseUnavailable { message, .. } => ApiError::DatabaseUnavailable {
                message: message.clone(),
                source: None,
            },
            ApiError::PartiallyWritten {
                written,
                exact,
                requested,
                cause,
                ..
            } => ApiError::PartiallyWritten {
                written: *written,
                exact: *exact,
                requested: *requested,
                cause,
                source: None,
            },
            ApiError::Internal(e) => ApiError::Internal(anyhow::anyhow!("{e:#}")),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_timeout() {
            tracing::warn!(error = %e, "database query timed out");
            ApiError::QueryTimeout
        } else if e.is_unavailable() {
            ApiError::DatabaseUnavailable {
                message: "the database is unavailable; retry later".into(),
                source: Some(e),
            }
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError::InvalidField {
            field: e.field,
            message: e.message,
        }
    }
}
