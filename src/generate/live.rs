//! What a live run may be asked for: rates, hosts and population, parsed once for the HTTP API and
//! the command line, naming the field at fault.

use super::model::{CallModel, MetricModel, parse_parts};
use super::params::{
    DEFAULT_HOSTS, DEFAULT_SUBSCRIBERS, MAX_HOSTS, MAX_SUBSCRIBERS, MIN_SUBSCRIBERS, ParamError,
    bounded,
};
use super::points::Category;

/// Default call rate of a live run, calls per second.
pub const DEFAULT_CALLS_PER_SECOND: f64 = 10.0;
/// Largest call rate of a live run, calls per second (far above any database's insert ceiling:
/// a run above the ceiling falls behind and says so).
pub const MAX_CALLS_PER_SECOND: f64 = 1_000_000.0;
/// Default seconds between a live run's metric ticks.
pub const DEFAULT_METRICS_STEP: u32 = 5;
/// Largest seconds between a live run's metric ticks (a day).
pub const MAX_METRICS_STEP: u32 = 86_400;

/// A live run's parameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveParams {
    /// Calls per second (0: metrics only).
    pub calls_per_second: f64,
    /// The call rate follows the hour-of-day × weekday curve of backfills (its weekly mean is
    /// `calls_per_second`).
    pub shaped: bool,
    /// Seconds between metric ticks (0: calls only).
    pub step_seconds: u32,
    /// Hosts reporting metrics.
    pub hosts: u32,
    /// Metric categories, canonical order.
    pub categories: Vec<Category>,
    /// Subscriber population of the calls.
    pub subscribers: u32,
    /// The shape of the calls.
    pub model: CallModel,
    /// The shape of the metrics.
    pub metrics: MetricModel,
}

impl LiveParams {
    /// These parameters with the call model `request` asks for (see [`CallModel::parse`]).
    pub fn with_model(self, request: Option<&serde_json::Value>) -> Result<Self, ParamError> {
        let (model, metrics) = request.map(parse_parts).transpose()?.unwrap_or_default();
        Ok(Self {
            model,
            metrics,
            ..self
        })
    }

