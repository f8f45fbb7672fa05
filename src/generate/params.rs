//! What a run may be asked for, parsed once for every caller ("parse, don't validate"): the HTTP API
//! and the command line build [`CallParams`] and [`PointParams`] through these constructors, which
//! own the bounds, the defaults and the window rule, and name the field at fault.

use chrono::{DateTime, Utc};

pub use super::bounds::*;
use super::calls::CallParams;
pub use super::kind::Kind;
use super::model::{CallModel, MetricModel};
use super::points::{Category, PointParams};
use super::scenario::ScenarioRequest;
use super::traffic::TrafficParams;

/// The parameters of one run, of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// Call records.
    Calls(CallParams),
    /// Metric points.
    Metrics(PointParams),
    /// Text messages' records.
    Sms(TrafficParams),
}

impl Params {
    /// Which kind of data these parameters generate.
    pub fn kind(&self) -> Kind {
        match self {
            Params::Calls(_) => Kind::Calls,
            Params::Metrics(_) => Kind::Metrics,
            Params::Sms(_) => Kind::Sms,
        }
    }

    /// The end of the time window.
    pub fn end(&self) -> DateTime<Utc> {
        match self {
            Params::Calls(p) => p.end,
            Params::Metrics(p) => p.end,
            Params::Sms(p) => p.end,
        }
    }
}

