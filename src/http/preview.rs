//! `GET /preview/calls`, `/preview/metrics` and `/preview/sms`: the documents a generation with the same
//! parameters and seed writes, returned instead of written, so a user can look before a large job.
//!
//! The query string is turned into the generate endpoints' JSON body (each value typed as the body
//! field it stands for) and parsed by the same request types, so the bounds, defaults and 422s are
//! the generate endpoints' own; only `count` is capped lower. Nothing touches the database.

use axum::Json;
use axum::extract::RawQuery;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::extract::parse_json;
use super::generate::{CallsRequest, MetricsRequest, SmsRequest};
use crate::error::ApiError;
use crate::generate::Kind;
use crate::pipeline::{Run, RunSpec};

/// Largest `count` a preview answers with.
pub const MAX_PREVIEW: u64 = 1000;
/// `count` when the query does not say.
const DEFAULT_PREVIEW: i64 = 10;

/// What a query value stands for in the body.
#[derive(Clone, Copy)]
enum Ty {
    Int,
    Seed,
    Number,
    Text,
    List,
    /// A preset name, or a model object as JSON text.
    Model,
}

const SCENARIO: &[(&str, Ty)] = &[
    ("kind", Ty::Text),
    ("start", Ty::Text),
    ("minutes", Ty::Int),
    ("factor", Ty::Number),
    ("host", Ty::Int),
    ("area_code", Ty::Int),
    ("radius_m", Ty::Number),
];

const CALLS: &[(&str, Ty)] = &[
    ("count", Ty::Int),
    ("seed", Ty::Seed),
    ("days", Ty::Int),
    ("subscribers", Ty::Int),
    ("end", Ty::Text),
    ("model", Ty::Model),
];

const SMS: &[(&str, Ty)] = &[
    ("count", Ty::Int),
    ("seed", Ty::Seed),
    ("days", Ty::Int),
    ("subscribers", Ty::Int),
    ("end", Ty::Text),
    ("model", Ty::Model),
];

const METRICS: &[(&str, Ty)] = &[
    ("count", Ty::Int),
    ("seed", Ty::Seed),
    ("step_seconds", Ty::Int),
    ("categories", Ty::List),
    ("hosts", Ty::Int),
    ("end", Ty::Text),
    ("model", Ty::Model),
];

/// Answer of a preview.
#[derive(Debug, Serialize)]
pub struct Preview {
    /// Where a generation with these parameters writes.
    pub collection: &'static str,
    /// The seed used: send it (and `end`) to the generate endpoint for the same documents.
    pub seed: u64,
    /// The end of the time window used.
    pub end: DateTime<Utc>,
    /// The documents, as relaxed Extended JSON; their `_id`s differ between runs.
    pub documents: Vec<Value>,
}

impl Preview {
    fn of(spec: RunSpec) -> Self {
        let run = Run::new(spec);
        let spec = run.spec();
        Self {
            collection: spec.kind().collection(),
            seed: spec.seed,
            end: spec.params.end(),
            documents: crate::export::extended_json(spec, run.id()).collect(),
        }
    }
}

/// `GET /preview/calls`.
pub async fn calls(RawQuery(query): RawQuery) -> Result<Json<Preview>, ApiError> {
    let spec = spec_from_query(query, Kind::Calls, Some(DEFAULT_PREVIEW), MAX_PREVIEW)?;
    Ok(Json(Preview::of(spec)))
}

/// `GET /preview/sms` (`count` threads, each one to four records).
pub async fn sms(RawQuery(query): RawQuery) -> Result<Json<Preview>, ApiError> {
    let spec = spec_from_query(query, Kind::Sms, Some(DEFAULT_PREVIEW), MAX_PREVIEW)?;
    Ok(Json(Preview::of(spec)))
}

