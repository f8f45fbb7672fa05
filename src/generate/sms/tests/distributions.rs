//! The distributions against the model's tables: chi-square for shares, Kolmogorov–Smirnov for
//! delays; each fails when its table is replaced by a uniform draw.

use super::*;
use crate::generate::goodness_of_fit::{
    assert_fits, counts, ks_continuous, ks_critical, normal_cdf, quantile,
};
use chrono::{Datelike, TimeZone, Timelike, Utc};

#[test]
fn kinds_and_statuses_have_the_model_shares() {
    let firsts = || run().iter().map(|t| &t.message);
    assert_fits(
        "kind",
        &counts(&SmsKind::ALL, firsts().map(|m| m.kind)),
        &KIND_WEIGHTS,
    );
    let person = counts(
        &SmsStatus::ALL,
        firsts().filter(|m| !m.kind.is_a2p()).map(|m| m.status),
    );
    assert_fits("a person's status", &person, &PERSON_STATUS_WEIGHTS);
    let a2p = counts(
        &SmsStatus::ALL,
        firsts().filter(|m| m.kind.is_a2p()).map(|m| m.status),
    );
    assert_fits("an application's status", &a2p, &A2P_STATUS_WEIGHTS);
}

#[test]
fn texting_follows_its_hour_profile_and_peaks_later_than_calling() {
    let hours = counts(
        &(0..24).collect::<Vec<u32>>(),
        run().iter().map(|t| {
            Utc.timestamp_millis_opt(t.message.submit_ms)
                .unwrap()
                .hour()
        }),
    );
    assert_fits("hour of day", &hours, &SMS_HOUR_WEIGHTS);
    // Every weekday occurs four times in the window, at every hour.
    let days = counts(
        &(0..7).collect::<Vec<u32>>(),
        run().iter().map(|t| {
            let at = Utc.timestamp_millis_opt(t.message.submit_ms).unwrap();
            at.weekday().num_days_from_monday()
        }),
    );
    assert_fits("weekday", &days, &SMS_WEEKDAY_WEIGHTS);
    let peak = |w: &[f64]| (0..w.len()).max_by(|&a, &b| w[a].total_cmp(&w[b])).unwrap();
    let calls = crate::generate::defaults::HOUR_WEIGHTS;
    assert!(peak(&SMS_HOUR_WEIGHTS) >= peak(&calls) + 4);
    // The evening (18:00–24:00) carries a larger share of texts than of calls.
    let evening = |w: &[f64]| w[18..].iter().sum::<f64>() / w.iter().sum::<f64>();
    assert!(evening(&SMS_HOUR_WEIGHTS) > evening(&calls) + 0.05);
}

/// The delay's distribution: the mixture of the immediate, retried and switched-off shares.
fn delay_cdf(s: f64) -> f64 {
    if s <= 0.0 {
        return 0.0;
    }
    let ln = |median: f64, sigma: f64| normal_cdf((s / median).ln() / sigma);
    let (lo, hi) = RETRY_S;
    let retried = ((s / lo).ln() / (hi / lo).ln()).clamp(0.0, 1.0);
    let off = if s >= (VALIDITY_S - 1) as f64 {
        1.0
    } else {
        ln(OFF_MEDIAN_S, OFF_SIGMA)
    };
    (1.0 - RETRY_SHARE - OFF_SHARE) * ln(DELAY_MEDIAN_S, DELAY_SIGMA)
        + RETRY_SHARE * retried
        + OFF_SHARE * off
}

#[test]
fn delivery_delays_are_seconds_for_most_with_a_long_tail() {
    let mut delays: Vec<f64> = run()
        .iter()
        .flat_map(|t| t.messages())
        .filter_map(|m| m.delivery_ms.map(|d| (d - m.submit_ms) as f64 / 1000.0))
        .collect();
    delays.sort_by(f64::total_cmp);
    let d = ks_continuous(&delays, delay_cdf);
    assert!(d < ks_critical(delays.len()), "KS {d}");
    assert!(quantile(&delays, 0.5) < 5.0 && quantile(&delays, 0.99) > 3_600.0);
}

