//! Infrastructure metric points: one series per (host, category), each a bounded, mean-reverting
//! random walk around a per-host base level, with a daily cycle and rare spikes.
//!
//! The model, documented for users in the README (numbers per category in [`Category`]'s models):
//! - base level: per series, uniform over the category's base range (e.g. CPU 15–55 %);
//! - level: `base × (1 + daily × cos(2π (t − 14:00 UTC) / 24 h))`, peak at 14:00, low at 02:00;
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

use super::RunId;
use super::bson::DocWriter;
use super::rng::{self, DocRng};

/// What is measured; each category has its own unit and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// CPU utilisation, percent.
    Cpu,
    /// Memory in use, percent of total.
    Memory,
    /// Disk space in use, percent of capacity.
    Disk,
    /// Request latency, milliseconds.
    Latency,
    /// Network throughput, Mbit/s.
    Network,
}

/// How one category behaves: where it sits, how it moves, and where it must stay.
#[derive(Debug, Clone, Copy)]
struct Model {
    unit: &'static str,
    /// Bounds every value stays within (also enforced by the collection validator).
    bounds: (f64, f64),
    /// Lowest reading, above the lower bound: no real host idles at exactly 0 % CPU or answers in
    /// 0 ms. The walk approaches the floor but never reaches it.
    floor: f64,
    /// Range the per-host base level is drawn from.
    base: (f64, f64),
    /// Daily swing as a fraction of the base level (peak at 14:00 UTC).
    daily: f64,
    /// Standard deviation of one step of the walk, in log-odds (see [`PointGenerator`]); for small
    /// steps about the relative change of the reading per step.
    noise: f64,
    /// Mean reversion per step (1 = pure random walk).
    phi: f64,
    /// Chance per point of a spike, and its size as a multiple of the base level.
    spike: (f64, f64),
}

impl Model {
    /// Standard deviation of the walk once stationary: `noise / √(1 − phi²)`.
    fn walk_sd(&self) -> f64 {
        self.noise / (1.0 - self.phi * self.phi).sqrt()
    }
}

impl Category {
    /// Every category, in the order used for series and for the validator.
    pub const ALL: [Category; 5] = [
        Category::Cpu,
        Category::Memory,
        Category::Disk,
        Category::Latency,
        Category::Network,
    ];

    /// The value stored in the `category` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Cpu => "cpu",
            Category::Memory => "memory",
            Category::Disk => "disk",
            Category::Latency => "latency",
            Category::Network => "network",
        }
    }

    /// Parses the stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Parses a list of names into distinct categories in canonical order; on an unknown name,
    /// returns its position and a message naming the choices.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Self>, (usize, String)> {
        let mut parsed = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let name = name.as_ref().trim();
            let c = Self::parse(name).ok_or_else(|| {
                (
                    i,
                    format!(
                        "unknown category {name:?}; expected one of cpu, memory, disk, latency, network"
                    ),
                )
            })?;
            parsed.push(c);
        }
        parsed.sort();
        parsed.dedup();
        Ok(parsed)
    }

    /// The value stored in the `unit` field.
    pub fn unit(self) -> &'static str {
        self.model().unit
    }

    /// Inclusive bounds of `value` for this category.
    pub fn bounds(self) -> (f64, f64) {
        self.model().bounds
    }

    fn model(self) -> Model {
        match self {
            Category::Cpu => Model {
                unit: "percent",
                bounds: (0.0, 100.0),
                floor: 0.5,
                base: (15.0, 55.0),
                daily: 0.45,
                noise: 0.12,
                phi: 0.95,
                spike: (0.002, 1.2),
            },
            Category::Memory => Model {
                unit: "percent",
                bounds: (0.0, 100.0),
                floor: 2.0,
                base: (40.0, 75.0),
                daily: 0.08,
                noise: 0.05,
                phi: 0.99,
                spike: (0.0005, 0.25),
            },
            Category::Disk => Model {
                unit: "percent",
                bounds: (0.0, 100.0),
                floor: 1.0,
                base: (30.0, 80.0),
                daily: 0.005,
                noise: 0.007,
                phi: 0.999,
                spike: (0.0, 0.0),
            },
            Category::Latency => Model {
                unit: "ms",
                bounds: (0.0, 60_000.0),
                floor: 1.0,
                base: (20.0, 80.0),
                daily: 0.30,
                noise: 0.10,
                phi: 0.90,
                spike: (0.003, 8.0),
            },
            Category::Network => Model {
                unit: "Mbit/s",
                bounds: (0.0, 10_000.0),
                floor: 0.1,
                base: (50.0, 400.0),
                daily: 0.60,
                noise: 0.08,
                phi: 0.93,
                spike: (0.002, 2.0),
            },
        }
    }
}

