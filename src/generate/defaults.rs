//! The default (mobile) model's numbers: a leaf, so the model, the zones' load curve, the calls and
//! the population all read them without importing each other. Sources in docs/data-model.md.

/// Relative frequency of voice, video and conference calls (the mobile preset's).
pub const CALL_TYPE_WEIGHTS: [f64; 3] = [0.70, 0.22, 0.08];
/// Relative frequency of completed, missed, busy and failed calls (the mobile preset's).
pub const STATUS_WEIGHTS: [f64; 4] = [0.70, 0.20, 0.04, 0.06];
/// Call volume by hour of the subscriber's local day, peak 1.0 in business hours.
pub const HOUR_WEIGHTS: [f64; 24] = [
    0.10, 0.07, 0.05, 0.05, 0.06, 0.10, 0.25, 0.50, 0.80, 0.95, 1.00, 0.98, 0.85, 0.92, 1.00, 0.97,
    0.90, 0.75, 0.60, 0.50, 0.42, 0.35, 0.25, 0.16,
];
/// Call volume by day of the subscriber's local week, Monday first.
pub const WEEKDAY_WEIGHTS: [f64; 7] = [1.00, 1.00, 0.98, 0.97, 0.92, 0.45, 0.35];
/// σ of the log-normal duration.
pub const DURATION_SIGMA: f64 = 1.6;
/// Flat fee charged once per completed call, in USD (the mobile preset's).
pub const CONNECTION_FEE: f64 = 0.05;
/// Price per started minute of voice, video and conference calls, USD (the mobile preset's).
pub const RATES_PER_MINUTE: [f64; 3] = [0.02, 0.05, 0.08];
/// Frequent contacts per subscriber (the mobile preset's).
pub const CONTACTS: usize = 8;
/// Share of calls that go to one of the caller's frequent contacts (the mobile preset's).
pub const CIRCLE_SHARE: f64 = 0.8;
/// Share of a subscriber's frequent contacts who share their area code (the mobile preset's).
pub const LOCAL_CONTACTS: f64 = 0.7;
/// Tail of the activity law: the top fraction `x` of subscribers places `x^(1/this)` of calls
/// (the mobile preset's).
pub const ACTIVITY_EXPONENT: f64 = 2.0;
