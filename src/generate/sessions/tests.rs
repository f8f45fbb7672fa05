//! Unit tests of the data-session generator: invariants, partial records chaining exactly,
//! records as BSON, and the distributions against the model's tables (each fails when its table
//! is replaced by a uniform draw), with the monthly volume per subscriber near the sourced one.

use super::*;
use crate::generate::CallModel;
use crate::generate::goodness_of_fit::{
    assert_fits, counts, ks_continuous, ks_critical, normal_cdf,
};
use crate::generate::model::TimeZoneMode;
use chrono::{Datelike, TimeZone, Timelike, Utc};
use std::sync::OnceLock;

/// Four whole weeks of 2,000 subscribers on UTC: the hour shares expected are the table's.
fn four_weeks() -> TrafficParams {
    TrafficParams {
        end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        days: 28,
        subscribers: 2_000,
        model: CallModel {
            time_zone: TimeZoneMode::Utc,
            ..CallModel::default()
        },
    }
}

/// The run of the daily count over [`four_weeks`] (168,000 sessions), generated once.
fn run() -> &'static [Session] {
    static RUN: OnceLock<Vec<Session>> = OnceLock::new();
    RUN.get_or_init(|| {
        let n = daily_sessions(&four_weeks());
        (0..u64::from(n)).map(|i| generator().session(i)).collect()
    })
}

/// The generator of [`run`].
fn generator() -> &'static SessionGenerator {
    static G: OnceLock<SessionGenerator> = OnceLock::new();
    G.get_or_init(|| SessionGenerator::new(four_weeks(), 5, daily_sessions(&four_weeks())).unwrap())
}

#[test]
fn sessions_keep_the_invariants_and_desk_phones_have_none() {
    let code = OPERATORS_CODE.with(|c| *c);
    let end = four_weeks().end.timestamp_millis();
    let mut ids = std::collections::HashSet::new();
    let mut last = 0;
    for s in run() {
        assert!(
            s.start_ms >= last && s.start_ms < end,
            "in start order, in the window"
        );
        last = s.start_ms;
        assert!(s.end_ms - s.start_ms >= 1_000 && s.end_ms - s.start_ms <= MAX_SESSION_MS);
        assert!(s.bytes_up >= 1 && s.bytes_down >= 1 && s.bytes_up + s.bytes_down <= MAX_VOLUME);
        assert_eq!(
            (s.imsi.len(), s.imei.len(), s.msisdn.len()),
            (15, 15, 11),
            "{s:?}"
        );
        assert!(s.msisdn.starts_with('1') && s.imsi.starts_with(&code[..3]));
        for cell in [&s.cell_start, &s.cell_end] {
            assert!(
                crate::generate::cells::eci_of(code, cell).is_some(),
                "{cell}"
            );
        }
        assert!(
            ids.insert(s.charging_id),
            "charging ids are unique in a run"
        );
    }
    let desk = TrafficParams {
        model: crate::generate::model::Preset::Enterprise.model(),
        ..four_weeks()
    };
    assert!(SessionGenerator::new(desk, 5, 10).is_none());
}

thread_local! {
    static OPERATORS_CODE: &'static str = crate::generate::network::OPERATORS
        [CallModel::default().network.mobile().unwrap()]
        .code;
}

#[test]
fn partial_records_chain_exactly_into_their_session() {
    let (mut cut, mut by_volume, mut by_time) = (0, 0, 0);
    for s in run() {
        let parts = SessionGenerator::partials(s);
        assert!(!parts.is_empty() && parts.len() <= RECORD_SLOTS as usize);
        let sum = |f: fn(&Partial) -> u64| parts.iter().map(f).sum::<u64>();
        assert_eq!(sum(|p| p.bytes_up), s.bytes_up, "{s:?}");
        assert_eq!(sum(|p| p.bytes_down), s.bytes_down, "{s:?}");
        assert_eq!(parts[0].start_ms, s.start_ms);
        assert_eq!(parts.last().unwrap().end_ms, s.end_ms);
        assert_eq!(parts[0].cell_start, s.cell_start);
        assert_eq!(parts.last().unwrap().cell_end, s.cell_end);
        assert_eq!(parts.last().unwrap().closing, s.closing);
        for w in parts.windows(2) {
            assert_eq!(w[0].end_ms, w[1].start_ms, "contiguous");
            assert_eq!(w[0].cell_end, w[1].cell_start);
        }
        if parts.len() == 1 {
            assert_eq!(
                parts[0].sequence, 0,
                "a whole session has no sequence number"
            );
            continue;
        }
        cut += 1;
        for (j, p) in parts.iter().enumerate() {
            assert_eq!(p.sequence as usize, j + 1);
            assert!(p.end_ms - p.start_ms <= TIME_LIMIT_MS, "{p:?}");
            // A part is cut at the volume limit, so it holds about that much at most.
            assert!(p.bytes_up + p.bytes_down <= VOLUME_LIMIT + 2, "{p:?}");
            if j + 1 < parts.len() {
                match p.closing {
                    Closing::VolumeLimit => by_volume += 1,
                    Closing::TimeLimit => by_time += 1,
                    other => panic!("an inner record closed by {other:?}"),
                }
            }
        }
    }
    assert!(
        cut > 10_000 && by_volume > 1_000 && by_time > 10_000,
        "{cut} {by_volume} {by_time}"
    );
}

