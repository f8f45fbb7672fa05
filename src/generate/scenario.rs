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
//! - `cell_outage`: the sites of area code `area_code`'s city within `radius_m` of its centre go
//!   dark over the window (ground truth: [`Scenario::dark_sites`]). A mobile call that would start
//!   in a dark cell either fails (share [`CELL_OUTAGE_FAIL_SHARE`]: status `failed`, no duration,
//!   cost 0, its start cell kept as the one it last heard, `outage_effect: "failed"`) or starts in
//!   the nearest cell outside the dark disc (`outage_effect: "reselected"`); both labelled. Every
//!   host's latency × [`CELL_OUTAGE_LATENCY_FACTOR`] and network throughput ×
//!   [`CELL_OUTAGE_NETWORK_FACTOR`] over the window (the core reroutes and loses traffic),
//!   labelled.
//!
//! Without a scenario no draw is made and no field is written: the documents are exactly those of
//! a run without one.

use chrono::{DateTime, Utc};

use super::bounds::ParamError;
use super::cells::{self, Eci};

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
/// Share of a cell outage's calls that fail; the others start in a cell outside it
/// (illustrative: how many phones find another cell depends on the coverage overlap).
pub const CELL_OUTAGE_FAIL_SHARE: f64 = 0.5;
/// Latency multiplier of every host during a cell outage.
pub const CELL_OUTAGE_LATENCY_FACTOR: f64 = 3.0;
/// Network throughput multiplier of every host during a cell outage.
pub const CELL_OUTAGE_NETWORK_FACTOR: f64 = 0.6;
/// Default city of a cell outage: New York's area code.
pub const DEFAULT_AREA_CODE: u16 = 212;
/// Default radius of a cell outage, metres (about 80 urban micro sites).
pub const DEFAULT_RADIUS_M: f64 = 1_000.0;
/// Bounds of a cell outage's radius, metres: one urban micro site to the whole rural ring.
pub const RADIUS_BOUNDS_M: (f64, f64) = (200.0, 30_000.0);

/// Which scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioKind {
    /// Call volume × factor.
    Surge,
    /// One host's latency spikes and its calls fail.
    Outage,
    /// Many short calls from one caller to many callees.
    FraudBurst,
    /// Neighbouring cell sites go dark.
    CellOutage,
}

impl ScenarioKind {
    /// The stored label and the request's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::Surge => "surge",
            ScenarioKind::Outage => "outage",
            ScenarioKind::FraudBurst => "fraud_burst",
            ScenarioKind::CellOutage => "cell_outage",
        }
    }

    /// Every kind, for the validator and error messages.
    pub const ALL: [ScenarioKind; 4] = [
        ScenarioKind::Surge,
        ScenarioKind::Outage,
        ScenarioKind::FraudBurst,
        ScenarioKind::CellOutage,
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
    /// A cell outage's area code, and its city (an index into [`cells::cities`]).
    pub area_code: u16,
    city: u16,
    /// A cell outage's radius around the city's centre, metres.
    pub radius_m: f64,
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
                    format!(
                        "unknown scenario {kind:?}; expected surge, outage, fraud_burst or \
                         cell_outage"
                    ),
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
            area_code: DEFAULT_AREA_CODE,
            city: cells::city_of(DEFAULT_AREA_CODE).unwrap_or(0) as u16,
            radius_m: DEFAULT_RADIUS_M,
        })
    }

    /// The scenario with a cell outage's place: `area_code` (one of the zone table's, default
    /// [`DEFAULT_AREA_CODE`]) and `radius_m` (within [`RADIUS_BOUNDS_M`], default
    /// [`DEFAULT_RADIUS_M`]); held to their bounds whatever the kind.
    pub fn at(mut self, area_code: Option<i64>, radius_m: Option<f64>) -> Result<Self, ParamError> {
        let code = area_code.unwrap_or(i64::from(DEFAULT_AREA_CODE));
        let city = u16::try_from(code)
            .ok()
            .and_then(cells::city_of)
            .ok_or_else(|| {
                ParamError::new(
                    "scenario.area_code",
                    format!("{code} is not an area code of the zone table"),
                )
            })?;
        let r = radius_m.unwrap_or(DEFAULT_RADIUS_M);
        let (lo, hi) = RADIUS_BOUNDS_M;
        if !(lo..=hi).contains(&r) {
            return Err(ParamError::new(
                "scenario.radius_m",
                format!("must be between {lo} and {hi}, got {r}"),
            ));
        }
        self.area_code = code as u16;
        self.city = city as u16;
        self.radius_m = r;
        Ok(self)
    }

    /// Whether cell `eci` is dark at `t_ms`: a cell outage's, in its window.
    pub fn dark(&self, eci: Eci, t_ms: i64) -> bool {
        self.kind == ScenarioKind::CellOutage && self.covers(t_ms) && self.site_dark(eci)
    }

    /// Whether the site of `eci` is in the outage's disc (whenever it is). Only sites in service
    /// count: a grid's corner sites beyond its ring's radius never serve anyone.
    fn site_dark(&self, eci: Eci) -> bool {
        let Some((city, ring, x, y)) = cells::site_place(eci) else {
            return false;
        };
        let d = x.hypot(y);
        let serving = cells::RINGS.iter().position(|&r| d < r).unwrap_or(2);
        city == self.city && d <= self.radius_m && ring == serving
    }

    /// The eNodeB ids of the sites a cell outage darkens, ascending: its ground truth.
    pub fn dark_sites(&self) -> Vec<u32> {
        if self.kind != ScenarioKind::CellOutage {
            return Vec::new();
        }
        (0..cells::SITES_PER_CITY as u16)
            .map(|site| cells::eci_in(self.city, site << 2))
            .filter(|&eci| self.site_dark(eci))
            .map(|eci| eci >> 8)
            .collect()
    }

    /// The cell a phone in dark cell `eci` starts in instead: the one serving the point just
    /// outside the dark disc, on the line from the centre through its site.
    pub fn reselect(&self, eci: Eci) -> Eci {
        let Some((city, ring, x, y)) = cells::site_place(eci) else {
            return eci;
        };
        let d = x.hypot(y);
        let (ux, uy) = if d > 0.0 { (x / d, y / d) } else { (1.0, 0.0) };
        let out = self.radius_m + cells::ISD[ring] / 2.0;
        let spot = cells::Spot {
            city,
            x: ux * out,
            y: uy * out,
        };
        let mut next = cells::cell_at(spot);
        // A ring's grid may still put the point's nearest site inside: step out until it is not.
        let mut step = 1.0;
        while self.site_dark(next) && step < 64.0 {
            let far = out + step * cells::ISD[ring];
            next = cells::cell_at(cells::Spot {
                city,
                x: ux * far,
                y: uy * far,
            });
            step += 1.0;
        }
        next
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
    /// A cell outage's area code (default 212).
    pub area_code: Option<i64>,
    /// A cell outage's radius, metres (default 1,000).
    pub radius_m: Option<f64>,
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
        )?
        .at(self.area_code, self.radius_m)
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
            ScenarioKind::CellOutage => {
                d.insert("area_code", i64::from(self.area_code));
                d.insert("radius_m", self.radius_m);
                // The ground truth, beside the request: which sites went dark.
                let sites: Vec<i64> = self.dark_sites().into_iter().map(i64::from).collect();
                d.insert("sites", sites)
            }
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
        .ok()?
        .at(int("area_code"), d.get_f64("radius_m").ok())
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
