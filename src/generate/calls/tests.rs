//! Unit tests of the generator: invariants, distributions against the documented tables, and
//! pinned seed outputs.

use super::*;
use crate::generate::RunId;

mod checks {
    use super::*;
    use crate::generate::goodness_of_fit as stats;
    use crate::generate::params::DEFAULT_SUBSCRIBERS;
    use crate::generate::zones::{MS_PER_HOUR, NANP};
    use chrono::{Datelike, TimeZone, Timelike};
    use fake::Fake;
    use fake::faker::number::raw::NumberWithFormat;
    use fake::locales::EN;
    use std::sync::OnceLock;

    /// Four whole weeks ending at midnight UTC, all in summer time: every local hour of the week
    /// occurs four times in every zone, so the expected local hour-of-day and weekday shares are
    /// the weight tables themselves.
    pub(super) fn four_weeks() -> CallParams {
        CallParams {
            end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            days: 28,
            subscribers: DEFAULT_SUBSCRIBERS,
            scenario: None,
            model: CallModel::default(),
        }
    }

    /// Calls in the shared run the distribution tests read.
    const N: u32 = 120_000;

    /// One run of [`N`] calls over [`four_weeks`], generated once for all tests that read it.
    fn run() -> &'static [CallRecord] {
        static RUN: OnceLock<Vec<CallRecord>> = OnceLock::new();
        RUN.get_or_init(|| {
            let g = CallGenerator::new(four_weeks(), 7, N);
            (0..u64::from(N)).map(|i| g.record(i)).collect()
        })
    }

    fn window_ms(p: CallParams) -> (i64, i64) {
        let end = p.end.timestamp_millis();
        (end - i64::from(p.days) * MS_PER_DAY, end)
    }

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

    #[test]
    fn status_and_type_shares_follow_their_tables() {
        let mut status = [0u64; 4];
        let mut types = [0u64; 3];
        for r in run() {
            status[CallStatus::ALL.iter().position(|s| *s == r.status).unwrap()] += 1;
            types[CallType::ALL
                .iter()
                .position(|t| *t == r.call_type)
                .unwrap()] += 1;
        }
        stats::assert_fits("status", &status, &[0.70, 0.20, 0.04, 0.06]);
        stats::assert_fits("call type", &types, &[0.70, 0.22, 0.08]);
    }

    #[test]
    fn completed_durations_follow_the_clipped_log_normal() {
        // Documented: log-normal with μ = ln 60, σ = 1.6, rounded to whole seconds, clipped to
        // 1–7200 s. P(D ≤ d) = Φ((ln(d + ½) − μ) / σ) below the top clip (rounding puts every draw
        // under d + ½ at or below d, and the bottom clip adds the mass under 1½ to d = 1).
        let durations: Vec<u32> = run().iter().filter_map(|r| r.duration).collect();
        assert!(durations.len() > 80_000, "{}", durations.len());
        let (mu, sigma) = (60f64.ln(), 1.6);
        let cdf = |d: u32| {
            if d >= 7200 {
                1.0
            } else {
                stats::normal_cdf(((f64::from(d) + 0.5).ln() - mu) / sigma)
            }
        };
        let d = stats::ks_discrete(&durations, 1, 7200, cdf);
        let critical = stats::ks_critical(durations.len());
        assert!(d < critical, "KS D {d} ≥ {critical}");
    }

    #[test]
    fn durations_meet_ofcoms_three_figures() {
        // Ofcom, Mobile Matters 2019: 60 % of calls under 90 s, over 80 % under 5 minutes, mean
        // call length 3 min 15 s to 6 min 51 s by city.
        let durations: Vec<u32> = run().iter().filter_map(|r| r.duration).collect();
        let n = durations.len() as f64;
        let under = |s: u32| durations.iter().filter(|d| **d < s).count() as f64 / n;
        let mean = durations.iter().map(|d| f64::from(*d)).sum::<f64>() / n;
        assert!((under(90) - 0.60).abs() < 0.02, "under 90 s: {}", under(90));
        assert!(under(300) > 0.80, "under 5 min: {}", under(300));
        assert!((195.0..=411.0).contains(&mean), "mean {mean} s");
    }

    #[test]
    fn the_status_mix_is_within_published_ranges() {
        // Completed 55–80 % of attempts, unanswered 12–35 %, busy 3–6 %, failed 3–7.4 %.
        let share =
            |s: CallStatus| run().iter().filter(|r| r.status == s).count() as f64 / f64::from(N);
        assert!((0.55..=0.80).contains(&share(CallStatus::Completed)));
        assert!((0.12..=0.35).contains(&share(CallStatus::Missed)));
        assert!((0.03..=0.06).contains(&share(CallStatus::Busy)));
        assert!((0.03..=0.074).contains(&share(CallStatus::Failed)));
    }

    /// A generator of the default (mobile) model, for its tariff.
    fn generator() -> CallGenerator {
        CallGenerator::new(four_weeks(), 1, 1)
    }

    #[test]
    fn start_times_invert_the_call_volume_exactly() {
        // A window that starts and ends mid-hour (and mid-week) and spans the switch to summer
        // time (8 March 2026). The cumulative volume F is rebuilt here hour by hour from
        // chrono-tz's local clocks, independently of the generator's tables; call i of n must
        // start where F lies in [i/n, (i+1)/n]. 10,000 subscribers split exactly by the shares.
        let end = Utc.with_ymd_and_hms(2026, 3, 9, 17, 23, 45).unwrap()
            + chrono::Duration::milliseconds(678);
        let params = CallParams {
            end,
            days: 3,
            subscribers: DEFAULT_SUBSCRIBERS,
            scenario: None,
            model: CallModel::default(),
        };
        let (start, end) = window_ms(params);
        let first_hour = start.div_euclid(MS_PER_HOUR) * MS_PER_HOUR;
        let intensity = crate::generate::zones::reference_volume;
        // volume[h] = volume from `start` to the start of clock hour h (counted from first_hour).
        let hours = ((end - first_hour) / MS_PER_HOUR + 2) as usize;
        let mut volume = vec![0.0; hours + 1];
        for h in 0..hours {
            let lo = (first_hour + h as i64 * MS_PER_HOUR).max(start);
            let hi = (first_hour + (h as i64 + 1) * MS_PER_HOUR).min(end);
            let len = (hi - lo).max(0) as f64;
            volume[h + 1] = volume[h] + len * intensity(first_hour + h as i64 * MS_PER_HOUR);
        }
        let total = volume[((end - first_hour) / MS_PER_HOUR + 1) as usize];
        let f = |t: i64| {
            let h = ((t - first_hour) / MS_PER_HOUR) as usize;
            let lo = (first_hour + h as i64 * MS_PER_HOUR).max(start);
            (volume[h] + (t - lo) as f64 * intensity(first_hour + h as i64 * MS_PER_HOUR)) / total
        };
        let n = 20_000u32;
        let g = CallGenerator::new(params, 3, n);
        // A millisecond moves F by far less than this.
        let slack = 1e-7;
        for i in 0..n {
            let t = g.record(u64::from(i)).start_ms;
            assert!((start..end).contains(&t));
            let share = f(t);
            let (lo, hi) = (f64::from(i) / f64::from(n), f64::from(i + 1) / f64::from(n));
            assert!(
                share >= lo - slack && share <= hi + slack,
                "call {i}: F = {share}, expected [{lo}, {hi}]"
            );
        }
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
}

mod pinned;