/// A run's document count, within `1..=max` (and never above [`MAX_COUNT`]).
pub fn count(value: i64, max: u64) -> Result<u32, ParamError> {
    let max = max.min(u64::from(MAX_COUNT)) as i64;
    bounded("count", value, 1, max).map(|n| n as u32)
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Checks that `end` itself lies in the representable window.
fn check_end(end: DateTime<Utc>, latest_exclusive: i64) -> Result<(), ParamError> {
    let ms = end.timestamp_millis();
    if ms < EARLIEST_MS {
        return Err(ParamError::new(
            "end",
            format!("must not be before {}, got {end}", rfc3339(EARLIEST_MS)),
        ));
    }
    if ms >= latest_exclusive {
        return Err(ParamError::new(
            "end",
            format!(
                "must be before {} so that every generated time stays before year 10000, got {end}",
                rfc3339(latest_exclusive)
            ),
        ));
    }
    Ok(())
}

impl CallParams {
    /// Call parameters with their defaults (`days` 30, 10,000 `subscribers`, `end` = `now`),
    /// checked so that every start and end time falls between 1970-01-01 and 9999-12-31.
    pub fn new(
        days: Option<i64>,
        subscribers: Option<i64>,
        end: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, ParamError> {
        let days = bounded(
            "days",
            days.unwrap_or(i64::from(DEFAULT_DAYS)),
            1,
            i64::from(MAX_DAYS),
        )? as u32;
        let subscribers = bounded(
            "subscribers",
            subscribers.unwrap_or(i64::from(DEFAULT_SUBSCRIBERS)),
            i64::from(MIN_SUBSCRIBERS),
            i64::from(MAX_SUBSCRIBERS),
        )? as u32;
        let end = end.unwrap_or(now);
        // The longest call ends DURATION_BOUNDS.1 seconds after a start just before `end`.
        check_end(
            end,
            LATEST_MS_EXCLUSIVE - i64::from(DURATION_BOUNDS.1) * 1000,
        )?;
        let span_ms = i64::from(days) * 86_400_000;
        if end.timestamp_millis() - span_ms < EARLIEST_MS {
            return Err(ParamError::new(
                "end",
                format!(
                    "a window of {days} days back from {end} would start before 1970-01-01; \
                     choose a later end or fewer days"
                ),
            ));
        }
        Ok(Self {
            end,
            days,
            subscribers,
            scenario: None,
            model: CallModel::default(),
        })
    }
}

impl CallParams {
    /// These parameters with the model `request` asks for (a preset name or an object; see
    /// [`CallModel::parse`]), the default one without.
    pub fn with_model(self, request: Option<&serde_json::Value>) -> Result<Self, ParamError> {
        let model = request
            .map(CallModel::parse)
            .transpose()?
            .unwrap_or_default();
        Ok(Self { model, ..self })
    }
}

impl PointParams {
    /// These parameters with the metrics part of the model `request` asks for (see
    /// [`MetricModel::parse`]), the default one without.
    pub fn with_model(self, request: Option<&serde_json::Value>) -> Result<Self, ParamError> {
        let model = request
            .map(MetricModel::parse)
            .transpose()?
            .unwrap_or_default();
        Ok(Self { model, ..self })
    }

    /// Metric parameters for a run of `count` points with their defaults (`step_seconds` 30, all
    /// categories, 3 hosts, `end` = `now`), checked so that every tick falls between 1970-01-01
    /// and 9999-12-31.
    pub fn new(
        count: u32,
        step_seconds: Option<i64>,
        categories: Option<&[String]>,
        hosts: Option<i64>,
        end: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, ParamError> {
        let step_seconds = bounded(
            "step_seconds",
            step_seconds.unwrap_or(i64::from(DEFAULT_STEP_SECONDS)),
            1,
            i64::from(MAX_STEP_SECONDS),
        )? as u32;
        let hosts = bounded(
            "hosts",
            hosts.unwrap_or(i64::from(DEFAULT_HOSTS)),
            1,
            i64::from(MAX_HOSTS),
        )? as u32;
        let categories = match categories {
            None => Category::ALL.to_vec(),
            Some([]) => {
                return Err(ParamError::new(
                    "categories",
                    "must name at least one category",
                ));
            }
            Some(names) => Category::parse_list(names)
                .map_err(|(i, message)| ParamError::new(format!("categories[{i}]"), message))?,
        };
        // A window reaching before 1970 is blamed on `end` when the request chose one (as for
        // calls), on `step_seconds` when the end is now.
        let window_field = if end.is_some() { "end" } else { "step_seconds" };
        let end = end.unwrap_or(now);
        check_end(end, LATEST_MS_EXCLUSIVE)?;
        let series = u64::from(hosts) * categories.len() as u64;
        let ticks = u64::from(count.max(1)).div_ceil(series);
        let span_ms = (ticks - 1) as i64 * i64::from(step_seconds) * 1000;
        if end.timestamp_millis() - span_ms < EARLIEST_MS {
            return Err(ParamError::new(
                window_field,
                format!(
                    "{ticks} ticks of {step_seconds} s back from {end} would reach before \
                     1970-01-01; choose a smaller count or step_seconds, or a later end"
                ),
            ));
        }
        Ok(Self {
            end,
            step_seconds,
            categories,
            hosts,
            scenario: None,
            model: MetricModel::default(),
        })
    }
}

impl CallParams {
    /// These parameters with `request`'s scenario; by default in the middle of the window, over
    /// [`DEFAULT_HOSTS`](DEFAULT_HOSTS) hosts (a backfill of calls has no hosts).
    pub fn with_scenario(self, request: Option<&ScenarioRequest>) -> Result<Self, ParamError> {
        let middle = self.end - chrono::TimeDelta::hours(12 * i64::from(self.days));
        let hosts = DEFAULT_HOSTS;
        let scenario = request.map(|r| r.parse(hosts, middle)).transpose()?;
        Ok(Self { scenario, ..self })
    }
}

impl TrafficParams {
    /// The window, subscribers and model of a run of texts (or sessions), bounded and defaulted as
    /// calls' are; the model must have mobile phones: the records are a mobile network's.
    pub fn new(
        days: Option<i64>,
        subscribers: Option<i64>,
        end: Option<DateTime<Utc>>,
        model: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Result<Self, ParamError> {
        let calls = CallParams::new(days, subscribers, end, now)?.with_model(model)?;
        if calls.model.network.mobile().is_none() {
            return Err(ParamError::new(
                "model",
                "texts and data sessions are a mobile network's records: choose a model with \
                 mobile phones (`model.network.phones` \"mobile\", as every preset but `enterprise` has)",
            ));
        }
        Ok(Self {
            end: calls.end,
            days: calls.days,
            subscribers: calls.subscribers,
            model: calls.model,
        })
    }
}

impl PointParams {
    /// These parameters (of a run of `count` points) with `request`'s scenario; by default in the
    /// middle of the run's span.
    pub fn with_scenario(
        self,
        count: u32,
        request: Option<&ScenarioRequest>,
    ) -> Result<Self, ParamError> {
        let series = u64::from(self.hosts) * self.categories.len().max(1) as u64;
        let ticks = u64::from(count).div_ceil(series);
        let span_ms = ticks.saturating_sub(1) as i64 * i64::from(self.step_seconds) * 1000;
        let middle = self.end - chrono::TimeDelta::milliseconds(span_ms / 2);
        let scenario = request.map(|r| r.parse(self.hosts, middle)).transpose()?;
        Ok(Self { scenario, ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn defaults_apply() {
        let c = CallParams::new(None, None, None, now()).unwrap();
        assert_eq!((c.days, c.end), (DEFAULT_DAYS, now()));
        let p = PointParams::new(200, None, None, None, None, now()).unwrap();
        assert_eq!(p.step_seconds, DEFAULT_STEP_SECONDS);
        assert_eq!(p.hosts, DEFAULT_HOSTS);
        assert_eq!(p.categories, Category::ALL.to_vec());
    }

    #[test]
    fn bounds_name_their_field() {
        assert_eq!(count(0, 100).unwrap_err().field, "count");
        assert_eq!(count(101, 100).unwrap_err().field, "count");
        assert_eq!(
            CallParams::new(Some(3651), None, None, now())
                .unwrap_err()
                .field,
            "days"
        );
        let names = ["cpu".to_string(), "gpu".to_string()];
        let e = PointParams::new(10, None, Some(&names), None, None, now()).unwrap_err();
        assert_eq!(e.field, "categories[1]");
        let e = PointParams::new(10, None, Some(&[]), None, None, now()).unwrap_err();
        assert_eq!(e.field, "categories");
        let e = PointParams::new(10, None, None, Some(0), None, now()).unwrap_err();
        assert_eq!(e.field, "hosts");
    }

    #[test]
    fn every_timestamp_stays_between_1970_and_9999() {
        // 3000 points of 5 series at one year apart reach back 600 years: before 1970.
        let e = PointParams::new(3000, Some(31_536_000), None, None, None, now()).unwrap_err();
        assert_eq!(e.field, "step_seconds");
        // The same window from an end the request chose names `end`.
        let early = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 10).unwrap();
        let e = PointParams::new(100, None, None, None, Some(early), now()).unwrap_err();
        assert_eq!(e.field, "end");
        let before = Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap();
        let e = PointParams::new(1, None, None, None, Some(before), now()).unwrap_err();
        assert_eq!(e.field, "end");
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        let e = PointParams::new(1, None, None, None, Some(far), now()).unwrap_err();
        assert_eq!(e.field, "end");
        let e = CallParams::new(Some(30), None, Some(far), now()).unwrap_err();
        assert_eq!(e.field, "end");
        // The last call may run two hours past `end`: that must stay in year 9999 too.
        let late = Utc.with_ymd_and_hms(9999, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(
            CallParams::new(None, None, Some(late), now())
                .unwrap_err()
                .field,
            "end"
        );
        let early = Utc.with_ymd_and_hms(1970, 1, 10, 0, 0, 0).unwrap();
        assert_eq!(
            CallParams::new(Some(30), None, Some(early), now())
                .unwrap_err()
                .field,
            "end"
        );
        assert!(CallParams::new(Some(9), None, Some(early), now()).is_ok());
        // Exactly at the edges is fine.
        let p = PointParams::new(1, None, None, None, Some(DateTime::UNIX_EPOCH), now());
        assert!(p.is_ok());
    }
}
