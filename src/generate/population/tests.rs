//! The population's shape: heavy-tailed activity, exact zone and area-code splits, contacts, seeds.

use std::collections::HashMap;

use super::*;
use crate::generate::zones::NANP;

/// `n` (caller, callee) pairs, callers drawn from zones by population.
fn calls(p: &Population, n: u64) -> Vec<(u64, u64)> {
    let cum = rng::cumulative(p.zone_shares());
    (0..n)
        .map(|i| {
            let mut rng = rng::stream_rng(7, i);
            let a = p.caller_in(rng::weighted(&mut rng, &cum), &mut rng);
            (a, p.callee(a, &mut rng))
        })
        .collect()
}

#[test]
fn a_few_subscribers_place_many_calls() {
    let p = Population::new(1, 10_000, &CallModel::default());
    let calls = calls(&p, 400_000);
    let mut per_caller: HashMap<u64, u64> = HashMap::new();
    for (a, _) in &calls {
        *per_caller.entry(*a).or_default() += 1;
    }
    let mut counts: Vec<u64> = per_caller.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top = |share: f64| -> f64 {
        let k = (10_000.0 * share) as usize;
        counts.iter().take(k).sum::<u64>() as f64 / calls.len() as f64
    };
    // x^(1/2) within each zone: 1 % → 10 %, 10 % → 31.6 %, 50 % → 70.7 % (ranking by the
    // observed counts adds a little).
    assert!((top(0.01) - 0.10).abs() < 0.012, "top 1 %: {}", top(0.01));
    assert!((top(0.10) - 0.316).abs() < 0.015, "top 10 %: {}", top(0.10));
    assert!((top(0.50) - 0.707).abs() < 0.015, "top 50 %: {}", top(0.50));
    assert!(per_caller.len() <= 10_000 && per_caller.len() > 9_000);
    // Busy subscribers are spread over each zone's area codes, not heaped on the first one.
    let eastern: Vec<u64> = (0..4_700).collect();
    let first_code = eastern.iter().filter(|&&k| p.area_code(k) == 201).count();
    let busy_first = calls.iter().filter(|(a, _)| p.area_code(*a) == 201).count() as f64
        / calls.iter().filter(|(a, _)| p.zone_of(*a) == 0).count() as f64;
    let expected = first_code as f64 / 4_700.0;
    assert!(
        (busy_first / expected - 1.0).abs() < 0.3,
        "{busy_first} vs {expected}"
    );
}

#[test]
fn zones_and_area_codes_split_the_population_exactly() {
    let p = Population::new(5, 10_000, &CallModel::default());
    // 10,000 × the shares are whole numbers.
    for (share, zone) in p.zone_shares().iter().zip(&NANP) {
        assert!(
            (share * 10_000.0 - zone.share * 100.0).abs() < 1e-9,
            "{share}"
        );
    }
    for k in (0..10_000).step_by(97) {
        let code = p.area_code(k);
        assert!(NANP[p.zone_of(k)].area_codes.contains(&code), "{k}: {code}");
        assert_eq!(p.number(k)[2..5], code.to_string());
    }
    // Two subscribers: Eastern and Central, the largest zones.
    let two = Population::new(5, 2, &CallModel::default());
    assert_eq!(two.zone_shares()[..2], [0.5, 0.5]);
}

#[test]
fn most_calls_go_to_a_few_contacts() {
    let p = Population::new(2, 10_000, &CallModel::default());
    let calls = calls(&p, 100_000);
    let circle = calls
        .iter()
        .filter(|(a, b)| (0..CONTACTS).any(|j| p.contact(*a, j) == *b))
        .count() as f64
        / calls.len() as f64;
    // 80 % by construction, plus the rare uniform pick that lands in the circle.
    assert!((circle - 0.8).abs() < 0.01, "{circle}");
    // The first contact gets the largest share of a caller's circle calls: 1 / H(8).
    let first =
        calls.iter().filter(|(a, b)| p.contact(*a, 0) == *b).count() as f64 / calls.len() as f64;
    let h8: f64 = (1..=8).map(|j| 1.0 / j as f64).sum();
    assert!((first - 0.8 / h8).abs() < 0.01, "{first}");
    // Pairs repeat: the same two people talk again and again.
    let mut pairs: HashMap<(u64, u64), u32> = HashMap::new();
    for c in &calls {
        *pairs.entry(*c).or_default() += 1;
    }
    let repeated: u32 = pairs.values().filter(|n| **n > 1).sum();
    assert!(
        f64::from(repeated) / calls.len() as f64 > 0.5,
        "{repeated} calls on repeated pairs"
    );
    assert!(calls.iter().all(|(a, b)| a != b && *b < 10_000));
}

#[test]
fn subscribers_are_fixed_by_the_seed() {
    let (p, q) = (
        Population::new(3, 50, &CallModel::default()),
        Population::new(4, 50, &CallModel::default()),
    );
    assert_eq!(
        p.number(17),
        Population::new(3, 50, &CallModel::default()).number(17)
    );
    assert_ne!(p.number(17), q.number(17));
    assert_eq!(
        p.contact(5, 3),
        Population::new(3, 50, &CallModel::default()).contact(5, 3)
    );
    let numbers: std::collections::HashSet<String> = (0..50).map(|k| p.number(k)).collect();
    assert_eq!(numbers.len(), 50);
    // The smallest population still has someone to call.
    let two = Population::new(9, 2, &CallModel::default());
    assert!(
        calls(&two, 1000)
            .iter()
            .all(|(a, b)| a != b && *a < 2 && *b < 2)
    );
}
