use super::*;
use crate::generate::CallModel;
use crate::generate::MetricModel;
use crate::generate::cells::Eci;
use crate::generate::{
    CallGenerator, CallParams, CallStatus, Category, PointGenerator, PointParams,
};
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 10, 0, 0).unwrap()
}

fn scenario(kind: &str, minutes: i64, hosts: u32) -> Scenario {
    let start = t0() + chrono::TimeDelta::minutes(1);
    Scenario::new(
        kind,
        Some(start),
        Some(minutes),
        None,
        Some(2),
        hosts,
        start,
    )
    .unwrap()
}

#[test]
fn a_live_surge_multiplies_the_volume_and_labels_the_extra_share() {
    let s = scenario("surge", 2, 3);
    let g = CallGenerator::live(1, 1000, t0(), 10.0, false, Some(s), CallModel::default());
    let ms = |m: i64| t0().timestamp_millis() + m * 60_000;
    assert_eq!(g.due_before(ms(1)), 600, "before the window: 10/s");
    assert_eq!(
        g.due_before(ms(3)) - g.due_before(ms(1)),
        6000,
        "in it: 50/s"
    );
    assert_eq!(
        g.due_before(ms(4)) - g.due_before(ms(3)),
        600,
        "after it: 10/s"
    );
    let (mut inside, mut labelled) = (0, 0);
    for i in 0..g.due_before(ms(4)) {
        let r = g.record(i);
        if s.covers(r.start_ms) {
            inside += 1;
            labelled += usize::from(r.anomaly == Some("surge"));
        } else {
            assert_eq!(r.anomaly, None, "call {i} outside the window");
        }
    }
    assert_eq!(inside, 6000);
    let share = labelled as f64 / inside as f64;
    assert!((share - 0.8).abs() < 0.02, "{share}");
}

#[test]
fn a_backfill_surge_raises_the_window_above_its_neighbourhood() {
    let end = t0() + chrono::TimeDelta::days(1);
    let s = Scenario::new("surge", Some(t0()), Some(60), Some(4.0), None, 3, t0()).unwrap();
    let params = CallParams {
        end,
        days: 2,
        subscribers: 1000,
        scenario: Some(s),
        model: CallModel::default(),
    };
    let n = 100_000;
    let g = CallGenerator::new(params, 3, n);
    let hour = 3_600_000;
    let (mut before, mut inside) = (0, 0);
    for i in 0..u64::from(n) {
        let t = g.record(i).start_ms;
        if (s.start_ms - hour..s.start_ms).contains(&t) {
            before += 1;
        }
        if s.covers(t) {
            inside += 1;
        }
    }
    // The surge makes its hour × 4 the volume it would have had.
    let volume = crate::generate::zones::reference_volume;
    let expected = 4.0 * volume(s.start_ms) / volume(s.start_ms - hour);
    let ratio = f64::from(inside) / f64::from(before);
    assert!(
        (ratio / expected - 1.0).abs() < 0.1,
        "{ratio} vs {expected}"
    );
}