/// What a request may choose about the metrics it generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointParams {
    /// Timestamp of the newest tick.
    pub end: DateTime<Utc>,
    /// Seconds between ticks (≥ 1).
    pub step_seconds: u32,
    /// Categories to generate, each once, in a fixed order.
    pub categories: Vec<Category>,
    /// Number of hosts (`host-01`, `host-02`, …), ≥ 1.
    pub hosts: u32,
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
    step_ms: i64,
    next: u64,
    /// The daily cycle's cosine at one timestamp: every series of a tick shares it.
    cycle: (i64, f64),
}

impl PointGenerator {
    /// A generator positioned at point 0 of the run for `params` and `seed`.
    pub fn new(params: &PointParams, seed: u64) -> Self {
        let mut setup = rng::stream_rng(seed, u64::MAX);
        let mut series = Vec::new();
        for host in 1..=params.hosts.max(1) {
            for &category in &params.categories {
                let model = category.model();
                let base = rng::uniform(&mut setup, model.base.0, model.base.1);
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
            cycle: (i64::MIN, 0.0),
        }
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
            self.cycle = (timestamp_ms, day_phase.cos());
        }
        let level = s.base * (1.0 + m.daily * self.cycle.1);
        let (floor, ceiling) = (m.floor, m.bounds.1);
        // Odds of the level between floor and ceiling, times e^walk, back to a reading.
        let above = (level - floor) * s.walk.exp();
        let mut value = floor + (ceiling - floor) * above / (ceiling - level + above);
        if rng::unit(&mut self.rng) < m.spike.0 {
            value += s.base * m.spike.1 * (0.5 + rng::unit(&mut self.rng));
        }
        Point {
            category: s.category,
            host: s.host,
            value: (value.clamp(floor, ceiling) * 100.0).round() / 100.0,
            timestamp_ms,
        }
    }

