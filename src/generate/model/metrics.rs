//! Parsing the metrics part of a model; the part itself lives with the points it shapes
//! ([`crate::generate::points::MetricModel`]).

use serde_json::Value;

use super::MetricModel;
use crate::generate::bounds::ParamError;

impl MetricModel {
    /// The metrics part of the model a request's `model` asks for (the whole model is checked;
    /// see [`super::CallModel::parse`]).
    pub fn parse(request: &Value) -> Result<Self, ParamError> {
        super::parse::model(request).map(|(_, metrics)| metrics)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::generate::Category;

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
