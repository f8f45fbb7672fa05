//! The model's parsing (presets, overrides, errors naming their field) and, on 100,000 calls per
//! preset, the shapes each preset documents.

use chrono::{Datelike, TimeZone, Timelike, Utc};
use serde_json::json;

use super::*;
use crate::generate::calls::{CallRecord, CallStatus};
use crate::generate::goodness_of_fit as stats;
use crate::generate::params::DEFAULT_SUBSCRIBERS;
use crate::generate::zones::NANP;
use crate::generate::{CallGenerator, CallParams};

fn field_of(request: serde_json::Value) -> String {
    let e = CallModel::parse(&request).unwrap_err();
    assert!(!e.message.is_empty());
    e.field
}

#[test]
fn presets_by_name_and_overrides_by_path() {
    assert_eq!(
        CallModel::parse(&json!("mobile")).unwrap(),
        CallModel::default()
    );
    let cc = CallModel::parse(&json!("call_center")).unwrap();
    assert_eq!(cc, Preset::CallCenter.model());
    let m = CallModel::parse(&json!({
        "preset": "enterprise",
        "calls": { "status": { "missed": 0.5 }, "time_zone": "America/Chicago", "contacts": 3 }
    }))
    .unwrap();
    assert_eq!(m.preset, Preset::Enterprise);
    assert_eq!(m.status, [0.82, 0.5, 0.03, 0.03]);
    assert_eq!(m.time_zone, TimeZoneMode::Fixed(Tz::America__Chicago));
    assert_eq!(m.contacts, 3);
    assert_eq!(m.hour_weights, Preset::Enterprise.model().hour_weights);
    // Without a preset: mobile. Switching the law starts from the new law's defaults.
    let ll = CallModel::parse(&json!({"calls": {"duration": {"law": "loglogistic"}}})).unwrap();
    assert_eq!(ll.duration.law, Law::Loglogistic { shape: 2.0 });
    assert_eq!(ll.duration.median_seconds, 60.0);
    // Everything a record keeps reads back to the same model.
    for model in [m, ll, cc, Preset::Enterprise.model(), CallModel::default()] {
        assert_eq!(CallModel::parse(&model.to_json()).unwrap(), model);
    }
}

#[test]
fn errors_name_the_field_at_fault() {
    let calls = |c: serde_json::Value| json!({ "calls": c });
    assert_eq!(field_of(json!("pbx")), "model");
    assert_eq!(field_of(json!(7)), "model");
    assert_eq!(field_of(json!({"preset": "pbx"})), "model.preset");
    assert_eq!(field_of(json!({"hosts": {}})), "model.hosts");
    assert_eq!(
        field_of(calls(json!({"status": {"missed": -1}}))),
        "model.calls.status.missed"
    );
    let e = CallModel::parse(&calls(json!({"status": {"missed": -1}}))).unwrap_err();
    assert_eq!(e.message, "must be ≥ 0, got -1");
    assert_eq!(
        field_of(calls(
            json!({"status": {"completed": 0, "missed": 0, "busy": 0, "failed": 0}})
        )),
        "model.calls.status"
    );
    assert_eq!(
        field_of(calls(json!({"status": {"ok": 1}}))),
        "model.calls.status.ok"
    );
    assert_eq!(
        field_of(calls(json!({"hour_weights": vec![1.0; 23]}))),
        "model.calls.hour_weights"
    );
    assert_eq!(
        field_of(calls(json!({"weekday_weights": [1, 1, 1, "x", 1, 1, 1]}))),
        "model.calls.weekday_weights[3]"
    );
    let mut hours = vec![json!(1.0); 24];
    hours[5] = json!(-2.0);
    assert_eq!(
        field_of(calls(json!({ "hour_weights": hours }))),
        "model.calls.hour_weights[5]"
    );
    assert_eq!(
        field_of(calls(json!({"duration": {"law": "weibull"}}))),
        "model.calls.duration.law"
    );
    assert_eq!(
        field_of(calls(json!({"duration": {"max_seconds": 9000}}))),
        "model.calls.duration.max_seconds"
    );
    assert_eq!(
        field_of(calls(
            json!({"duration": {"median_seconds": 5000, "max_seconds": 600}})
        )),
        "model.calls.duration.median_seconds"
    );
    assert_eq!(
        field_of(calls(json!({"time_zone": "Mars/Olympus"}))),
        "model.calls.time_zone"
    );
    // India keeps +05:30: the hourly tables cannot hold it.
    assert_eq!(
        field_of(calls(json!({"time_zone": "Asia/Kolkata"}))),
        "model.calls.time_zone"
    );
    assert_eq!(
        field_of(calls(json!({"contacts": 2.5}))),
        "model.calls.contacts"
    );
    assert_eq!(
        field_of(calls(json!({"contacts": 33}))),
        "model.calls.contacts"
    );
    assert_eq!(
        field_of(calls(json!({"hub_share": 0.5}))),
        "model.calls.hub_share"
    );
    assert_eq!(
        field_of(calls(json!({"activity_exponent": "2"}))),
        "model.calls.activity_exponent"
    );
    assert_eq!(field_of(calls(json!([1]))), "model.calls");
}