/// `GET /preview/metrics`.
pub async fn metrics(RawQuery(query): RawQuery) -> Result<Json<Preview>, ApiError> {
    let spec = spec_from_query(query, Kind::Metrics, Some(DEFAULT_PREVIEW), MAX_PREVIEW)?;
    Ok(Json(Preview::of(spec)))
}

/// The run a query string asks for, through the generate endpoints' own request types (their
/// bounds, defaults and 422s), with `count` defaulting to `default_count` and at most `max_count`.
/// Previews and exports read their parameters this way.
pub(super) fn spec_from_query(
    query: Option<String>,
    kind: Kind,
    default_count: Option<i64>,
    max_count: u64,
) -> Result<RunSpec, ApiError> {
    let query = query.unwrap_or_default();
    let (spec, _) = match kind {
        Kind::Calls => {
            let body = body_from_query(&query, CALLS, default_count)?;
            parse_json::<CallsRequest>(body.as_bytes())?.into_spec(max_count)?
        }
        Kind::Metrics => {
            let body = body_from_query(&query, METRICS, default_count)?;
            parse_json::<MetricsRequest>(body.as_bytes())?.into_spec(max_count)?
        }
        Kind::Sms => {
            let body = body_from_query(&query, SMS, default_count)?;
            parse_json::<SmsRequest>(body.as_bytes())?.into_spec(max_count)?
        }
    };
    Ok(spec)
}

/// The JSON body a query string stands for: `fields` by name, the scenario as `scenario[kind]=…`
/// (OpenAPI's deepObject; an empty `scenario=` is none), `count` 10 unless given. `_` (a cache
/// buster) is ignored; any other unknown, repeated or empty parameter is a 422 naming it.
fn body_from_query(
    query: &str,
    fields: &[(&str, Ty)],
    default_count: Option<i64>,
) -> Result<String, ApiError> {
    let mut body = Map::new();
    let mut scenario = Map::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "_" {
            continue;
        }
        // `scenario` itself, empty: no scenario, as `"scenario": null` in a body.
        if key == "scenario" {
            if value.is_empty() {
                continue;
            }
            return Err(ApiError::invalid(
                "scenario",
                "a scenario is given by its fields: scenario[kind]=surge&scenario[factor]=5",
            ));
        }
        let (target, name, ty) = match key
            .strip_prefix("scenario[")
            .and_then(|k| k.strip_suffix(']'))
        {
            Some(inner) => (&mut scenario, inner, lookup(SCENARIO, inner)),
            None => (&mut body, key.as_ref(), lookup(fields, &key)),
        };
        let Some(ty) = ty else {
            let known: Vec<String> = fields.iter().map(|(f, _)| format!("`{f}`")).collect();
            return Err(ApiError::invalid(
                key.as_ref(),
                format!(
                    "unknown parameter `{key}`, expected one of {}, `scenario[…]`",
                    known.join(", ")
                ),
            ));
        };
        if target.contains_key(name) {
            return Err(ApiError::invalid(
                key.as_ref(),
                format!("duplicate parameter `{key}`"),
            ));
        }
        // A query string has no null: a field left out is unset (`scenario[host]=null` is a 422).
        target.insert(name.to_string(), typed(&key, &value, ty)?);
    }
    if !scenario.is_empty() {
        body.insert("scenario".into(), Value::Object(scenario));
    }
    if let Some(count) = default_count {
        body.entry("count").or_insert(Value::from(count));
    }
    Ok(Value::Object(body).to_string())
}

fn lookup(fields: &[(&str, Ty)], name: &str) -> Option<Ty> {
    fields.iter().find(|(f, _)| *f == name).map(|(_, ty)| *ty)
}