    /// Parameters with their defaults (10 calls/s flat, metrics every 5 s for 3 hosts and every
    /// category, 10,000 subscribers); a run must generate something.
    pub fn new(
        calls_per_second: Option<f64>,
        shaped: Option<bool>,
        step_seconds: Option<i64>,
        hosts: Option<i64>,
        categories: Option<&[String]>,
        subscribers: Option<i64>,
    ) -> Result<Self, ParamError> {
        let calls_per_second = calls_per_second.unwrap_or(DEFAULT_CALLS_PER_SECOND);
        if !(0.0..=MAX_CALLS_PER_SECOND).contains(&calls_per_second) {
            return Err(ParamError::new(
                "calls_per_second",
                format!("must be between 0 and {MAX_CALLS_PER_SECOND}, got {calls_per_second}"),
            ));
        }
        let step_seconds = bounded(
            "step_seconds",
            step_seconds.unwrap_or(i64::from(DEFAULT_METRICS_STEP)),
            0,
            i64::from(MAX_METRICS_STEP),
        )? as u32;
        let hosts = bounded(
            "hosts",
            hosts.unwrap_or(i64::from(DEFAULT_HOSTS)),
            1,
            i64::from(MAX_HOSTS),
        )? as u32;
        let categories = match categories {
            None => Category::ALL.to_vec(),
            Some([]) => return Err(ParamError::new("categories", "must not be empty")),
            Some(names) => Category::parse_list(names)
                .map_err(|(i, m)| ParamError::new(format!("categories[{i}]"), m))?,
        };
        let subscribers = bounded(
            "subscribers",
            subscribers.unwrap_or(i64::from(DEFAULT_SUBSCRIBERS)),
            i64::from(MIN_SUBSCRIBERS),
            i64::from(MAX_SUBSCRIBERS),
        )? as u32;
        if calls_per_second == 0.0 && step_seconds == 0 {
            return Err(ParamError::new(
                "calls_per_second",
                "a live run needs calls (calls_per_second > 0) or metrics (step_seconds > 0)",
            ));
        }
        Ok(Self {
            calls_per_second,
            shaped: shaped.unwrap_or(false),
            step_seconds,
            hosts,
            model: CallModel::default(),
            metrics: MetricModel::default(),
            categories,
            subscribers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{CallGenerator, PointGenerator, PointParams, RunId};
    use chrono::{TimeZone, Utc};

    /// Monday 2026-11-16 00:00 UTC.
    fn monday() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_flat_live_schedule_is_exact_and_every_due_call_is_in_the_past() {
        let start = monday() + chrono::TimeDelta::milliseconds(123);
        for rate in [1.0, 7.5, 100.0, 10_000.0] {
            let g = CallGenerator::live(1, 1000, start, rate, false, None, CallModel::default());
            let t0 = start.timestamp_millis();
            for secs in [1, 10, 60, 3600] {
                let due = g.due_before(t0 + secs * 1000);
                assert_eq!(
                    due,
                    (rate * secs as f64).floor() as u64,
                    "{rate}/s over {secs} s"
                );
            }
            let due = g.due_before(t0 + 60_000);
            let mut last = t0;
            for i in 0..due.min(20_000) {
                let r = g.record(i);
                assert!(
                    r.start_ms >= last && r.start_ms < t0 + 60_000,
                    "{rate}: call {i}"
                );
                last = r.start_ms;
            }
            // The first call not yet due starts at or after the boundary's previous millisecond.
            assert!(g.record(due).start_ms >= t0 + 60_000 - 1);
        }
    }

    #[test]
    fn a_shaped_live_schedule_follows_the_hour_of_day_curve() {
        let g = CallGenerator::live(1, 1000, monday(), 100.0, true, None, CallModel::default());
        let t0 = monday().timestamp_millis();
        let hour =
            |h: i64| g.due_before(t0 + (h + 1) * 3_600_000) - g.due_before(t0 + h * 3_600_000);
        // 17:00Z is noon in New York, 09:00Z is 4 in the morning there and 1 in Los Angeles.
        let volume = crate::generate::zones::reference_volume;
        let ratio = hour(17) as f64 / hour(9) as f64;
        let expected = volume(t0 + 17 * 3_600_000) / volume(t0 + 9 * 3_600_000);
        assert!(
            (ratio / expected - 1.0).abs() < 0.01,
            "{ratio} vs {expected}"
        );
        // The week's mean rate is the asked rate.
        let week = g.due_before(t0 + 7 * 86_400_000) as f64 / (7.0 * 86_400.0);
        assert!((week / 100.0 - 1.0).abs() < 1e-6, "{week}");
    }

    #[test]
    fn live_documents_are_a_function_of_seed_and_index() {
        let run = RunId::new(1, 2);
        let a = CallGenerator::live(9, 1000, monday(), 50.0, false, None, CallModel::default());
        let b = CallGenerator::live(9, 1000, monday(), 50.0, false, None, CallModel::default());
        assert_eq!(a.document(run, 77), b.document(run, 77));
        let c = CallGenerator::live(10, 1000, monday(), 50.0, false, None, CallModel::default());
        assert_ne!(a.record(77).call_id, c.record(77).call_id);
    }

    #[test]
    fn live_points_go_forward_from_the_start() {
        let params = PointParams {
            end: monday(),
            step_seconds: 5,
            categories: Category::ALL.to_vec(),
            hosts: 2,
            scenario: None,
            model: MetricModel::default(),
        };
        let mut g = PointGenerator::live(&params, 4, true);
        assert_eq!(g.series(), 10);
        let t0 = monday().timestamp_millis();
        for i in 0..30u64 {
            let p = g.next_point();
            assert_eq!(p.timestamp_ms, t0 + (i / 10) as i64 * 5000);
        }
        assert_eq!(g.position(), 30);
    }

    #[test]
    fn a_flat_runs_cpu_is_flat_and_a_shaped_runs_follows_the_curve() {
        let params = PointParams {
            end: monday(),
            step_seconds: 600,
            categories: vec![Category::Cpu],
            hosts: 20,
            scenario: None,
            model: MetricModel::default(),
        };
        // Mean CPU per UTC hour of day over a week, busiest over quietest.
        let spread = |curve: bool| {
            let mut g = PointGenerator::live(&params, 4, curve);
            let (mut sum, mut n) = ([0.0; 24], [0u32; 24]);
            for _ in 0..20 * 6 * 24 * 7 {
                let p = g.next_point();
                let h = (p.timestamp_ms / 3_600_000 % 24) as usize;
                sum[h] += p.value;
                n[h] += 1;
            }
            let means: Vec<f64> = (0..24).map(|h| sum[h] / f64::from(n[h])).collect();
            means.iter().cloned().fold(0.0, f64::max)
                / means.iter().cloned().fold(f64::MAX, f64::min)
        };
        assert!(spread(true) > 2.0, "{}", spread(true));
        assert!(spread(false) < 1.3, "{}", spread(false));
    }

    #[test]
    fn defaults_and_bounds() {
        let p = LiveParams::new(None, None, None, None, None, None).unwrap();
        assert_eq!(p.calls_per_second, 10.0);
        assert_eq!((p.step_seconds, p.hosts), (5, 3));
        assert_eq!(p.categories.len(), 5);
        let e = LiveParams::new(Some(-1.0), None, None, None, None, None).unwrap_err();
        assert_eq!(e.field, "calls_per_second");
        let e = LiveParams::new(Some(0.0), None, Some(0), None, None, None).unwrap_err();
        assert_eq!(e.field, "calls_per_second");
        let e = LiveParams::new(
            None,
            None,
            None,
            None,
            Some(&["cpu".into(), "x".into()]),
            None,
        )
        .unwrap_err();
        assert_eq!(e.field, "categories[1]");
        let e = LiveParams::new(None, None, Some(86_401), None, None, None).unwrap_err();
        assert_eq!(e.field, "step_seconds");
    }
}