#[test]
fn tariffs_bill_their_increments_in_whole_cents() {
    // Mobile: $0.05 per call plus the rate per started minute: voice 0.02, video 0.05,
    // conference 0.08 (billing 60/60).
    let mobile = CallModel::default().tariff;
    let usd = |t: &Tariff, call_type: usize, secs: u32| t.cents(call_type, secs) as f64 / 100.0;
    for (call_type, secs, expected) in [
        (1, 61, 0.15),
        (0, 60, 0.07),
        (0, 1, 0.07),
        (2, 1, 0.13),
        (2, 121, 0.29),
        (0, 7200, 2.45),
        (1, 7200, 6.05),
        (2, 7199, 9.65),
    ] {
        assert_eq!(
            usd(&mobile, call_type, secs),
            expected,
            "{call_type} {secs} s"
        );
    }
    // 30/6: the first 30 s whole, then 6 s steps; 1/1: by the second.
    let t = CallModel::parse(&json!({"calls": {"tariff": {
        "connection_fee": 0, "per_minute": {"voice": 0.6}, "billing": "30/6"}}}))
    .unwrap()
    .tariff;
    assert_eq!(t.billable_seconds(1), 30);
    assert_eq!(t.billable_seconds(31), 36);
    assert_eq!(t.billable_seconds(36), 36);
    assert_eq!(t.cents(0, 31), 36, "36 s at 1 ¢ a second");
    let e = Preset::Enterprise.model().tariff;
    assert_eq!((e.billable_seconds(61), e.cents(2, 61)), (61, 2));
    assert_eq!(
        field_of(json!({"calls": {"tariff": {"billing": "60"}}})),
        "model.calls.tariff.billing"
    );
    assert_eq!(
        field_of(json!({"calls": {"tariff": {"per_minute": {"video": -1}}}})),
        "model.calls.tariff.per_minute.video"
    );
}

/// 100,000 calls of `model` over four whole weeks of summer time.
fn run(model: CallModel) -> Vec<CallRecord> {
    let params = CallParams {
        end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        days: 28,
        subscribers: DEFAULT_SUBSCRIBERS,
        scenario: None,
        model,
    };
    let n = 100_000;
    let g = CallGenerator::new(params, 21, n);
    (0..u64::from(n)).map(|i| g.record(i)).collect()
}

fn zone_of(number: &str) -> usize {
    let code: u16 = number[2..5].parse().unwrap();
    NANP.iter()
        .position(|z| z.area_codes.contains(&code))
        .unwrap()
}

/// Hour-of-day counts fit `weights`: zero-weight hours hold no call, the others by chi-square.
fn assert_hours(what: &str, counts: &[u64; 24], weights: &[f64; 24]) {
    let (mut observed, mut expected) = (Vec::new(), Vec::new());
    for h in 0..24 {
        if weights[h] == 0.0 {
            assert_eq!(counts[h], 0, "{what}: calls at {h}:00, a closed hour");
        } else {
            observed.push(counts[h]);
            expected.push(weights[h]);
        }
    }
    stats::assert_fits(what, &observed, &expected);
}

