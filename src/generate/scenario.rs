//! Labelled scenarios: events worth spotting, with ground truth. Every document a scenario produces
//! or alters carries `anomaly: "<kind>"`, so a detection demo can score itself.
//!
//! The model, documented for users in docs/live.md (Scenarios):
//! - `surge`: call volume × `factor` over the window (start times are drawn from the raised volume
//!   curve, so the count per minute really rises); a call in the window is labelled with
//!   probability (factor − 1) / factor, the share of the window's calls the surge added. Metric
//!   points of every host in the window: CPU and network scale with √factor (clamped to their
//!   bounds), labelled.
//! - `outage`: host `host` fails over the window: its latency readings are multiplied by
//!   [`OUTAGE_LATENCY_FACTOR`] (clamped) and all its points are labelled; calls in the window are
//!   routed to it with probability 1 / `hosts` and those fail (status `failed`, no duration, cost 0),
//!   labelled.
//! - `fraud_burst`: over the window, a share [`FRAUD_SHARE`] of the calls are placed by one
//!   subscriber (fixed by the seed) to subscribers drawn uniformly from the whole population
//!   (not contacts), completed voice calls of 1–20 s, labelled.
//!
//! Without a scenario no draw is made and no field is written: the documents are exactly those of
//! a run without one.

use chrono::{DateTime, Utc};

use super::bounds::ParamError;

/// Latency multiplier of a host in an outage.
pub const OUTAGE_LATENCY_FACTOR: f64 = 12.0;
/// Share of a fraud burst window's calls placed by the fraudster.
pub const FRAUD_SHARE: f64 = 0.6;
/// Default and largest window, minutes.
pub const DEFAULT_MINUTES: u32 = 30;
/// Largest window, minutes (a week).
pub const MAX_MINUTES: u32 = 10_080;
/// Default surge factor.
pub const DEFAULT_FACTOR: f64 = 5.0;

/// Which scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioKind {
    /// Call volume × factor.
    Surge,
    /// One host's latency spikes and its calls fail.
    Outage,
    /// Many short calls from one caller to many callees.
    FraudBurst,
}

impl ScenarioKind {
    /// The stored label and the request's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::Surge => "surge",
            ScenarioKind::Outage => "outage",
            ScenarioKind::FraudBurst => "fraud_burst",
        }
    }

    /// Every kind, for the validator and error messages.
    pub const ALL: [ScenarioKind; 3] = [
        ScenarioKind::Surge,
        ScenarioKind::Outage,
        ScenarioKind::FraudBurst,
    ];
}

/// A scenario over a window of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scenario {
    /// Which.
    pub kind: ScenarioKind,
    /// First millisecond of the window.
    pub start_ms: i64,
    /// End of the window (exclusive), ms.
    pub end_ms: i64,
    /// Surge volume multiplier (≥ 1; 1 for the other kinds).
    pub factor: f64,
    /// The failing host of an outage (1-based).
    pub host: u32,
    /// Hosts calls are spread over (an outage's calls go to its host with probability 1 / hosts).
    pub hosts: u32,
}

