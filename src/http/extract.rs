//! Extractors that turn every way a request can be malformed into an [`ApiError`] naming the field,
//! instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted; every request of this API fits in a fraction of it.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON body, parsed with the path of any offending field kept for the error.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The bytes of a body declared as JSON: `415` when it is not declared so, `413` when too large.
pub async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) if e.status().as_u16() == 413 => {
            ApiError::PayloadTooLarge(MAX_BODY_BYTES)
        }
        other => ApiError::Malformed(other.body_text()),
    })
}

/// Parses a JSON document into `T`: syntax errors are 400, shape errors 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() && path == "." && !bytes.trim_ascii_start().starts_with(b"{") {
            ApiError::invalid("body", "request body must be a JSON object")
        } else if inner.is_data() {
            let message = strip_position(&inner.to_string());
            ApiError::invalid(field_name(&path, &message), message)
        } else {
            ApiError::Malformed(format!("request body is not valid JSON: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::Malformed(format!("request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// A query string, parsed with the path of any offending parameter kept for the error.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                ApiError::invalid(field_name(&path, &message), message)
            })
    }
}

/// The field an error is about: the deserializer's path, or for errors raised at the object level
/// (unknown, missing or duplicated fields) the name quoted in the message.
fn field_name(path: &str, message: &str) -> String {
    if path != "." && !path.is_empty() {
        return path.to_string();
    }
    message
        .split('`')
        .nth(1)
        .filter(|_| {
            ["unknown field", "missing field", "duplicate field"]
                .iter()
                .any(|p| message.starts_with(p))
        })
        .map(str::to_string)
        .unwrap_or_else(|| "body".to_string())
}

/// serde_json appends "at line 1 column 12" (the field name already says where) and names Rust
/// types; say it in JSON's terms instead.
fn strip_position(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    message
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected u32", "expected a non-negative integer")
}
