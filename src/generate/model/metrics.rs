//! The metrics part of a model (`model.metrics`): per category the base range, the daily swing
//! and the spike rate, and how skewed the hosts' shares of the calls are.

use serde_json::{Map, Value, json};

use crate::generate::params::ParamError;
use crate::generate::points::Category;

/// How one category's series behave, as a model may change it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CategoryShape {
    /// Range of a host's base level. For CPU and network, the bounds a host's load may take it to.
    pub base: (f64, f64),
    /// For CPU and network: the base level of a host with an average share of the calls.
    pub typical: Option<f64>,
    /// Daily swing, as a fraction of the base level.
    pub daily: f64,
    /// Chance per point of a spike.
    pub spike_rate: f64,
}

/// The metrics part of a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricModel {
    /// Per category, in the order of [`Category::ALL`].
    pub categories: [CategoryShape; 5],
    /// Zipf exponent of the hosts' shares of the calls: the host of rank k carries ∝ 1/k^this
    /// (0: every host alike).
    pub host_skew: f64,
}

impl Default for MetricModel {
    fn default() -> Self {
        Self {
            categories: Category::ALL.map(|c| c.default_shape()),
            host_skew: 1.0,
        }
    }
}

impl MetricModel {
    /// The metrics part of the model a request's `model` asks for (the whole model is checked;
    /// see [`super::CallModel::parse`]).
    pub fn parse(request: &Value) -> Result<Self, ParamError> {
        super::parse::model(request).map(|(_, metrics)| metrics)
    }

    /// The shape of `category`.
    pub fn shape(&self, category: Category) -> CategoryShape {
        self.categories[category as usize]
    }