/// `value` as the JSON the body field of type `ty` takes.
fn typed(key: &str, value: &str, ty: Ty) -> Result<Value, ApiError> {
    let bad = |what: &str| ApiError::invalid(key, format!("expected {what}, got {value:?}"));
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match ty {
        Ty::Int if digits => value
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad("an integer")),
        Ty::Int => {
            let negative = value
                .strip_prefix('-')
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
            negative
                .and_then(|_| value.parse::<i64>().ok())
                .map(Value::from)
                .ok_or_else(|| bad("an integer"))
        }
        Ty::Seed if digits => value
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| bad("an integer from 0 to 18446744073709551615")),
        Ty::Seed => Err(bad("an integer from 0 to 18446744073709551615")),
        Ty::Number => value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && !value.starts_with('+'))
            .map(Value::from)
            .ok_or_else(|| bad("a number")),
        Ty::Text if value.is_empty() => Err(bad("a value")),
        Ty::Text => Ok(Value::from(value)),
        Ty::List if value.is_empty() => Err(bad("a comma-separated list")),
        Ty::List => Ok(Value::from(value.split(',').collect::<Vec<_>>())),
        Ty::Model if value.starts_with('{') => serde_json::from_str(value)
            .map_err(|e| bad(&format!("a preset name or a JSON object ({e})"))),
        Ty::Model if value.is_empty() => Err(bad("a preset name or a JSON object")),
        Ty::Model => Ok(Value::from(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(query: &str, fields: &[(&str, Ty)]) -> Result<Value, String> {
        body_from_query(query, fields, Some(DEFAULT_PREVIEW))
            .map(|b| serde_json::from_str(&b).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_query_becomes_the_generate_body() {
        let b = body(
            "seed=42&days=3&end=2026-01-01T00:00:00Z&scenario[kind]=surge&scenario[factor]=2.5&_=1",
            CALLS,
        )
        .unwrap();
        assert_eq!(
            b,
            serde_json::json!({"count": 10, "seed": 42, "days": 3, "end": "2026-01-01T00:00:00Z",
                               "scenario": {"kind": "surge", "factor": 2.5}})
        );
        let b = body("scenario[kind]=outage&scenario[host]=2&scenario=", CALLS).unwrap();
        assert_eq!(
            b["scenario"],
            serde_json::json!({"kind": "outage", "host": 2})
        );
        let b = body(
            "scenario[kind]=cell_outage&scenario[area_code]=312&scenario[radius_m]=1500.5",
            CALLS,
        )
        .unwrap();
        assert_eq!(
            b["scenario"],
            serde_json::json!({"kind": "cell_outage", "area_code": 312, "radius_m": 1500.5})
        );
        let err = body("scenario[kind]=outage&scenario[host]=null", CALLS).unwrap_err();
        assert!(err.to_string().contains("expected an integer"), "{err}");
        let b = body("count=5&categories=cpu,disk", METRICS).unwrap();
        assert_eq!(
            b,
            serde_json::json!({"count": 5, "categories": ["cpu", "disk"]})
        );
        assert_eq!(body("count=-3", CALLS).unwrap()["count"], -3);
        assert_eq!(
            body("seed=18446744073709551615", CALLS).unwrap()["seed"],
            u64::MAX
        );
    }

    #[test]
    fn unknown_repeated_empty_and_mistyped_parameters_are_named() {
        for (query, field) in [
            ("colour=red", "colour"),
            ("count=1&count=2", "count"),
            ("seed=", "seed"),
            ("end=", "end"),
            ("count=+5", "count"),
            ("count=1.5", "count"),
            ("seed=-1", "seed"),
            ("seed=18446744073709551616", "seed"),
            ("scenario[factor]=NaN", "scenario[factor]"),
            ("scenario[colour]=red", "scenario[colour]"),
            ("categories=", "categories"),
        ] {
            let e = body_from_query(
                query,
                METRICS
                    .iter()
                    .chain(CALLS)
                    .copied()
                    .collect::<Vec<_>>()
                    .as_slice(),
                None,
            )
            .expect_err(query);
            assert!(
                matches!(&e, ApiError::InvalidField { field: f, .. } if f == field),
                "{query}: {e:?}"
            );
        }
    }
}
