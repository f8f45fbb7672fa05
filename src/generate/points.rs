//! Infrastructure metric points: one series per (host, category), each a bounded, mean-reverting
//! random walk around a per-host base level, with a daily cycle and rare spikes.
//!
//! The model, documented for users in docs/data-model.md (numbers per category in [`Category`]'s models):
//! - base level: per series, uniform over the category's base range (e.g. memory 40–75 %); for
//!   CPU and network, which the calls drive, a typical level × the host's load factor (see
//!   [`super::hosts`]: a few hosts busy, most lightly loaded) × a ±50 % spread, clamped;
//! - level: `base × (1 + daily × cycle(t))`. For memory, disk and latency the cycle is
//!   `cos(2π (t − 14:00 UTC) / 24 h)`, peak at 14:00, low at 02:00. CPU and network follow the
//!   calls a host serves: its share of the call volume, whose shape is the
//!   calls' own (the zones' `HOUR_WEIGHTS[local hour] × WEEKDAY_WEIGHTS[local weekday]` at their
//!   shares, on standard time, interpolated between hour midpoints), so their cycle is
//!   `volume(t) / weekly mean volume − 1`: busy in North American business hours, quiet at
//!   night and at weekends, averaging to the base level over a week;
//! - walk: AR(1) `w ← phi × w + noise × N(0, 1)` in log-odds, started from its stationary law
//!   (sd `noise / √(1 − phi²)`), moving the odds of the reading between the category's floor `f`
//!   and upper bound `c`: `(v − f) / (c − v) = e^w × (level − f) / (c − level)`. The median reading
//!   is the level; readings approach but never reach the floor or the bound; for latency and
//!   network, whose bound is far away, this is a multiplicative (log-normal) walk;
//! - spikes: with a small chance per point, `base × size × U(0.5, 1.5)` is added, clamped to the
//!   bound;
//! - values are rounded to 2 decimals and always lie in `[floor, upper bound]` ⊂ the bounds the
//!   collection validator enforces.
//!
//! Points are laid out tick by tick: tick 0 is at `end`, tick `t` at `end - t × step`, and every tick
//! has one point per series (hosts × categories, in that order), so a dashboard sees every host report
//! every metric at every step. The walk of a series is sequential, so a run's points are produced in
//! order by one [`PointGenerator`]; the result depends only on (parameters, seed), never on how the
//! points are later batched.

use chrono::{DateTime, Utc};

use super::bson::DocWriter;
use super::rng::{self, DocRng};
use super::scenario::{
    CELL_OUTAGE_LATENCY_FACTOR, CELL_OUTAGE_NETWORK_FACTOR, OUTAGE_LATENCY_FACTOR, Scenario,
    ScenarioKind,
};
use super::zones::call_load;
use super::{RunId, Tally};
pub use category::Category;
use category::Model;
pub use shape::{CategoryShape, MetricModel};

mod category;
mod shape;

/// What a request may choose about the metrics it generates.
#[derive(Debug, Clone, PartialEq)]
pub struct PointParams {
    /// Timestamp of the newest tick.
    pub end: DateTime<Utc>,
    /// Seconds between ticks (≥ 1).
    pub step_seconds: u32,
    /// Categories to generate, each once, in a fixed order.
    pub categories: Vec<Category>,
    /// Number of hosts (`host-01`, `host-02`, …), ≥ 1.
    pub hosts: u32,
    /// A labelled scenario over part of the series, if any.
    pub scenario: Option<Scenario>,
    /// Base ranges, daily swings, spike rates and the hosts' skew.
    pub model: MetricModel,
}

/// One generated point, before it is written as BSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// What is measured.
    pub category: Category,
    /// Host tag, `host-NN`.
    pub host: u32,
    /// The reading, within the category's bounds.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The scenario that altered the reading, if any.
    pub anomaly: Option<&'static str>,
}

