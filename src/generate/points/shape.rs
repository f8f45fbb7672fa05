//! The metrics part of a model (`model.metrics`): per category the base range, the daily swing
//! and the spike rate, and how skewed the hosts' shares of the calls are. Parsed with the rest of
//! the model (see `generate::model`).

use serde_json::{Map, Value, json};

use super::Category;
use crate::generate::bounds::{ParamError, json_at, number_at};

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
    pub(crate) fn read(v: &Value) -> Result<Self, ParamError> {
        let num = |path: &str, lo: f64, hi: f64| number_at(v, "model.metrics", path, lo, hi);
        let mut categories = [CategoryShape {
            base: (0.0, 0.0),
            typical: None,
            daily: 0.0,
            spike_rate: 0.0,
        }; 5];
        for (i, c) in Category::ALL.into_iter().enumerate() {
            let name = c.as_str();
            let (floor, upper) = (c.floor(), c.bounds().1);
            let base = json_at(v, &format!("{name}.base")).as_array();
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
