//! Geography on the local clock: subscribers and calls split over the zones by population, local
//! hours and weekdays follow the profile in every zone, contacts share the caller's area code.

use super::*;
use crate::generate::goodness_of_fit as stats;
use crate::generate::zones::NANP;
use chrono::{Datelike, TimeZone, Timelike};

/// The zone (index into [`NANP`]) of a number, read from its area code.
fn zone_of(number: &str) -> usize {
    let code: u16 = number[2..5].parse().unwrap();
    NANP.iter()
        .position(|z| z.area_codes.contains(&code))
        .unwrap_or_else(|| panic!("{number}: area code in no zone"))
}

/// A start time on the caller's local clock.
fn local(r: &CallRecord) -> chrono::DateTime<chrono_tz::Tz> {
    let tz = NANP[zone_of(&r.caller)].tz;
    Utc.timestamp_millis_opt(r.start_ms)
        .unwrap()
        .with_timezone(&tz)
}

#[test]
fn subscribers_live_in_zones_by_population_and_exchanges_are_even() {
    // Counted over distinct numbers: subscribers call again and again, so a number's share of
    // calls says nothing about where subscribers live.
    let numbers: std::collections::HashSet<&String> =
        run().iter().flat_map(|r| [&r.caller, &r.callee]).collect();
    assert!(numbers.len() > 9_000, "{}", numbers.len());
    let (mut zones, mut exchange) = ([0u64; 7], [0u64; 8]);
    for n in numbers {
        zones[zone_of(n)] += 1;
        exchange[usize::from(n.as_bytes()[5] - b'2')] += 1;
    }
    let shares: Vec<f64> = NANP.iter().map(|z| z.share).collect();
    stats::assert_fits("zones of subscribers", &zones, &shares);
    // Each leading digit 2–9 heads 99 valid exchanges (100 less its N11).
    stats::assert_fits("exchange leading digit", &exchange, &[1.0; 8]);
}

#[test]
fn calls_come_from_each_zone_in_proportion_to_its_people() {
    // Over whole weeks every zone's local profile sums to the same volume.
    let mut zones = [0u64; 7];
    for r in run() {
        zones[zone_of(&r.caller)] += 1;
    }
    let shares: Vec<f64> = NANP.iter().map(|z| z.share).collect();
    stats::assert_fits("zones of callers", &zones, &shares);
}

#[test]
fn local_hours_follow_the_profile_in_every_zone() {
    for (z, zone) in NANP.iter().enumerate() {
        let calls: Vec<_> = run().iter().filter(|r| zone_of(&r.caller) == z).collect();
        let mut hours = [0u64; 24];
        let mut week = [0u64; 168];
        for r in &calls {
            let t = local(r);
            hours[t.hour() as usize] += 1;
            week[t.weekday().num_days_from_monday() as usize * 24 + t.hour() as usize] += 1;
        }
        if calls.len() < 2_000 {
            // Alaska and Hawaii: too few calls for a test per hour.
            continue;
        }
        stats::assert_fits(&format!("{}: local hour", zone.tz), &hours, &HOUR_WEIGHTS);
        let busiest = (0..24).max_by_key(|&h| hours[h]).unwrap();
        assert!((9..17).contains(&busiest), "{}: busiest {busiest}", zone.tz);
        if calls.len() >= 30_000 {
            let weights: Vec<f64> = (0..168)
                .map(|k| WEEKDAY_WEIGHTS[k / 24] * HOUR_WEIGHTS[k % 24])
                .collect();
            stats::assert_fits(&format!("{}: local hour of week", zone.tz), &week, &weights);
        }
    }
}

#[test]
fn local_weekdays_follow_the_weekday_table() {
    let mut counts = [0u64; 7];
    for r in run() {
        counts[local(r).weekday().num_days_from_monday() as usize] += 1;
    }
    stats::assert_fits("local weekday", &counts, &WEEKDAY_WEIGHTS);
}

#[test]
fn most_contacts_share_the_callers_area_code() {
    let same = run()
        .iter()
        .filter(|r| r.caller[..5] == r.callee[..5])
        .count() as f64
        / f64::from(N);
    // 80 % of calls go to the circle, 70 % of which is local: 56 %, plus the rare random
    // callee who happens to share the area code.
    assert!((same - 0.56).abs() < 0.02, "{same}");
}