    /// The next point of the run as the BSON document that is inserted, with `_id` for `index`.
    #[inline]
    pub fn next_document(&mut self, run: RunId, index: u32) -> bson::RawDocumentBuf {
        let p = self.next_point();
        let mut w = DocWriter::with_capacity(128);
        w.object_id("_id", run.object_id(index));
        w.string("category", p.category.as_str());
        w.string("host", &self.host_names[(p.host - 1) as usize]);
        w.double("value", p.value);
        w.string("unit", p.category.unit());
        w.datetime("timestamp", p.timestamp_ms);
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::stats;
    use chrono::TimeZone;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    fn params(categories: Vec<Category>, hosts: u32) -> PointParams {
        PointParams {
            end: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
            step_seconds: 30,
            categories,
            hosts,
        }
    }

    #[test]
    fn same_seed_same_points() {
        let p = params(Category::ALL.to_vec(), 3);
        let (mut a, mut b) = (PointGenerator::new(&p, 5), PointGenerator::new(&p, 5));
        for _ in 0..1000 {
            assert_eq!(a.next_point(), b.next_point());
        }
        let mut c = PointGenerator::new(&p, 6);
        let mut a = PointGenerator::new(&p, 5);
        assert!((0..20).any(|_| a.next_point() != c.next_point()));
    }

    #[test]
    fn values_stay_in_range_and_series_are_spaced_by_step() {
        let p = params(Category::ALL.to_vec(), 4);
        let mut g = PointGenerator::new(&p, 1);
        let mut last: HashMap<(Category, u32), i64> = HashMap::new();
        for _ in 0..100_000 {
            let pt = g.next_point();
            let (lo, hi) = pt.category.bounds();
            assert!(pt.value >= lo && pt.value <= hi, "{pt:?}");
            if let Some(prev) = last.insert((pt.category, pt.host), pt.timestamp_ms) {
                assert_eq!(prev - pt.timestamp_ms, 30_000, "{pt:?}");
            } else {
                assert_eq!(pt.timestamp_ms, p.end.timestamp_millis());
            }
        }
        assert_eq!(last.len(), 20);
    }

    /// A change here changes every dataset users generated from a seed: make it on purpose only.
    ///
    /// Re-pinned when the walk moved to log-odds between per-category floors and the upper bound
    /// (latency used to sit at a 60 ms clamp) and started from its stationary law.
    #[test]
    fn seed_42_points_are_pinned() {
        let mut g = PointGenerator::new(&params(Category::ALL.to_vec(), 2), 42);
        let values: Vec<f64> = (0..10).map(|_| g.next_point().value).collect();
        assert_eq!(values, PINNED, "seed 42 changed: {values:?}");
    }
    const PINNED: [f64; 10] = [
        20.71, 66.1, 78.69, 59.3, 325.4, 23.51, 61.96, 40.69, 82.06, 245.56,
    ];

    #[test]
    fn only_requested_categories_appear() {
        let p = params(vec![Category::Latency, Category::Disk], 2);
        let mut g = PointGenerator::new(&p, 1);
        for _ in 0..1000 {
            let c = g.next_point().category;
            assert!(matches!(c, Category::Latency | Category::Disk));
        }
    }

    #[test]
    fn series_are_walks_not_independent_noise() {
        // Neighbouring points of a walk are close; independent uniform draws over the range would
        // differ by a third of the range on average.
        let p = params(vec![Category::Cpu], 1);
        let mut g = PointGenerator::new(&p, 3);
        let values: Vec<f64> = (0..10_000).map(|_| g.next_point().value).collect();
        let mean_step =
            values.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (values.len() - 1) as f64;
        assert!(mean_step < 5.0, "mean step {mean_step}");
        let (min, max) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(max - min > 10.0, "series is flat: {min}..{max}");
    }

    /// What the README documents per category, written out here rather than read from the models.
    struct Documented {
        category: Category,
        /// Lowest reading.
        floor: f64,
        /// Range of the per-host base level.
        base: (f64, f64),
        /// The 1st and 99th percentiles of a category's points lie inside this range.
        typical: (f64, f64),
        /// Share of points with a spike, and the spike's size as a multiple of the base level.
        spike: (f64, f64),
        /// Daily swing, as a fraction of the base level.
        daily: f64,
    }

    const DOCUMENTED: [Documented; 5] = [
        Documented {
            category: Category::Cpu,
            floor: 0.5,
            base: (15.0, 55.0),
            typical: (3.0, 92.0),
            spike: (0.002, 1.2),
            daily: 0.45,
        },
        Documented {
            category: Category::Memory,
            floor: 2.0,
            base: (40.0, 75.0),
            typical: (20.0, 92.0),
            spike: (0.0005, 0.25),
            daily: 0.08,
        },
        Documented {
            category: Category::Disk,
            floor: 1.0,
            base: (30.0, 80.0),
            typical: (22.0, 86.0),
            spike: (0.0, 0.0),
            daily: 0.005,
        },
        Documented {
            category: Category::Latency,
            floor: 1.0,
            base: (20.0, 80.0),
            typical: (8.0, 180.0),
            spike: (0.003, 8.0),
            daily: 0.30,
        },
        Documented {
            category: Category::Network,
            floor: 0.1,
            base: (50.0, 400.0),
            typical: (12.0, 1050.0),
            spike: (0.002, 2.0),
            daily: 0.60,
        },
    ];

    /// A week of 2-minute ticks for 40 hosts and every category, ending at midnight UTC (so every
    /// hour of the day is sampled equally): 201,600 points per category, a million in all.
    struct Run {
        /// One entry per series: its category, its drawn base level and its values, tick by tick.
        series: Vec<(Category, f64, Vec<f64>)>,
        /// Timestamp of each tick.
        ticks: Vec<i64>,
    }

    fn week() -> &'static Run {
        static RUN: OnceLock<Run> = OnceLock::new();
        RUN.get_or_init(|| {
            let p = PointParams {
                end: Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap(),
                step_seconds: 120,
                categories: Category::ALL.to_vec(),
                hosts: 40,
            };
            let mut g = PointGenerator::new(&p, 2);
            let mut series: Vec<(Category, f64, Vec<f64>)> = g
                .series
                .iter()
                .map(|s| (s.category, s.base, Vec::new()))
                .collect();
            let mut ticks = Vec::new();
            for _ in 0..7 * 24 * 30 {
                for s in &mut series {
                    let pt = g.next_point();
                    assert_eq!(pt.category, s.0);
                    s.2.push(pt.value);
                    if ticks.last() != Some(&pt.timestamp_ms) {
                        ticks.push(pt.timestamp_ms);
                    }
                }
            }
            Run { series, ticks }
        })
    }

