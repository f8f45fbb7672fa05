//! The call model a run follows: a named preset (`mobile`, the default; `call_center`;
//! `enterprise`) with any of its numbers overridden, so a user can reproduce another network's
//! shape with one word or a JSON object. Parsed once, with the field at fault named
//! (`model.calls.status.missed: must be ≥ 0`), and kept whole in job and live records, so a repair
//! or a resume regenerates the same documents even after the presets change.
//!
//! JSON form (every key optional but `preset` defaults to `mobile`):
//! `{"preset": "call_center", "calls": {"status": {"missed": 0.4}, "time_zone": "UTC"}}`.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::bounds::{DURATION_BOUNDS, ParamError};

mod metrics;
mod parse;
mod presets;

pub use super::points::{CategoryShape, MetricModel};
pub use presets::Preset;

pub use super::defaults::*;

/// Largest number of frequent contacts per subscriber.
pub const MAX_CONTACTS: usize = 32;
/// Largest number of hub lines (a call centre's numbers).
pub const MAX_HUBS: u32 = 10_000;

/// Both parts of the model `request` asks for, parsed (and checked) once.
pub fn parse_parts(request: &Value) -> Result<(CallModel, MetricModel), ParamError> {
    parse::model(request)
}

/// Both parts of the model a record keeps, as [`CallModel::to_json`] or
/// [`CallModel::with_metrics_json`] wrote it; the defaults for a record from before models, and
/// no network for one from before networks (so both regenerate the documents they wrote).
pub fn of_record(doc: Option<&bson::Document>) -> Result<(CallModel, MetricModel), ParamError> {
    let (mut calls, metrics) = match doc {
        Some(d) => parse::model(&bson::Bson::Document(d.clone()).into_relaxed_extjson())?,
        None => Default::default(),
    };
    if !doc.is_some_and(|d| d.contains_key("network")) {
        calls.network = NetworkModel::NONE;
    }
    Ok((calls, metrics))
}

/// How long a completed call lasts: a heavy-tailed law with its median, clipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationLaw {
    /// The law's shape around its median.
    pub law: Law,
    /// Median talk time, seconds.
    pub median_seconds: f64,
    /// Shortest call, seconds (at least 1).
    pub min_seconds: u32,
    /// Longest call, seconds (at most the validator's 7200).
    pub max_seconds: u32,
}

/// The duration laws offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Law {
    /// Log-normal with this σ of the logarithm.
    Lognormal {
        /// σ of ln(duration).
        sigma: f64,
    },
    /// Log-logistic (de Melo et al. 2010) with this shape β; larger is narrower.
    Loglogistic {
        /// β.
        shape: f64,
    },
}

/// What a completed call costs: a connection fee plus a price per minute of its type, on the
/// billable seconds (a first interval, then increments, as carriers quote `60/60` or `30/6`),
/// rounded to the cent, so the stored `cost_cents` sum exactly in any tool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tariff {
    /// Charged once per completed call, USD.
    pub connection_fee: f64,
    /// USD per minute for voice, video, conference.
    pub per_minute: [f64; 3],
    /// The first interval billed whole, seconds.
    pub first_seconds: u32,
    /// Each later increment billed whole, seconds.
    pub increment_seconds: u32,
}

impl Tariff {
    /// Seconds billed for a call of `secs`: the first interval whole, then whole increments.
    pub fn billable_seconds(&self, secs: u32) -> u32 {
        if secs <= self.first_seconds {
            self.first_seconds
        } else {
            let rest = secs - self.first_seconds;
            self.first_seconds + rest.div_ceil(self.increment_seconds) * self.increment_seconds
        }
    }

    /// The charge for a completed call of type `type_index` (voice, video, conference) lasting
    /// `secs`, in whole cents.
    pub fn cents(&self, type_index: usize, secs: u32) -> i64 {
        let minutes = f64::from(self.billable_seconds(secs)) / 60.0;
        ((self.connection_fee + minutes * self.per_minute[type_index]) * 100.0).round() as i64
    }
}

/// Whose clock the hour-of-day and weekday weights are read on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeZoneMode {
    /// Each subscriber's, from their area code.
    AreaCode,
    /// Everyone's clock is this IANA zone (whole-hour offsets only).
    Fixed(Tz),
    /// UTC for everyone.
    Utc,
}

