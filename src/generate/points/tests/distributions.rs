//! Distributions over a week of 40 hosts against what docs/data-model.md documents per category:
//! levels, percentiles, base levels, the daily cycle, the call-driven categories and spikes.

use super::invariants::params;
use super::*;
use crate::generate::goodness_of_fit as stats;
use chrono::TimeZone;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What docs/data-model.md documents per category, written out here rather than read from the models.
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
        base: (2.0, 60.0), // 20 % × the host's load factor, within 2–60 %
        typical: (1.0, 92.0),
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
        base: (5.0, 2000.0), // 150 Mbit/s × the host's load factor
        typical: (2.0, 2600.0),
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
            ..params(Category::ALL.to_vec(), 40)
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
                (d.base.0..=d.base.1).contains(&base),
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

/// CPU and network follow the calls' volume: their mean over hosts correlates with the call
/// load, and weekends are quieter.
#[test]
fn cpu_and_network_follow_the_call_volume() {
    let ticks = &week().ticks;
    for c in [Category::Cpu, Category::Network] {
        let sum_at = |i: usize| series_of(c).map(|(_, v)| v[i]).sum::<f64>();
        let mean: Vec<f64> = (0..ticks.len()).map(sum_at).collect();
        let load: Vec<f64> = ticks.iter().map(|&t| super::super::call_load(t)).collect();
        let n = mean.len() as f64;
        let (ma, mb) = (mean.iter().sum::<f64>() / n, load.iter().sum::<f64>() / n);
        let dot = |x: &[f64], mx: f64, y: &[f64], my: f64| -> f64 {
            x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum()
        };
        let r = dot(&mean, ma, &load, mb)
            / (dot(&mean, ma, &mean, ma) * dot(&load, mb, &load, mb)).sqrt();
        assert!(r > 0.9, "{c:?}: correlation with the call load {r}");
        let day = |t: i64| ((t / 86_400_000 + 3).rem_euclid(7)) as usize;
        let (mut we, mut wd) = (Vec::new(), Vec::new());
        for (m, &t) in mean.iter().zip(ticks) {
            if day(t) >= 5 {
                we.push(*m)
            } else {
                wd.push(*m)
            }
        }
        let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (we, wd) = (avg(&we), avg(&wd));
        assert!(we < 0.9 * wd, "{c:?}: weekend {we} vs weekday {wd}");
    }
}

#[test]
fn daily_cycle_peaks_at_14_utc() {
    let ticks = &week().ticks;
    // CPU and network follow the call volume instead (see the test above).
    for d in DOCUMENTED
        .iter()
        .filter(|d| !matches!(d.category, Category::Cpu | Category::Network))
    {
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
    // A spike lifts a point 0.5–1.5 × size × base: count those a quarter-size above both sides.
    for d in &DOCUMENTED {
        let (mut spikes, mut n) = (0u64, 0u64);
        // (Near the floor the walk is as large as a small host's spike: skip those series.)
        for (base, values) in series_of(d.category).filter(|(b, _)| *b >= 20.0 * d.floor) {
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