    fn series_of(c: Category) -> impl Iterator<Item = (f64, &'static [f64])> {
        week()
            .series
            .iter()
            .filter(move |s| s.0 == c)
            .map(|s| (s.1, s.2.as_slice()))
    }

    #[test]
    fn models_keep_every_level_strictly_between_floor_and_bound() {
        // The walk moves the odds of the level between floor and upper bound, so the level itself
        // must never reach either.
        for d in &DOCUMENTED {
            let m = d.category.model();
            assert_eq!(m.floor, d.floor, "{:?}", d.category);
            assert!(m.floor > m.bounds.0, "{:?}", d.category);
            assert!(m.base.0 * (1.0 - m.daily) > m.floor, "{:?}", d.category);
            assert!(m.base.1 * (1.0 + m.daily) < m.bounds.1, "{:?}", d.category);
        }
    }

    #[test]
    fn no_category_piles_up_at_a_bound_or_anywhere_else() {
        // At most 1 % of a category's points at its floor or bounds, and none of its values (they
        // have 2 decimals) held by more than 1 % of them: a clamp anywhere shows up as such a pile.
        for d in &DOCUMENTED {
            let (lo, hi) = d.category.bounds();
            let mut counts: HashMap<u64, usize> = HashMap::new();
            let (mut at, mut n) = (0usize, 0usize);
            for (_, values) in series_of(d.category) {
                n += values.len();
                for &v in values {
                    if v <= d.floor || v <= lo || v >= hi {
                        at += 1;
                    }
                    *counts.entry(v.to_bits()).or_default() += 1;
                }
            }
            let share = at as f64 / n as f64;
            assert!(
                share <= 0.01,
                "{:?}: {share} of points at a bound",
                d.category
            );
            let (value, most) = counts.iter().max_by_key(|e| *e.1).unwrap();
            assert!(
                *most as f64 <= 0.01 * n as f64,
                "{:?}: {most} of {n} points are {}",
                d.category,
                f64::from_bits(*value)
            );
        }
    }

    #[test]
    fn percentiles_stay_in_documented_ranges() {
        for d in &DOCUMENTED {
            let mut all: Vec<f64> = series_of(d.category)
                .flat_map(|(_, v)| v.iter().copied())
                .collect();
            all.sort_by(f64::total_cmp);
            let (p1, p99) = (stats::quantile(&all, 0.01), stats::quantile(&all, 0.99));
            assert!(
                p1 >= d.typical.0 && p99 <= d.typical.1,
                "{:?}: 1st–99th percentile {p1}–{p99}, documented {:?}",
                d.category,
                d.typical
            );
        }
    }