impl TimeZoneMode {
    /// The zone every subscriber's clock follows, if one does (`None`: their own zone's).
    pub fn fixed(self) -> Option<Tz> {
        match self {
            TimeZoneMode::AreaCode => None,
            TimeZoneMode::Fixed(tz) => Some(tz),
            TimeZoneMode::Utc => Some(Tz::UTC),
        }
    }

    fn as_string(self) -> String {
        match self {
            TimeZoneMode::AreaCode => "area_code".into(),
            TimeZoneMode::Fixed(tz) => tz.name().into(),
            TimeZoneMode::Utc => "UTC".into(),
        }
    }
}

/// Which phones a run's subscribers hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phones {
    /// Mobile phones on one operator's network: calls carry IMSIs, IMEIs and networks.
    Mobile,
    /// Desk phones on a PBX: no SIM, no handset identity, no network.
    Desk,
}

/// The network a run's calls are recorded on (see [`super::network`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkModel {
    /// Mobile or desk phones.
    pub phones: Phones,
    /// The operator simulated, an index into [`super::network::OPERATORS`].
    pub operator: usize,
}

impl NetworkModel {
    /// What records from before networks existed regenerate with: no identities.
    pub const NONE: NetworkModel = NetworkModel {
        phones: Phones::Desk,
        operator: super::network::DEFAULT_OPERATOR,
    };

    /// The network identities are drawn on, if the phones have any.
    pub fn mobile(&self) -> Option<usize> {
        (self.phones == Phones::Mobile).then_some(self.operator)
    }

    /// As JSON, the form `model.network` takes.
    pub fn to_json(&self) -> Value {
        json!({
            "phones": match self.phones { Phones::Mobile => "mobile", Phones::Desk => "desk" },
            "operator": super::network::OPERATORS[self.operator].code,
        })
    }
}

/// The shape of a run's calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallModel {
    /// The preset it started from (shown on jobs and live runs).
    pub preset: Preset,
    /// Weights of completed, missed, busy, failed.
    pub status: [f64; 4],
    /// Weights of voice, video, conference.
    pub call_type: [f64; 3],
    /// Talk time of completed calls.
    pub duration: DurationLaw,
    /// Call volume by local hour of day, 00–23.
    pub hour_weights: [f64; 24],
    /// Call volume by local day of week, Monday first.
    pub weekday_weights: [f64; 7],
    /// Whose clock the weights are read on.
    pub time_zone: TimeZoneMode,
    /// Tail of the activity law: the top fraction x of subscribers places x^(1/this) of calls.
    pub activity_exponent: f64,
    /// Frequent contacts per subscriber.
    pub contacts: u32,
    /// Share of calls to a frequent contact.
    pub circle_share: f64,
    /// Share of frequent contacts in the subscriber's own area code.
    pub local_contacts: f64,
    /// Hub lines (a call centre's numbers) that take `hub_share` of all calls; 0 for none.
    pub hubs: u32,
    /// Share of calls that go to a hub line.
    pub hub_share: f64,
    /// What completed calls cost.
    pub tariff: Tariff,
    /// The phones and the network they are on.
    pub network: NetworkModel,
}

impl Default for CallModel {
    fn default() -> Self {
        Preset::Mobile.model()
    }
}

impl CallModel {
    /// The model a request's `model` asks for: a preset name, or an object with an optional
    /// `preset` and overrides under `calls`. Errors name the field, under `model`.
    pub fn parse(request: &Value) -> Result<Self, ParamError> {
        parse::model(request).map(|(calls, _)| calls)
    }

    /// A whole model as JSON, the calls part with the metrics part beside it: what a live run's
    /// record keeps.
    pub fn with_metrics_json(&self, metrics: &MetricModel) -> Value {
        let mut v = self.to_json();
        v["metrics"] = metrics.to_json();
        v
    }