#[test]
fn records_are_bson_documents_in_one_id_range() {
    let g = SessionGenerator::new(four_weeks(), 5, 10_000).unwrap();
    let run = crate::generate::RunId::new(1_700_000_000, 9);
    let mut docs = Vec::new();
    for i in 0..500u32 {
        let before = docs.len();
        g.documents(run, i, &mut docs);
        let s = g.session(u64::from(i));
        let parts = SessionGenerator::partials(&s);
        assert_eq!(docs.len() - before, parts.len());
        for (j, (doc, p)) in docs[before..].iter().zip(&parts).enumerate() {
            let d = doc.to_document().unwrap();
            assert_eq!(d.get_i64("charging_id").unwrap(), i64::from(s.charging_id));
            assert_eq!(d.get_i64("bytes_up").unwrap() as u64, p.bytes_up);
            assert_eq!(d.get_i64("bytes_down").unwrap() as u64, p.bytes_down);
            assert_eq!(d.get_str("apn").unwrap(), s.apn.as_str());
            assert_eq!(d.get_i32("cause_code").unwrap(), p.closing.code());
            assert_eq!(
                d.get_i32("record_sequence").ok(),
                (p.sequence > 0).then_some(p.sequence as i32)
            );
            let id = d.get_object_id("_id").unwrap().bytes();
            let n = u32::from_be_bytes(id[8..].try_into().unwrap());
            assert_eq!(n, RECORD_SLOTS * i + j as u32);
        }
    }
}

#[test]
fn apns_radios_and_start_hours_have_the_model_shares() {
    assert_fits(
        "apn",
        &counts(&Apn::ALL, run().iter().map(|s| s.apn)),
        &APN_WEIGHTS,
    );
    assert_fits(
        "rat",
        &counts(&Rat::ALL, run().iter().map(|s| s.rat)),
        &RAT_WEIGHTS,
    );
    let hours = counts(
        &(0..24).collect::<Vec<u32>>(),
        run()
            .iter()
            .map(|s| Utc.timestamp_millis_opt(s.start_ms).unwrap().hour()),
    );
    assert_fits("start hour", &hours, &DATA_HOUR_WEIGHTS);
    let days = counts(
        &(0..7).collect::<Vec<u32>>(),
        run().iter().map(|s| {
            let at = Utc.timestamp_millis_opt(s.start_ms).unwrap();
            at.weekday().num_days_from_monday()
        }),
    );
    assert_fits("start weekday", &days, &DATA_WEEKDAY_WEIGHTS);
}

#[test]
fn lengths_rates_and_directions_follow_each_apns_laws() {
    for apn in Apn::ALL {
        let a = apn as usize;
        let of = || run().iter().filter(move |s| s.apn == apn);
        // Lengths (clamped at both ends, which the CDF knows).
        let mut lengths: Vec<f64> = of()
            .map(|s| (s.end_ms - s.start_ms) as f64 / 1000.0)
            .collect();
        lengths.sort_by(f64::total_cmp);
        let (median, sigma) = DURATIONS_S[a];
        let max = MAX_SESSION_MS as f64 / 1000.0;
        let cdf = |x: f64| {
            if x >= max {
                1.0
            } else if x < 1.0 {
                0.0
            } else {
                normal_cdf((x / median).ln() / sigma)
            }
        };
        let d = ks_continuous(&lengths, cdf);
        assert!(
            d < ks_critical(lengths.len()) + 0.001,
            "{apn:?} lengths: KS {d}"
        );
        // The hourly rate, of sessions picked by their length (independent of the rate) among
        // those too short for the volume clamp to touch.
        let mut rates: Vec<f64> = of()
            .filter(|s| s.end_ms - s.start_ms <= 2 * 3_600_000)
            .map(|s| {
                let usage = generator().usage(s.subscriber);
                (s.bytes_up + s.bytes_down) as f64 * 3.6e6 / (s.end_ms - s.start_ms) as f64 / usage
            })
            .collect();
        rates.sort_by(f64::total_cmp);
        let (median, sigma) = HOURLY_BYTES[a];
        let d = ks_continuous(&rates, |x| normal_cdf((x / median).ln() / sigma));
        assert!(
            d < ks_critical(rates.len()) + 0.002,
            "{apn:?} rates: KS {d}"
        );
        // Downlink over uplink.
        let mut ratios: Vec<f64> = of()
            .filter(|s| s.bytes_up > 1_000 && s.bytes_down > 1_000)
            .map(|s| s.bytes_down as f64 / s.bytes_up as f64)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let (median, _) = DOWN_UP[a];
        let m = ratios[ratios.len() / 2];
        assert!(
            (m / median - 1.0).abs() < 0.05,
            "{apn:?}: median ratio {m}, model {median}"
        );
    }
}

