//! Shares and durations against the documented tables and published figures, and start times
//! that invert the call volume exactly.

use super::*;
use crate::generate::goodness_of_fit as stats;
use crate::generate::params::DEFAULT_SUBSCRIBERS;
use crate::generate::zones::MS_PER_HOUR;
use chrono::TimeZone;

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

#[test]
fn start_times_invert_the_call_volume_exactly() {
    // A window that starts and ends mid-hour (and mid-week) and spans the switch to summer
    // time (8 March 2026). The cumulative volume F is rebuilt here hour by hour from
    // chrono-tz's local clocks, independently of the generator's tables; call i of n must
    // start where F lies in [i/n, (i+1)/n]. 10,000 subscribers split exactly by the shares.
    let end =
        Utc.with_ymd_and_hms(2026, 3, 9, 17, 23, 45).unwrap() + chrono::Duration::milliseconds(678);
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