    /// The whole model as JSON (every number, not only overrides): what records keep and what
    /// [`CallModel::parse`] reads back to the same model.
    pub fn to_json(&self) -> Value {
        let d = &self.duration;
        let mut duration = json!({
            "median_seconds": d.median_seconds,
            "min_seconds": d.min_seconds,
            "max_seconds": d.max_seconds,
        });
        match d.law {
            Law::Lognormal { sigma } => {
                duration["law"] = json!("lognormal");
                duration["sigma"] = json!(sigma);
            }
            Law::Loglogistic { shape } => {
                duration["law"] = json!("loglogistic");
                duration["shape"] = json!(shape);
            }
        }
        let t = &self.tariff;
        let tariff = json!({
            "connection_fee": t.connection_fee,
            "per_minute": { "voice": t.per_minute[0], "video": t.per_minute[1], "conference": t.per_minute[2] },
            "billing": format!("{}/{}", t.first_seconds, t.increment_seconds),
        });
        let [completed, missed, busy, failed] = self.status;
        let [voice, video, conference] = self.call_type;
        json!({
            "preset": self.preset.as_str(),
            "network": self.network.to_json(),
            "calls": {
                "status": { "completed": completed, "missed": missed, "busy": busy, "failed": failed },
                "call_type": { "voice": voice, "video": video, "conference": conference },
                "duration": duration,
                "hour_weights": self.hour_weights,
                "weekday_weights": self.weekday_weights,
                "time_zone": self.time_zone.as_string(),
                "activity_exponent": self.activity_exponent,
                "contacts": self.contacts,
                "circle_share": self.circle_share,
                "local_contacts": self.local_contacts,
                "hubs": self.hubs,
                "hub_share": self.hub_share,
                "tariff": tariff,
            }
        })
    }

    /// Talk time in whole seconds for `u` uniform in (0, 1) (log-logistic) or a standard normal
    /// `z` (log-normal), clipped.
    pub fn duration_seconds(&self, draw: impl FnOnce(bool) -> f64) -> u32 {
        let d = &self.duration;
        let secs = match d.law {
            Law::Lognormal { sigma } => d.median_seconds * (sigma * draw(true)).exp(),
            Law::Loglogistic { shape } => {
                let u = draw(false).clamp(1e-12, 1.0 - 1e-12);
                d.median_seconds * (u / (1.0 - u)).powf(1.0 / shape)
            }
        };
        secs.round()
            .clamp(f64::from(d.min_seconds), f64::from(d.max_seconds)) as u32
    }
}

/// The mobile preset's numbers, which are also the module constants the defaults are documented by.
fn mobile() -> CallModel {
    CallModel {
        preset: Preset::Mobile,
        status: STATUS_WEIGHTS,
        call_type: CALL_TYPE_WEIGHTS,
        duration: DurationLaw {
            law: Law::Lognormal {
                sigma: DURATION_SIGMA,
            },
            median_seconds: 60.0,
            min_seconds: DURATION_BOUNDS.0,
            max_seconds: DURATION_BOUNDS.1,
        },
        hour_weights: HOUR_WEIGHTS,
        weekday_weights: WEEKDAY_WEIGHTS,
        time_zone: TimeZoneMode::AreaCode,
        activity_exponent: ACTIVITY_EXPONENT,
        contacts: CONTACTS as u32,
        circle_share: CIRCLE_SHARE,
        local_contacts: LOCAL_CONTACTS,
        hubs: 0,
        hub_share: 0.0,
        tariff: Tariff {
            connection_fee: CONNECTION_FEE,
            per_minute: RATES_PER_MINUTE,
            first_seconds: 60,
            increment_seconds: 60,
        },
        network: NetworkModel {
            phones: Phones::Mobile,
            operator: super::network::DEFAULT_OPERATOR,
        },
    }
}

/// Whether every UTC offset `tz` has had since 1970 or will have through 2100 is a whole number of
/// hours (sampled on the 1st and 15th of every month): the start-time tables are hourly.
fn whole_hour_offsets(tz: Tz) -> bool {
    (1970..=2100).all(|year| {
        (1..=12).all(|month| {
            [1, 15].iter().all(|&day| {
                let t = chrono::NaiveDate::from_ymd_opt(year, month, day)
                    .and_then(|d| d.and_hms_opt(12, 0, 0))
                    .map(|t| tz.offset_from_utc_datetime(&t).fix().local_minus_utc());
                t.is_none_or(|secs| secs % 3600 == 0)
            })
        })
    })
}

#[cfg(test)]
mod tests;