impl Scenario {
    /// A scenario from a request's fields: `kind`, `start` (default `default_start`), `minutes`
    /// (default 30), `factor` (surge, default 5, 1.5–100), `host` (outage, default 1, at most
    /// `hosts`).
    pub fn new(
        kind: &str,
        start: Option<DateTime<Utc>>,
        minutes: Option<i64>,
        factor: Option<f64>,
        host: Option<i64>,
        hosts: u32,
        default_start: DateTime<Utc>,
    ) -> Result<Self, ParamError> {
        let kind = ScenarioKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| {
                ParamError::new(
                    "scenario.kind",
                    format!("unknown scenario {kind:?}; expected surge, outage or fraud_burst"),
                )
            })?;
        let minutes = super::bounds::bounded(
            "scenario.minutes",
            minutes.unwrap_or(i64::from(DEFAULT_MINUTES)),
            1,
            i64::from(MAX_MINUTES),
        )?;
        // Fields another kind ignores are still held to their bounds.
        let f = factor.unwrap_or(DEFAULT_FACTOR);
        if !(1.5..=100.0).contains(&f) {
            return Err(ParamError::new(
                "scenario.factor",
                format!("must be between 1.5 and 100, got {f}"),
            ));
        }
        let factor = if kind == ScenarioKind::Surge { f } else { 1.0 };
        let hosts = hosts.max(1);
        let h = super::bounds::bounded(
            "scenario.host",
            host.unwrap_or(1),
            1,
            i64::from(super::bounds::MAX_HOSTS),
        )?;
        // Only an outage has a host, one of the run's.
        let host = match kind {
            ScenarioKind::Outage => {
                super::bounds::bounded("scenario.host", h, 1, i64::from(hosts))? as u32
            }
            _ => 1,
        };
        let start_ms = start.unwrap_or(default_start).timestamp_millis();
        Ok(Self {
            kind,
            start_ms,
            end_ms: start_ms + minutes * 60_000,
            factor,
            host,
            hosts,
        })
    }

    /// Whether `t_ms` falls in the window.
    pub fn covers(&self, t_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&t_ms)
    }

    /// The label written on the documents it produces.
    pub fn label(&self) -> &'static str {
        self.kind.as_str()
    }

    /// The window's length in minutes.
    pub fn minutes(&self) -> i64 {
        (self.end_ms - self.start_ms) / 60_000
    }
}

/// A scenario as a request (and a job record) states it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    /// `surge`, `outage` or `fraud_burst`.
    pub kind: String,
    /// Start of the window; default: the middle of a backfill's window, a minute into a live run.
    pub start: Option<DateTime<Utc>>,
    /// Length of the window, minutes (default 30).
    pub minutes: Option<i64>,
    /// Surge volume multiplier (default 5).
    pub factor: Option<f64>,
    /// The failing host of an outage (default 1).
    pub host: Option<i64>,
}

impl ScenarioRequest {
    /// The scenario over `hosts` hosts, starting at `default_start` unless the request says.
    pub fn parse(&self, hosts: u32, default_start: DateTime<Utc>) -> Result<Scenario, ParamError> {
        Scenario::new(
            &self.kind,
            self.start,
            self.minutes,
            self.factor,
            self.host,
            hosts,
            default_start,
        )
    }
}

impl Scenario {
    /// The scenario as a request would state it again (kept in job and live run records).
    pub fn to_doc(&self) -> bson::Document {
        let start = DateTime::from_timestamp_millis(self.start_ms).unwrap_or_default();
        let mut d = bson::doc! {
            "kind": self.label(),
            "start": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "minutes": self.minutes(),
        };
        match self.kind {
            ScenarioKind::Surge => d.insert("factor", self.factor),
            ScenarioKind::Outage => d.insert("host", i64::from(self.host)),
            ScenarioKind::FraudBurst => None,
        };
        d
    }

    /// The inverse of [`Scenario::to_doc`], over `hosts` hosts.
    pub fn from_doc(d: &bson::Document, hosts: u32) -> Option<Self> {
        let int = |k: &str| d.get_i32(k).map(i64::from).or_else(|_| d.get_i64(k)).ok();
        let start = DateTime::parse_from_rfc3339(d.get_str("start").ok()?).ok()?;
        Scenario::new(
            d.get_str("kind").ok()?,
            Some(start.with_timezone(&Utc)),
            int("minutes"),
            d.get_f64("factor").ok(),
            int("host"),
            hosts,
            start.with_timezone(&Utc),
        )
        .ok()
    }
}

impl ScenarioRequest {
    /// A scenario stated as JSON, like the API's `scenario` (the command line's `--scenario`).
    pub fn from_json(text: &str) -> Result<Self, ParamError> {
        serde_json::from_str(text).map_err(|e| ParamError::new("scenario", e.to_string()))
    }
}

#[cfg(test)]
mod tests;
