//! Invariants of every run: the same seed gives the same points, values stay in range, series are
//! spaced by the step and move as walks, and seed 42's first points are pinned.

use super::*;
use chrono::TimeZone;
use std::collections::HashMap;

pub(super) fn params(categories: Vec<Category>, hosts: u32) -> PointParams {
    PointParams {
        end: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
        step_seconds: 30,
        categories,
        hosts,
        scenario: None,
        model: MetricModel::default(),
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
/// (latency sat at a 60 ms clamp) and started from its stationary law, when CPU and network
/// began to follow the call volume, when that volume moved to local time, and when hosts
/// took skewed shares of the calls (CPU and network only, each time).
#[test]
fn seed_42_points_are_pinned() {
    let mut g = PointGenerator::new(&params(Category::ALL.to_vec(), 2), 42);
    let values: Vec<f64> = (0..10).map(|_| g.next_point().value).collect();
    assert_eq!(values, PINNED, "seed 42 changed: {values:?}");
}
const PINNED: [f64; 10] = [
    3.63, 66.1, 78.69, 59.3, 49.26, 8.37, 61.96, 40.69, 82.06, 74.15,
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