struct Series {
    category: Category,
    host: u32,
    base: f64,
    /// The walk, in log-odds: how far the reading's odds sit from the level's.
    walk: f64,
    model: Model,
}

/// Produces the points of one run in order; holds the state of every series' walk (the model is
/// described in the module documentation).
pub struct PointGenerator {
    rng: DocRng,
    series: Vec<Series>,
    host_names: Vec<String>,
    end_ms: i64,
    /// Milliseconds from one tick to the next, backwards in time (negative for a live run).
    step_ms: i64,
    next: u64,
    /// The cycles at one timestamp (daily cosine, call load), shared by every series of a tick.
    cycle: (i64, f64, f64),
    /// The calls come at a flat rate (a flat live run): no call-driven cycle.
    flat_load: bool,
    scenario: Option<Scenario>,
}

impl PointGenerator {
    /// A generator positioned at point 0 of the run for `params` and `seed`.
    pub fn new(params: &PointParams, seed: u64) -> Self {
        let mut setup = rng::stream_rng(seed, u64::MAX);
        let mut series = Vec::new();
        let load = super::hosts::loads(params.hosts.max(1), seed, params.model.host_skew);
        for host in 1..=params.hosts.max(1) {
            for &category in &params.categories {
                let shape = params.model.shape(category);
                let mut model = category.model();
                model.daily = shape.daily;
                model.spike.0 = shape.spike_rate;
                let (lo, hi) = shape.base;
                // Load-driven categories: the host's share of the calls sets its level, spread
                // ±50 % by the draw; the others draw it from the base range.
                let base = match shape.typical {
                    Some(typical) => {
                        let spread = rng::uniform(&mut setup, model.base.0, model.base.1);
                        (typical * load[host as usize - 1] * spread / model.base_mid())
                            .clamp(lo, hi)
                    }
                    None => rng::uniform(&mut setup, lo, hi),
                };
                let walk = model.walk_sd() * rng::normal(&mut setup);
                series.push(Series {
                    category,
                    host,
                    base,
                    walk,
                    model,
                });
            }
        }
        Self {
            rng: rng::stream_rng(seed, u64::MAX - 1),
            series,
            host_names: (1..=params.hosts.max(1))
                .map(|h| format!("host-{h:02}"))
                .collect(),
            end_ms: params.end.timestamp_millis(),
            step_ms: i64::from(params.step_seconds.max(1)) * 1000,
            next: 0,
            cycle: (i64::MIN, 0.0, 0.0),
            flat_load: false,
            scenario: params.scenario,
        }
    }

    /// A generator of a live run's points: `params.end` is the first tick's time and tick `t` is
    /// at `end + t × step`, forward in time; otherwise the same walk as a backfill's. CPU and
    /// network follow the calls the run writes: the hour-of-day curve when `calls_follow_curve`
    /// (a shaped run, or one writing no calls), flat at the base level for a flat-rate run.
    pub fn live(params: &PointParams, seed: u64, calls_follow_curve: bool) -> Self {
        let mut g = Self::new(params, seed);
        g.step_ms = -g.step_ms;
        g.flat_load = !calls_follow_curve;
        g
    }

    /// Points per tick: one per host and category.
    pub fn series(&self) -> u64 {
        self.series.len() as u64
    }

