//! Invariants of every run: the same seed gives the same records whatever the order they are
//! made in, start times fill the window in order, every record keeps its rules, every number is a
//! valid NANP number.

use super::*;
use crate::generate::zones::MS_PER_HOUR;
use fake::Fake;
use fake::faker::number::raw::NumberWithFormat;
use fake::locales::EN;

/// NANP rules spelled out independently of the generator: `+1`, then `NXX NXX XXXX` with N
/// in 2–9, and neither the area code nor the exchange of the reserved N11 form.
fn valid_nanp(n: &str) -> bool {
    let Some(digits) = n.strip_prefix("+1") else {
        return false;
    };
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let area: u32 = digits[..3].parse().unwrap();
    let exchange: u32 = digits[3..6].parse().unwrap();
    [area, exchange]
        .iter()
        .all(|&code| code >= 200 && code % 100 != 11)
}

#[test]
fn same_seed_same_records_and_documents() {
    let g = |seed| CallGenerator::new(four_weeks(), seed, 100_000);
    let (a, b) = (g(9), g(9));
    let run = RunId::new(1, 2);
    for i in [0u32, 1, 17, 99_999] {
        assert_eq!(a.record(i.into()), b.record(i.into()));
        assert_eq!(a.document(run, i), b.document(run, i));
    }
    assert_ne!(a.record(0), g(10).record(0));
}

#[test]
fn records_do_not_depend_on_production_order() {
    let count = 10_000u64;
    let g = CallGenerator::new(four_weeks(), 11, count as u32);
    let forward: Vec<CallRecord> = (0..count).map(|i| g.record(i)).collect();
    // Backwards, and in a scrambled order (7919 is prime, so i × 7919 mod count visits every
    // index once), from a second generator as another batch or thread would build it.
    let other = CallGenerator::new(four_weeks(), 11, count as u32);
    for i in (0..count).rev() {
        assert_eq!(other.record(i), forward[i as usize]);
    }
    for k in 0..count {
        let i = k * 7919 % count;
        assert_eq!(other.record(i), forward[i as usize]);
    }
}

#[test]
fn start_times_are_in_order_and_fill_the_window() {
    let (start, end) = window_ms(four_weeks());
    let calls = run();
    for pair in calls.windows(2) {
        assert!(pair[0].start_ms <= pair[1].start_ms, "{pair:?}");
    }
    assert!(calls[0].start_ms >= start && calls[0].start_ms < start + MS_PER_HOUR);
    let last = calls[calls.len() - 1].start_ms;
    assert!(last < end && last >= end - MS_PER_HOUR, "{last} vs {end}");
}

#[test]
fn every_record_keeps_the_invariants() {
    let (start, end) = window_ms(four_weeks());
    for r in run() {
        assert_ne!(r.caller, r.callee);
        assert!(uuid::Uuid::parse_str(&r.call_id).unwrap().get_version_num() == 4);
        assert!((start..end).contains(&r.start_ms));
        assert!(r.end_ms >= r.start_ms);
        match r.status {
            CallStatus::Completed => {
                let d = r.duration.expect("completed call has a duration");
                assert!((1..=7200).contains(&d));
                assert_eq!(r.end_ms - r.start_ms, i64::from(d) * 1000);
                assert_eq!(r.cost, generator().cost(r.call_type, d), "{r:?}");
            }
            CallStatus::Missed => assert!((15_000..45_000).contains(&(r.end_ms - r.start_ms))),
            CallStatus::Busy => assert!((500..3_000).contains(&(r.end_ms - r.start_ms))),
            CallStatus::Failed => assert!((100..8_000).contains(&(r.end_ms - r.start_ms))),
        }
        if r.status != CallStatus::Completed {
            assert_eq!(r.duration, None);
            assert_eq!(r.cost, 0.0);
        }
    }
}

#[test]
fn callers_come_from_a_population_with_heavy_tailed_activity() {
    // 120,000 calls among 10,000 subscribers (the old generator: a new number per call).
    let mut per_caller: std::collections::HashMap<&str, u64> = Default::default();
    for r in run() {
        *per_caller.entry(r.caller.as_str()).or_default() += 1;
    }
    assert!(per_caller.len() <= 10_000, "{} callers", per_caller.len());
    let mut counts: Vec<u64> = per_caller.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top_1_percent: u64 = counts.iter().take(100).sum();
    // The top 1 % place 10 % of calls (the activity law); at least 9 % here.
    assert!(top_1_percent as f64 > 0.09 * N as f64, "{top_1_percent}");
    // Most (caller, callee) pairs talk more than once.
    let mut pairs: std::collections::HashMap<(&str, &str), u32> = Default::default();
    for r in run() {
        *pairs.entry((&r.caller, &r.callee)).or_default() += 1;
    }
    let repeated: u32 = pairs.values().filter(|n| **n > 1).sum();
    assert!(f64::from(repeated) > 0.5 * f64::from(N), "{repeated}");
}

#[test]
fn every_number_is_a_valid_nanp_number() {
    for r in run() {
        assert!(valid_nanp(&r.caller), "{r:?}");
        assert!(valid_nanp(&r.callee), "{r:?}");
    }
}

#[test]
fn the_former_number_format_fails_the_nanp_check() {
    // What the generator used before: area codes and exchanges starting with 1, and N11.
    let mut rng = rng::stream_rng(1, 0);
    let bad = (0..1000)
        .map(|_| NumberWithFormat(EN, "+1^##^######").fake_with_rng::<String, _>(&mut rng))
        .filter(|n| !valid_nanp(n))
        .count();
    assert!(bad > 100, "{bad} of 1000 invalid");
}

#[test]
fn a_run_of_one_and_calls_past_the_count_stay_in_the_window() {
    let (start, end) = window_ms(four_weeks());
    let g = CallGenerator::new(four_weeks(), 5, 1);
    for i in [0, 1, 1000] {
        assert!((start..end).contains(&g.record(i).start_ms));
    }
    let empty = CallGenerator::new(four_weeks(), 5, 0);
    assert!((start..end).contains(&empty.record(0).start_ms));
}