/// The shapes every preset documents: status shares, duration quantiles against its law, local
/// hours per zone, time order.
fn check_preset(preset: Preset) {
    let model = preset.model();
    let calls = run(model);
    let name = preset.as_str();
    assert!(
        calls.windows(2).all(|w| w[0].start_ms <= w[1].start_ms),
        "{name}: order"
    );
    let mut status = [0u64; 4];
    for r in &calls {
        status[CallStatus::ALL.iter().position(|s| *s == r.status).unwrap()] += 1;
    }
    stats::assert_fits(&format!("{name}: status"), &status, &model.status);
    // Durations: a discrete KS test against the clipped law.
    let durations: Vec<u32> = calls.iter().filter_map(|r| r.duration).collect();
    let d = &model.duration;
    let below = |x: f64| match d.law {
        Law::Lognormal { sigma } => stats::normal_cdf((x / d.median_seconds).ln() / sigma),
        Law::Loglogistic { shape } => 1.0 / (1.0 + (x / d.median_seconds).powf(-shape)),
    };
    let cdf = |k: u32| {
        if k >= d.max_seconds {
            1.0
        } else {
            below(f64::from(k) + 0.5)
        }
    };
    let ks = stats::ks_discrete(&durations, d.min_seconds, d.max_seconds, cdf);
    assert!(ks < stats::ks_critical(durations.len()), "{name}: KS {ks}");
    // Local hours per zone with enough calls, on the zone's own clock.
    for (z, zone) in NANP.iter().enumerate() {
        let mut hours = [0u64; 24];
        for r in calls.iter().filter(|r| zone_of(&r.caller) == z) {
            let t = Utc
                .timestamp_millis_opt(r.start_ms)
                .unwrap()
                .with_timezone(&zone.tz);
            hours[t.hour() as usize] += 1;
        }
        if hours.iter().sum::<u64>() >= 2_000 {
            assert_hours(&format!("{name}: {}", zone.tz), &hours, &model.hour_weights);
            let busiest = (0..24).max_by_key(|&h| hours[h]).unwrap();
            assert!(
                (9..17).contains(&busiest),
                "{name}: {} busiest {busiest}",
                zone.tz
            );
        }
    }
}

#[test]
fn the_mobile_preset_keeps_its_shapes() {
    check_preset(Preset::Mobile);
}

#[test]
fn the_call_center_preset_keeps_its_shapes_and_its_hub_lines_take_most_calls() {
    check_preset(Preset::CallCenter);
    let calls = run(Preset::CallCenter.model());
    let mut callees = std::collections::HashMap::<&str, u64>::new();
    for r in &calls {
        *callees.entry(&r.callee).or_default() += 1;
    }
    let mut counts: Vec<u64> = callees.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    // 20 hub lines take 85 % of calls (plus the rare contact who is a hub).
    let top: u64 = counts.iter().take(20).sum();
    let share = top as f64 / calls.len() as f64;
    assert!((share - 0.85).abs() < 0.01, "{share}");
    // Weekends nearly silent: Sunday's factor is 0.05 against 1.0 on Monday.
    let sundays = calls
        .iter()
        .filter(|r| {
            let t = Utc.timestamp_millis_opt(r.start_ms).unwrap();
            t.with_timezone(&NANP[zone_of(&r.caller)].tz).weekday() == chrono::Weekday::Sun
        })
        .count() as f64;
    let expected = 0.05 / model_week_sum(Preset::CallCenter.model());
    assert!(
        (sundays / calls.len() as f64 / expected - 1.0).abs() < 0.1,
        "{sundays}"
    );
}

fn model_week_sum(m: CallModel) -> f64 {
    m.weekday_weights.iter().sum()
}

#[test]
fn the_enterprise_preset_keeps_its_shapes_and_is_conference_heavy() {
    check_preset(Preset::Enterprise);
    let calls = run(Preset::Enterprise.model());
    let conference = calls
        .iter()
        .filter(|r| r.call_type == crate::generate::CallType::Conference)
        .count() as f64
        / calls.len() as f64;
    assert!((conference - 0.25).abs() < 0.01, "{conference}");
}

#[test]
fn a_fixed_clock_and_a_log_logistic_law_are_followed() {
    let model = CallModel::parse(&json!({
        "calls": {
            "time_zone": "UTC",
            "duration": { "law": "loglogistic", "median_seconds": 90, "shape": 3.0 }
        }
    }))
    .unwrap();
    let calls = run(model);
    let mut hours = [0u64; 24];
    for r in &calls {
        hours[Utc.timestamp_millis_opt(r.start_ms).unwrap().hour() as usize] += 1;
    }
    assert_hours("UTC clock", &hours, &model.hour_weights);
    let durations: Vec<u32> = calls.iter().filter_map(|r| r.duration).collect();
    let cdf = |k: u32| {
        if k >= 7200 {
            1.0
        } else {
            1.0 / (1.0 + ((f64::from(k) + 0.5) / 90.0).powf(-3.0))
        }
    };
    let ks = stats::ks_discrete(&durations, 1, 7200, cdf);
    assert!(ks < stats::ks_critical(durations.len()), "KS {ks}");
}