    /// Index of the point [`PointGenerator::next_point`] produces next.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next point of the run.
    pub fn next_point(&mut self) -> Point {
        let n = self.series.len() as u64;
        let tick = (self.next / n) as i64;
        let s = &mut self.series[(self.next % n) as usize];
        self.next += 1;

        let timestamp_ms = self.end_ms - tick * self.step_ms;
        let m = &s.model;
        s.walk = m.phi * s.walk + m.noise * rng::normal(&mut self.rng);
        if self.cycle.0 != timestamp_ms {
            let day_phase = (timestamp_ms.rem_euclid(86_400_000) as f64 / 86_400_000.0
                - 14.0 / 24.0)
                * std::f64::consts::TAU;
            let load = if self.flat_load {
                0.0
            } else {
                call_load(timestamp_ms)
            };
            self.cycle = (timestamp_ms, day_phase.cos(), load);
        }
        let cycle = match s.category {
            Category::Cpu | Category::Network => self.cycle.2,
            _ => self.cycle.1,
        };
        // Never at the bounds of the odds below, however busy the hour.
        let level = (s.base * (1.0 + m.daily * cycle)).clamp(m.floor * 1.01, m.bounds.1 * 0.99);
        let (floor, ceiling) = (m.floor, m.bounds.1);
        // Odds of the level between floor and ceiling, times e^walk, back to a reading.
        let above = (level - floor) * s.walk.exp();
        let mut value = floor + (ceiling - floor) * above / (ceiling - level + above);
        if rng::unit(&mut self.rng) < m.spike.0 {
            value += s.base * m.spike.1 * (0.5 + rng::unit(&mut self.rng));
        }
        let mut anomaly = None;
        // A scenario alters the reading, never the walk: the series goes on as before after it.
        if let Some(sc) = self.scenario.filter(|sc| sc.covers(timestamp_ms)) {
            match (sc.kind, s.category) {
                (ScenarioKind::Outage, c) if s.host == sc.host => {
                    if c == Category::Latency {
                        value *= OUTAGE_LATENCY_FACTOR;
                    }
                    anomaly = Some(sc.label());
                }
                (ScenarioKind::Surge, Category::Cpu | Category::Network) => {
                    value *= sc.factor.sqrt();
                    anomaly = Some(sc.label());
                }
                (ScenarioKind::CellOutage, Category::Latency) => {
                    value *= CELL_OUTAGE_LATENCY_FACTOR;
                    anomaly = Some(sc.label());
                }
                (ScenarioKind::CellOutage, Category::Network) => {
                    value *= CELL_OUTAGE_NETWORK_FACTOR;
                    anomaly = Some(sc.label());
                }
                _ => {}
            }
        }
        Point {
            category: s.category,
            host: s.host,
            value: (value.clamp(floor, ceiling) * 100.0).round() / 100.0,
            timestamp_ms,
            anomaly,
        }
    }

    /// The next point of the run as the BSON document that is inserted, with `_id` for `index`.
    #[inline]
    pub fn next_document(&mut self, run: RunId, index: u32) -> bson::RawDocumentBuf {
        self.next_tallied_document(run, index).0
    }

    /// [`next_document`](Self::next_document) with its figures for the rollups.
    #[inline]
    pub fn next_tallied_document(
        &mut self,
        run: RunId,
        index: u32,
    ) -> (bson::RawDocumentBuf, Tally<'_>) {
        self.next_tallied_document_in(run, index, Vec::new())
    }

    /// [`next_tallied_document`](Self::next_tallied_document) written into `buf`, a spent
    /// document's buffer.
    #[inline]
    pub fn next_tallied_document_in(
        &mut self,
        run: RunId,
        index: u32,
        buf: Vec<u8>,
    ) -> (bson::RawDocumentBuf, Tally<'_>) {
        let p = self.next_point();
        let host = &self.host_names[(p.host - 1) as usize];
        let mut w = DocWriter::reusing(buf, 128);
        w.object_id("_id", run.object_id(index));
        w.string("category", p.category.as_str());
        w.string("host", host);
        w.double("value", p.value);
        w.string("unit", p.category.unit());
        w.datetime("timestamp", p.timestamp_ms);
        if let Some(label) = p.anomaly {
            w.string("anomaly", label);
        }
        let tally = Tally {
            time_ms: p.timestamp_ms,
            a: p.category.as_str(),
            b: host,
            measure: Some(p.value),
            cents: 0,
            radio: None,
        };
        (w.finish(), tally)
    }
}

#[cfg(test)]
mod tests;
