//! The bounds and defaults of every request parameter, and the error that names the one out of
//! bounds: a leaf that every other file of `generate` may import, so none of them has to import the
//! others for a constant.

/// Largest `count` of one run: the index part of a run's `_id` is 32 bits.
pub const MAX_COUNT: u32 = 4_000_000_000;
/// Default and largest call window, in days.
pub const DEFAULT_DAYS: u32 = 30;
/// Largest call window, in days (ten years).
pub const MAX_DAYS: u32 = 3650;
/// Default spacing of a metric series, in seconds.
pub const DEFAULT_STEP_SECONDS: u32 = 30;
/// Largest spacing of a metric series: a year.
pub const MAX_STEP_SECONDS: u32 = 31_536_000;
/// Default number of hosts per category.
pub const DEFAULT_HOSTS: u32 = 3;
/// Largest number of hosts per category.
pub const MAX_HOSTS: u32 = 10_000;
/// Every generated timestamp is at or after this instant (1970-01-01T00:00:00Z, in ms) …
pub const EARLIEST_MS: i64 = 0;
/// … and before this one (10000-01-01T00:00:00Z, in ms): beyond it dates have no 4-digit year and
/// `$dateToString` fails on them.
pub const LATEST_MS_EXCLUSIVE: i64 = 253_402_300_800_000;

/// Default population size.
pub const DEFAULT_SUBSCRIBERS: u32 = 10_000;
/// Smallest population: a caller needs someone else to call.
pub const MIN_SUBSCRIBERS: u32 = 2;
/// Largest population.
pub const MAX_SUBSCRIBERS: u32 = 100_000_000;
/// Shortest and longest completed call, in seconds.
pub const DURATION_BOUNDS: (u32, u32) = (1, 7200);

/// A parameter out of its bounds: which one, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ParamError {
    /// The field (or flag, without dashes) at fault, e.g. `count` or `categories[1]`.
    pub field: String,
    /// What is wrong, naming the bound.
    pub message: String,
}

impl ParamError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The value at the dotted `path` of a JSON object (`Null` where there is none).
pub fn json_at<'a>(v: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    v.pointer(&format!("/{}", path.replace('.', "/")))
        .unwrap_or(&serde_json::Value::Null)
}

/// The number at the dotted `path` of a JSON object, within `lo..=hi`; an error names the field as
/// `root.path` and the bounds.
pub fn number_at(
    v: &serde_json::Value,
    root: &str,
    path: &str,
    lo: f64,
    hi: f64,
) -> Result<f64, ParamError> {
    let field = format!("{root}.{path}");
    let x = json_at(v, path)
        .as_f64()
        .ok_or_else(|| ParamError::new(&field, "must be a number"))?;
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(ParamError::new(
            field,
            format!("must be between {lo} and {hi}, got {x}"),
        ))
    }
}

/// `value` within `lo..=hi`, or an error naming `field` and the bounds.
pub fn bounded(field: &str, value: i64, lo: i64, hi: i64) -> Result<i64, ParamError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(ParamError::new(
            field,
            format!("must be between {lo} and {hi}, got {value}"),
        ))
    }
}