#[test]
fn subscribers_move_the_sourced_volume_a_month() {
    // The model's mean, from two million draws of a session's volume for a subscriber of random
    // usage: a subscriber's day is DAILY_SESSIONS of them.
    let mut rng = rng::stream_rng(77, 0);
    let apns = rng::cumulative(APN_WEIGHTS);
    let n = 2_000_000;
    let sum: f64 = (0..n)
        .map(|_| {
            let apn = Apn::ALL[rng::weighted(&mut rng, &apns)];
            let usage =
                (USAGE_SIGMA * rng::normal(&mut rng) - USAGE_SIGMA * USAGE_SIGMA / 2.0).exp();
            drawn_volume(apn, usage, &mut rng).0 as f64
        })
        .sum();
    let per_day = sum / f64::from(n) * DAILY_SESSIONS;
    assert!(
        (per_day / DAILY_BYTES - 1.0).abs() < 0.04,
        "{per_day} bytes a day, sourced {DAILY_BYTES}"
    );
    // The run: sessions a subscriber a day as sourced, and the bytes near the mean (a loose
    // bound: a sixth of the subscribers move most of them, so 2,000 of them vary).
    let (days, subscribers) = (
        f64::from(four_weeks().days),
        f64::from(four_weeks().subscribers),
    );
    assert!((run().len() as f64 / subscribers / days - DAILY_SESSIONS).abs() < 0.01);
    let bytes: f64 = run()
        .iter()
        .map(|s| (s.bytes_up + s.bytes_down) as f64)
        .sum();
    let per_day = bytes / subscribers / days;
    assert!(
        (per_day / DAILY_BYTES - 1.0).abs() < 0.3,
        "the run: {per_day} bytes a day"
    );
    // Uplink is a small share of the internet's bytes (Ericsson: about 8 %).
    let internet = run().iter().filter(|s| s.apn == Apn::Internet);
    let (up, all) = internet.fold((0.0, 0.0), |(u, a), s| {
        (
            u + s.bytes_up as f64,
            a + (s.bytes_up + s.bytes_down) as f64,
        )
    });
    assert!(
        (0.06..0.11).contains(&(up / all)),
        "uplink share {}",
        up / all
    );
}

#[test]
fn a_sixth_of_the_subscribers_move_most_of_the_bytes() {
    let mut by_subscriber = std::collections::HashMap::<&str, f64>::new();
    for s in run() {
        *by_subscriber.entry(&s.imsi).or_default() += (s.bytes_up + s.bytes_down) as f64;
    }
    let mut totals: Vec<f64> = by_subscriber.into_values().collect();
    totals.sort_by(|a, b| b.total_cmp(a));
    let all: f64 = totals.iter().sum();
    let top = totals.len() * 15 / 100;
    let share = totals[..top].iter().sum::<f64>() / all;
    // Ericsson: in North America 15 % of users generate 80 % of the traffic.
    assert!(
        (0.72..0.88).contains(&share),
        "the top 15 % move {share:.3}"
    );
}

#[test]
fn a_session_too_large_for_the_slots_is_cut_evenly_into_all_of_them() {
    let s = Session {
        end_ms: run()[0].start_ms + 1_999,
        bytes_up: 1_000_000_000,
        bytes_down: 24_000_000_000,
        ..run()[0].clone()
    };
    let parts = SessionGenerator::partials(&s);
    assert_eq!(parts.len(), RECORD_SLOTS as usize);
    assert_eq!(parts.iter().map(|p| p.bytes_up).sum::<u64>(), s.bytes_up);
    assert_eq!(
        parts.iter().map(|p| p.bytes_down).sum::<u64>(),
        s.bytes_down
    );
    assert_eq!(parts.last().unwrap().end_ms, s.end_ms);
    assert!(parts.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
}