#[test]
fn an_outage_fails_its_hosts_calls_and_spikes_its_latency() {
    let s = scenario("outage", 5, 3);
    let g = CallGenerator::live(1, 1000, t0(), 20.0, false, Some(s), CallModel::default());
    let n = g.due_before(s.end_ms + 60_000);
    let (mut inside, mut failed) = (0, 0);
    for i in 0..n {
        let r = g.record(i);
        match (s.covers(r.start_ms), r.anomaly) {
            (true, Some(label)) => {
                assert_eq!(
                    (label, r.status, r.duration),
                    ("outage", CallStatus::Failed, None)
                );
                assert_eq!(r.cost, 0.0);
                failed += 1;
                inside += 1;
            }
            (true, None) => inside += 1,
            (false, a) => assert_eq!(a, None),
        }
    }
    let share = f64::from(failed) / f64::from(inside);
    assert!((share - 1.0 / 3.0).abs() < 0.03, "{share}");

    let params = PointParams {
        end: t0(),
        step_seconds: 10,
        categories: Category::ALL.to_vec(),
        hosts: 3,
        scenario: Some(s),
        model: MetricModel::default(),
    };
    let mut points = PointGenerator::live(&params, 5, true);
    let (mut normal, mut spiked) = (Vec::new(), Vec::new());
    for _ in 0..(3 * 5 * 60) {
        let p = points.next_point();
        let hit = s.covers(p.timestamp_ms) && p.host == 2;
        assert_eq!(p.anomaly.is_some(), hit, "{p:?}");
        if p.category == Category::Latency && p.host == 2 {
            if hit {
                spiked.push(p.value)
            } else {
                normal.push(p.value)
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&spiked) > 5.0 * mean(&normal),
        "{} vs {}",
        mean(&spiked),
        mean(&normal)
    );
}

#[test]
fn a_fraud_burst_is_one_caller_to_many_callees_in_short_calls() {
    let s = scenario("fraud_burst", 10, 3);
    // A large population, so callees drawn from all of it rarely repeat.
    let g = CallGenerator::live(
        4,
        1_000_000,
        t0(),
        20.0,
        false,
        Some(s),
        CallModel::default(),
    );
    let mut callers = std::collections::BTreeSet::new();
    let mut callees = std::collections::BTreeSet::new();
    let (mut inside, mut fraud) = (0, 0);
    for i in 0..g.due_before(s.end_ms) {
        let r = g.record(i);
        if !s.covers(r.start_ms) {
            assert_eq!(r.anomaly, None);
            continue;
        }
        inside += 1;
        if r.anomaly == Some("fraud_burst") {
            fraud += 1;
            callers.insert(r.caller.clone());
            callees.insert(r.callee.clone());
            assert!(r.duration.is_some_and(|d| (1..=20).contains(&d)), "{r:?}");
            assert_eq!(r.status, CallStatus::Completed);
        }
    }
    assert_eq!(callers.len(), 1);
    assert!(
        callees.len() as f64 > 0.9 * f64::from(fraud),
        "{} of {fraud}",
        callees.len()
    );
    let share = f64::from(fraud) / f64::from(inside);
    assert!((share - FRAUD_SHARE).abs() < 0.03, "{share}");
}

#[test]
fn scenarios_round_trip_and_name_bad_fields() {
    for kind in ["surge", "outage", "fraud_burst", "cell_outage"] {
        let s = scenario(kind, 7, 3);
        assert_eq!(Scenario::from_doc(&s.to_doc(), 3), Some(s));
    }
    let start = t0();
    let bad = |k: &str, m: Option<i64>, f: Option<f64>, h: Option<i64>| {
        Scenario::new(k, None, m, f, h, 3, start).unwrap_err().field
    };
    assert_eq!(bad("flood", None, None, None), "scenario.kind");
    assert_eq!(bad("surge", Some(0), None, None), "scenario.minutes");
    assert_eq!(bad("surge", None, Some(1.0), None), "scenario.factor");
    assert_eq!(bad("outage", None, None, Some(4)), "scenario.host");
}

/// The ECI of an ECGI.
fn eci(ecgi: &str) -> Eci {
    ecgi.rsplit('-').next().unwrap().parse().unwrap()
}

#[test]
fn a_cell_outage_fails_or_moves_exactly_the_calls_of_its_dark_cells() {
    let end = t0() + chrono::TimeDelta::days(1);
    let s = Scenario::new("cell_outage", Some(t0()), Some(720), None, None, 3, t0())
        .unwrap()
        .at(Some(212), Some(3_000.0))
        .unwrap();
    let params = |scenario| CallParams {
        end,
        days: 2,
        subscribers: 20_000,
        scenario,
        model: CallModel::default(),
    };
    let n = 200_000;
    let (with, without) = (
        CallGenerator::new(params(Some(s)), 7, n),
        CallGenerator::new(params(None), 7, n),
    );
    let sites = s.dark_sites();
    // About π r² ÷ (√3/2 · ISD²): 363 urban micro sites within 2 km, 72 urban macro ones to 3 km.
    assert!((400..470).contains(&sites.len()), "{} sites", sites.len());
    let (mut failed, mut moved) = (0, 0);
    for i in 0..u64::from(n) {
        let (a, b) = (with.record(i), without.record(i));
        let planned = b.identities.as_ref().map(|x| eci(&x.caller_cell_start));
        let hit = s.covers(b.start_ms) && planned.is_some_and(|c| sites.contains(&(c >> 8)));
        if !hit {
            assert_eq!(a, b, "call {i} is untouched outside the outage");
            continue;
        }
        assert_eq!(a.anomaly, Some("cell_outage"), "call {i}");
        let (x, y) = (a.identities.unwrap(), b.identities.unwrap());
        if a.status == CallStatus::Failed && x.caller_cell_start == y.caller_cell_start {
            assert_eq!((a.duration, a.cost), (None, 0.0));
            assert_eq!(
                (x.caller_cell_end.as_str(), x.handovers),
                (x.caller_cell_start.as_str(), 0)
            );
            failed += 1;
        } else {
            // Started in a lit cell of the same city, next to the dark disc.
            let c = eci(&x.caller_cell_start);
            assert!(!sites.contains(&(c >> 8)), "call {i} moved into the dark");
            assert_eq!(c >> 20, planned.unwrap() >> 20, "call {i} left its city");
            let (_, _, px, py) = crate::generate::cells::site_place(c).unwrap();
            assert!(px.hypot(py) < s.radius_m + 2_000.0, "call {i} moved far");
            assert_eq!((a.status, a.duration), (b.status, b.duration));
            moved += 1;
        }
    }
    let share = f64::from(failed) / f64::from(failed + moved);
    assert!(failed + moved > 100, "{failed} failed, {moved} moved");
    assert!((share - CELL_OUTAGE_FAIL_SHARE).abs() < 0.1, "{share}");

    // The core hosts' latency rises and their traffic falls, labelled, in the window only.
    let params = PointParams {
        end: t0() + chrono::TimeDelta::minutes(1),
        step_seconds: 10,
        categories: Category::ALL.to_vec(),
        hosts: 3,
        scenario: Some(s),
        model: MetricModel::default(),
    };
    let mut points = PointGenerator::live(&params, 5, true);
    for _ in 0..(3 * 5 * 60) {
        let p = points.next_point();
        let hit =
            s.covers(p.timestamp_ms) && matches!(p.category, Category::Latency | Category::Network);
        assert_eq!(p.anomaly.is_some(), hit, "{p:?}");
    }
}

#[test]
fn a_cell_outage_names_its_place_and_keeps_its_ground_truth() {
    let s = scenario("cell_outage", 7, 3);
    assert_eq!((s.area_code, s.radius_m), (212, 1_000.0));
    let doc = s.to_doc();
    let sites = doc.get_array("sites").unwrap();
    assert_eq!(sites.len(), s.dark_sites().len());
    assert!(sites.len() > 50, "{}", sites.len());
    assert_eq!(Scenario::from_doc(&doc, 3), Some(s));
    let place = |code, r| s.at(code, r).unwrap_err().field;
    assert_eq!(place(Some(200), None), "scenario.area_code");
    assert_eq!(place(None, Some(100.0)), "scenario.radius_m");
    assert_eq!(place(None, Some(30_001.0)), "scenario.radius_m");
    // Another kind darkens nothing.
    assert!(scenario("surge", 7, 3).dark_sites().is_empty());
}