    /// The whole metrics model as JSON (every number): what records keep.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("host_skew".into(), json!(self.host_skew));
        for c in Category::ALL {
            let s = self.shape(c);
            let mut o = json!({ "base": [s.base.0, s.base.1], "daily": s.daily, "spike_rate": s.spike_rate });
            if let Some(t) = s.typical {
                o["typical"] = json!(t);
            }
            out.insert(c.as_str().into(), o);
        }
        Value::Object(out)
    }

    /// Reads a merged `metrics` object (every key present, the types checked by the merge),
    /// checking every number; errors name the field under `model.metrics`.
    pub(super) fn read(v: &Value) -> Result<Self, ParamError> {
        let num = |path: &str, lo: f64, hi: f64| -> Result<f64, ParamError> {
            let field = format!("model.metrics.{path}");
            let x = v
                .pointer(&format!("/{}", path.replace('.', "/")))
                .and_then(Value::as_f64)
                .ok_or_else(|| ParamError::new(&field, "must be a number"))?;
            if (lo..=hi).contains(&x) {
                Ok(x)
            } else {
                Err(ParamError::new(
                    field,
                    format!("must be between {lo} and {hi}, got {x}"),
                ))
            }
        };
        let mut categories = [CategoryShape {
            base: (0.0, 0.0),
            typical: None,
            daily: 0.0,
            spike_rate: 0.0,
        }; 5];
        for (i, c) in Category::ALL.into_iter().enumerate() {
            let name = c.as_str();
            let (floor, upper) = (c.floor(), c.bounds().1);
            let base = v
                .pointer(&format!("/{name}/base"))
                .and_then(Value::as_array);
            let Some([lo, hi]) = base.map(Vec::as_slice) else {
                return Err(ParamError::new(
                    format!("model.metrics.{name}.base"),
                    "must be [low, high]",
                ));
            };
            let bound = |x: &Value, j: usize| {
                x.as_f64()
                    .filter(|x| *x > floor && *x < upper * 0.9)
                    .ok_or_else(|| {
                        ParamError::new(
                            format!("model.metrics.{name}.base[{j}]"),
                            format!("must be a number above {floor} and below {}", upper * 0.9),
                        )
                    })
            };
            let (lo, hi) = (bound(lo, 0)?, bound(hi, 1)?);
            if lo > hi {
                return Err(ParamError::new(
                    format!("model.metrics.{name}.base"),
                    format!("low {lo} must not be above high {hi}"),
                ));
            }
            let typical = match c.default_shape().typical {
                Some(_) => Some(num(&format!("{name}.typical"), lo, hi)?),
                None => None,
            };
            categories[i] = CategoryShape {
                base: (lo, hi),
                typical,
                daily: num(&format!("{name}.daily"), 0.0, 0.9)?,
                spike_rate: num(&format!("{name}.spike_rate"), 0.0, 0.1)?,
            };
        }
        Ok(Self {
            categories,
            host_skew: num("host_skew", 0.0, 3.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;

    #[test]
    fn the_metrics_part_overrides_by_path_and_names_its_errors() {
        let m = MetricModel::parse(&json!({"metrics": {
            "host_skew": 0, "cpu": {"daily": 0.2, "base": [5, 40]}, "latency": {"spike_rate": 0.01}}}))
        .unwrap();
        assert_eq!(m.host_skew, 0.0);
        let cpu = m.shape(Category::Cpu);
        assert_eq!(
            (cpu.daily, cpu.base, cpu.typical),
            (0.2, (5.0, 40.0), Some(20.0))
        );
        assert_eq!(m.shape(Category::Latency).spike_rate, 0.01);
        assert_eq!(
            MetricModel::parse(
                &m.to_json()
                    .as_object()
                    .map(|o| json!({"metrics": o}))
                    .unwrap()
            )
            .unwrap(),
            m
        );
        assert_eq!(
            MetricModel::parse(&json!("enterprise")).unwrap(),
            MetricModel::default()
        );
        let err = |v: serde_json::Value| {
            MetricModel::parse(&json!({ "metrics": v }))
                .unwrap_err()
                .field
        };
        assert_eq!(err(json!({"gpu": {}})), "model.metrics.gpu");
        assert_eq!(
            err(json!({"cpu": {"base": [50, 10]}})),
            "model.metrics.cpu.base"
        );
        assert_eq!(
            err(json!({"cpu": {"base": [0, 10]}})),
            "model.metrics.cpu.base[0]"
        );
        assert_eq!(err(json!({"cpu": {"base": [5]}})), "model.metrics.cpu.base");
        assert_eq!(
            err(json!({"cpu": {"typical": 90}})),
            "model.metrics.cpu.typical"
        );
        assert_eq!(
            err(json!({"memory": {"typical": 50}})),
            "model.metrics.memory.typical"
        );
        assert_eq!(
            err(json!({"disk": {"daily": 2}})),
            "model.metrics.disk.daily"
        );
        assert_eq!(err(json!({"host_skew": -1})), "model.metrics.host_skew");
    }

    #[test]
    fn the_metrics_part_shapes_the_points() {
        use crate::generate::{Category, PointGenerator, PointParams};
        // Mean CPU per host over a day of 10-minute ticks, busiest over quietest.
        let spread = |model: MetricModel| {
            let params = PointParams {
                end: Utc.with_ymd_and_hms(2026, 11, 16, 0, 0, 0).unwrap(),
                step_seconds: 600,
                categories: vec![Category::Cpu],
                hosts: 40,
                scenario: None,
                model,
            };
            let mut g = PointGenerator::new(&params, 3);
            let mut sums = [0.0; 40];
            for _ in 0..40 * 144 {
                let p = g.next_point();
                sums[p.host as usize - 1] += p.value;
            }
            let max = sums.iter().cloned().fold(0.0, f64::max);
            max / sums.iter().cloned().fold(f64::MAX, f64::min)
        };
        let skewed = spread(MetricModel::default());
        let even = spread(MetricModel::parse(&json!({"metrics": {"host_skew": 0}})).unwrap());
        assert!(skewed > 8.0, "{skewed}");
        assert!(even < 4.0, "{even}");
    }
}