#[test]
fn segments_follow_each_kinds_length_and_alphabet() {
    let sample_of = |kind: SmsKind| {
        run()
            .iter()
            .flat_map(|t| t.messages())
            .filter(move |m| m.kind == kind)
    };
    let mut tested = 0;
    for kind in SmsKind::ALL {
        let (median, sigma) = LENGTHS[kind as usize];
        let ucs2 = UCS2_SHARES[kind as usize];
        let below = |chars: f64| normal_cdf((chars / median).ln() / sigma);
        // P(segments ≤ k) for each alphabet, then mixed.
        let at_most = |k: u32| {
            let of = |single: f64, each: f64| {
                if k == 1 {
                    below(single)
                } else {
                    below(each * f64::from(k))
                }
            };
            (1.0 - ucs2) * of(160.0, 153.0) + ucs2 * of(70.0, 67.0)
        };
        let weights = [at_most(1), at_most(2) - at_most(1), 1.0 - at_most(2)];
        let observed = counts(&[1, 2, 3], sample_of(kind).map(|m| m.segments.min(3)));
        // Bins expected to hold fewer than 5 are merged into their neighbour.
        let n = observed.iter().sum::<u64>() as f64;
        let (mut o, mut w) = (vec![], vec![]);
        for (x, e) in observed.iter().zip(weights) {
            match o.last_mut() {
                Some(last) if e * n < 5.0 => {
                    *last += x;
                    *w.last_mut().unwrap() += e;
                }
                _ => {
                    o.push(*x);
                    w.push(e);
                }
            }
        }
        if o.len() > 1 {
            assert_fits(&format!("segments of {}", kind.as_str()), &o, &w);
            tested += 1;
        } else {
            // Codes are short: texts past one segment are too rare to test as a share.
            let long = sample_of(kind).filter(|m| m.segments > 1).count();
            assert!(
                long <= 10,
                "{long} {} texts past one segment",
                kind.as_str()
            );
        }
    }
    assert_eq!(tested, 3, "every kind but codes has its segments tested");
    // A person's text is longer than one segment about a fifth of the time (a sixth in GSM-7,
    // more in UCS-2).
    let person = run()
        .iter()
        .flat_map(|t| t.messages())
        .filter(|m| m.kind == SmsKind::Person);
    let (long, all) = person.fold((0, 0), |(l, a), m| (l + (m.segments > 1) as u32, a + 1));
    let share = f64::from(long) / f64::from(all);
    assert!((0.12..0.25).contains(&share), "{share}");
}

#[test]
fn a_share_of_delivered_person_texts_is_answered_minutes_later() {
    let answerable: Vec<&Thread> = run()
        .iter()
        .filter(|t| t.message.kind == SmsKind::Person && t.message.delivery_ms.is_some())
        .collect();
    let answered = answerable.iter().filter(|t| t.reply.is_some()).count() as f64;
    let n = answerable.len() as f64;
    let sd = (n * REPLY_SHARE * (1.0 - REPLY_SHARE)).sqrt();
    assert!(
        (answered - n * REPLY_SHARE).abs() < 4.0 * sd,
        "{answered} of {n}"
    );
    assert!(
        run()
            .iter()
            .all(|t| t.reply.is_none() || t.message.kind == SmsKind::Person)
    );
    let mut delays: Vec<f64> = answerable
        .iter()
        .filter_map(|t| {
            let r = t.reply.as_ref()?;
            Some((r.submit_ms - t.message.delivery_ms?) as f64 / 1000.0)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let cdf = |s: f64| normal_cdf((s / REPLY_MEDIAN_S).ln() / REPLY_SIGMA);
    let d = ks_continuous(&delays, cdf);
    assert!(d < ks_critical(delays.len()), "KS {d}");
}