    #[test]
    fn series_average_their_base_levels() {
        for d in &DOCUMENTED {
            let mut ratios = Vec::new();
            for (base, values) in series_of(d.category) {
                assert!(
                    (d.base.0..d.base.1).contains(&base),
                    "{:?} base {base}",
                    d.category
                );
                // Over whole days the daily cycle averages out; the slow walks (disk moves over
                // days) keep a week's mean within 20 % of the documented range.
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                assert!(
                    mean >= 0.8 * d.base.0 && mean <= 1.2 * d.base.1,
                    "{:?}: series mean {mean}, base range {:?}",
                    d.category,
                    d.base
                );
                ratios.push(mean / base);
            }
            // Across hosts, series centre on their own base (the walk's median is the level; the
            // multiplicative walk and the spikes lift the mean a few percent).
            let centre = ratios.iter().sum::<f64>() / ratios.len() as f64;
            assert!(
                (0.95..1.10).contains(&centre),
                "{:?}: series average {centre} × their base",
                d.category
            );
        }
    }

    #[test]
    fn daily_cycle_peaks_at_14_utc() {
        let ticks = &week().ticks;
        for d in &DOCUMENTED {
            let mut sums = [0.0; 24];
            for (_, values) in series_of(d.category) {
                for (v, t) in values.iter().zip(ticks) {
                    sums[(t.rem_euclid(86_400_000) / 3_600_000) as usize] += v;
                }
            }
            let peak = (0..24)
                .max_by(|&a, &b| sums[a].total_cmp(&sums[b]))
                .unwrap();
            let trough = (0..24)
                .min_by(|&a, &b| sums[a].total_cmp(&sums[b]))
                .unwrap();
            let swing = (sums[peak] - sums[trough]) / (sums[peak] + sums[trough]);
            if d.daily < 0.05 {
                // Disk: documented as almost flat.
                assert!(swing < 0.02, "{:?}: swing {swing}", d.category);
                continue;
            }
            assert!(
                (12..=16).contains(&peak),
                "{:?} peaks at {peak}:00",
                d.category
            );
            assert!(
                (0..=4).contains(&trough),
                "{:?} lowest at {trough}:00",
                d.category
            );
            if d.daily >= 0.2 {
                // The hourly means swing by the documented fraction (percent categories a little
                // less, squeezed near the bounds).
                assert!(
                    swing > 0.7 * d.daily && swing < 1.15 * d.daily,
                    "{:?}: swing {swing}, documented {}",
                    d.category,
                    d.daily
                );
            }
        }
    }

    #[test]
    fn spikes_occur_at_documented_rates() {
        // A spike lifts one point by 0.5–1.5 × size × base over its neighbours, far beyond a
        // step of the walk; count points standing above both neighbours by a quarter of the size.
        for d in &DOCUMENTED {
            let (mut spikes, mut n) = (0u64, 0u64);
            for (base, values) in series_of(d.category) {
                let threshold = 0.25 * d.spike.1.max(0.4) * base;
                n += values.len() as u64 - 2;
                spikes += values
                    .windows(3)
                    .filter(|w| w[1] - w[0].max(w[2]) > threshold)
                    .count() as u64;
            }
            let expected = n as f64 * d.spike.0;
            // Binomial, two-sided p = 0.001; a couple of steep walk steps may pass for spikes.
            let allowed = 3.29 * (expected * (1.0 - d.spike.0)).sqrt() + 2.0;
            assert!(
                (spikes as f64 - expected).abs() <= allowed,
                "{:?}: {spikes} spikes in {n} points, documented {expected:.0} ± {allowed:.0}",
                d.category
            );
        }
    }
}
