//! A request's `model` into a [`CallModel`]: the preset's numbers as JSON, the overrides merged in
//! key by key (unknown keys and wrong types refused with their path), then every number checked.

use std::str::FromStr;

use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::MetricModel;
use super::{
    CallModel, DurationLaw, Law, MAX_CONTACTS, MAX_HUBS, NetworkModel, Phones, Preset, Tariff,
    TimeZoneMode, whole_hour_offsets,
};
use crate::generate::bounds::{DURATION_BOUNDS, ParamError, json_at, number_at};
use crate::generate::network::operator_named;

type Result<T> = std::result::Result<T, ParamError>;

fn fail<T>(field: &str, message: impl Into<String>) -> Result<T> {
    Err(ParamError::new(field, message))
}

fn preset_named(name: &str, field: &str) -> Result<Preset> {
    Preset::from_name(name).ok_or_else(|| {
        let names: Vec<_> = Preset::ALL.iter().map(|p| p.as_str()).collect();
        ParamError::new(
            field,
            format!(
                "unknown preset {name:?}; expected one of {}",
                names.join(", ")
            ),
        )
    })
}

/// See [`CallModel::parse`]: both parts of a model, each checked whichever part the caller needs.
pub(super) fn model(request: &Value) -> Result<(CallModel, MetricModel)> {
    let (preset, overrides, metric_overrides, network_overrides) = match request {
        Value::String(name) => (preset_named(name, "model")?, None, None, None),
        Value::Object(o) => {
            if let Some(k) = o
                .keys()
                .find(|k| !["preset", "network", "calls", "metrics"].contains(&k.as_str()))
            {
                return fail(
                    &format!("model.{k}"),
                    "unknown field; expected preset, network, calls or metrics",
                );
            }
            let preset = match o.get("preset") {
                None => Preset::Mobile,
                Some(Value::String(name)) => preset_named(name, "model.preset")?,
                Some(_) => return fail("model.preset", "must be a preset name"),
            };
            (preset, o.get("calls"), o.get("metrics"), o.get("network"))
        }
        _ => {
            return fail(
                "model",
                "must be a preset name (mobile, call_center, enterprise) or an object",
            );
        }
    };
    let mut merged = preset.model().to_json()["calls"].take();
    if let Some(overrides) = overrides {
        merge(&mut merged, overrides, "model.calls")?;
    }
    let mut metrics = MetricModel::default().to_json();
    if let Some(overrides) = metric_overrides {
        merge(&mut metrics, overrides, "model.metrics")?;
    }
    let mut network = preset.model().network.to_json();
    if let Some(overrides) = network_overrides {
        merge(&mut network, overrides, "model.network")?;
    }
    let calls = CallModel {
        network: read_network(&network)?,
        ..read(&merged, preset)?
    };
    Ok((calls, MetricModel::read(&metrics)?))
}

/// `model.network`: mobile or desk phones, and an operator of the table by its MCC-MNC.
fn read_network(v: &Value) -> Result<NetworkModel> {
    let phones = match v["phones"].as_str() {
        Some("mobile") => Phones::Mobile,
        Some("desk") => Phones::Desk,
        _ => return fail("model.network.phones", "must be mobile or desk"),
    };
    let operator = operator_named(v["operator"].as_str().unwrap_or_default())
        .map_err(|m| ParamError::new("model.network.operator", m))?;
    Ok(NetworkModel { phones, operator })
}

/// Writes `over` onto `base` key by key; `over` may only name keys `base` has, with the same kind
/// of value. A duration with another `law` starts from that law's defaults.
fn merge(base: &mut Value, over: &Value, path: &str) -> Result<()> {
    let (Value::Object(base), Value::Object(over)) = (&mut *base, over) else {
        return fail(path, "must be an object");
    };
    for (key, value) in over {
        let field = format!("{path}.{key}");
        let Some(slot) = base.get_mut(key) else {
            let known: Vec<&str> = base.keys().map(String::as_str).collect();
            return fail(
                &field,
                format!("unknown field; expected one of {}", known.join(", ")),
            );
        };
        if let (true, Some(law)) = (key == "duration", value.get("law")) {
            switch_law(slot, law, &format!("{field}.law"))?;
        }
        match (&*slot, value) {
            (Value::Object(_), _) => merge(slot, value, &field)?,
            (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Array(_), Value::Array(_)) => *slot = value.clone(),
            (Value::Number(_), _) => return fail(&field, "must be a number"),
            (Value::String(_), _) => return fail(&field, "must be a string"),
            (Value::Array(_), _) => return fail(&field, "must be an array of numbers"),
            _ => return fail(&field, "unexpected value"),
        }
    }
    Ok(())
}

/// Resets a duration object to `law`'s defaults (keeping median and clip) when the law changes.
fn switch_law(duration: &mut Value, law: &Value, field: &str) -> Result<()> {
    let Some(law) = law.as_str() else {
        return fail(field, "must be lognormal or loglogistic");
    };
    if duration["law"] == law {
        return Ok(());
    }
    let own = match law {
        "lognormal" => ("sigma", 1.6),
        "loglogistic" => ("shape", 2.0),
        _ => return fail(field, "must be lognormal or loglogistic"),
    };
    let mut next = Map::new();
    for key in ["median_seconds", "min_seconds", "max_seconds"] {
        next.insert(key.into(), duration[key].clone());
    }
    next.insert("law".into(), json!(law));
    next.insert(own.0.into(), json!(own.1));
    *duration = Value::Object(next);
    Ok(())
}

/// A number at `calls.<key>` within `lo..=hi`.
fn number(v: &Value, key: &str, lo: f64, hi: f64) -> Result<f64> {
    number_at(v, "model.calls", key, lo, hi)
}

/// A whole number at `calls.<key>` within `lo..=hi`.
fn whole(v: &Value, key: &str, lo: u32, hi: u32) -> Result<u32> {
    let x = number(v, key, f64::from(lo), f64::from(hi))?;
    if x.fract() != 0.0 {
        return fail(
            &format!("model.calls.{key}"),
            format!("must be a whole number, got {x}"),
        );
    }
    Ok(x as u32)
}

/// One weight: a number ≥ 0 (and at most 1e9, so sums stay exact enough).
fn weight(x: &Value, field: &str) -> Result<f64> {
    match x.as_f64() {
        None => fail(field, "must be a number"),
        Some(x) if x < 0.0 => fail(field, format!("must be ≥ 0, got {x}")),
        Some(x) if x > 1e9 => fail(field, format!("must be at most 1e9, got {x}")),
        Some(x) => Ok(x),
    }
}

/// Weights at `calls.<key>`, named (an object) or listed (an array of `N`): each ≥ 0, not all 0.
fn weights<const N: usize>(v: &Value, key: &str, names: [&str; N]) -> Result<[f64; N]> {
    let field = format!("model.calls.{key}");
    let mut out = [0.0; N];
    match json_at(v, key) {
        Value::Object(o) => {
            for (i, name) in names.iter().enumerate() {
                let x = o.get(*name).unwrap_or(&Value::Null);
                out[i] = weight(x, &format!("{field}.{name}"))?;
            }
        }
        Value::Array(items) if items.len() == N => {
            for (i, item) in items.iter().enumerate() {
                out[i] = weight(item, &format!("{field}[{i}]"))?;
            }
        }
        Value::Array(items) => {
            return fail(
                &field,
                format!("must list {N} weights, got {}", items.len()),
            );
        }
        _ => return fail(&field, "must hold weights"),
    }
    if out.iter().sum::<f64>() <= 0.0 {
        return fail(&field, "weights must not all be 0");
    }
    Ok(out)
}

fn read(v: &Value, preset: Preset) -> Result<CallModel> {
    let max = DURATION_BOUNDS.1;
    let min_seconds = whole(v, "duration.min_seconds", DURATION_BOUNDS.0, max)?;
    let max_seconds = whole(v, "duration.max_seconds", min_seconds, max)?;
    let median_seconds = number(
        v,
        "duration.median_seconds",
        f64::from(min_seconds),
        f64::from(max_seconds),
    )?;
    let law = match json_at(v, "duration.law").as_str() {
        Some("lognormal") => Law::Lognormal {
            sigma: number(v, "duration.sigma", 0.01, 4.0)?,
        },
        Some("loglogistic") => Law::Loglogistic {
            shape: number(v, "duration.shape", 0.5, 20.0)?,
        },
        _ => {
            return fail(
                "model.calls.duration.law",
                "must be lognormal or loglogistic",
            );
        }
    };
    let tariff = tariff(v)?;
    let hubs = whole(v, "hubs", 0, MAX_HUBS)?;
    let hub_share = number(v, "hub_share", 0.0, 1.0)?;
    if hubs == 0 && hub_share > 0.0 {
        return fail("model.calls.hub_share", "needs hubs of at least 1");
    }
    Ok(CallModel {
        preset,
        status: weights(v, "status", ["completed", "missed", "busy", "failed"])?,
        call_type: weights(v, "call_type", ["voice", "video", "conference"])?,
        duration: DurationLaw {
            law,
            median_seconds,
            min_seconds,
            max_seconds,
        },
        hour_weights: weights(v, "hour_weights", [""; 24])?,
        weekday_weights: weights(v, "weekday_weights", [""; 7])?,
        time_zone: time_zone(json_at(v, "time_zone"))?,
        activity_exponent: number(v, "activity_exponent", 1.0, 10.0)?,
        contacts: whole(v, "contacts", 1, MAX_CONTACTS as u32)?,
        circle_share: number(v, "circle_share", 0.0, 1.0)?,
        local_contacts: number(v, "local_contacts", 0.0, 1.0)?,
        hubs,
        hub_share,
        tariff,
        network: preset.model().network,
    })
}

/// `calls.tariff`: a fee and prices per minute of at most $100, billing `first/increment` seconds,
/// each 1–3600.
fn tariff(v: &Value) -> Result<Tariff> {
    let field = "model.calls.tariff.billing";
    let billing = json_at(v, "tariff.billing").as_str().unwrap_or_default();
    // Plain digits without a leading zero or sign, as the spec's pattern says.
    let seconds = |x: &str| -> Option<u32> {
        let plain = !x.starts_with('0') && !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        plain.then(|| x.parse().ok()).flatten()
    };
    let parts: Option<(u32, u32)> = billing
        .split_once('/')
        .and_then(|(a, b)| Some((seconds(a)?, seconds(b)?)));
    let Some((first_seconds, increment_seconds)) =
        parts.filter(|(a, b)| (1..=3600).contains(a) && (1..=3600).contains(b))
    else {
        return fail(
            field,
            format!(
                "must be FIRST/INCREMENT seconds, each 1–3600, like 60/60 or 30/6; got {billing:?}"
            ),
        );
    };
    let price = |key: &str| number(v, &format!("tariff.{key}"), 0.0, 100.0);
    Ok(Tariff {
        connection_fee: price("connection_fee")?,
        per_minute: [
            price("per_minute.voice")?,
            price("per_minute.video")?,
            price("per_minute.conference")?,
        ],
        first_seconds,
        increment_seconds,
    })
}

fn time_zone(v: &Value) -> Result<TimeZoneMode> {
    let field = "model.calls.time_zone";
    match v.as_str() {
        Some("area_code") => Ok(TimeZoneMode::AreaCode),
        Some("UTC") => Ok(TimeZoneMode::Utc),
        Some(name) => {
            let tz = Tz::from_str(name).map_err(|_| {
                ParamError::new(
                    field,
                    format!("{name:?} is not an IANA time zone; use area_code, UTC or e.g. America/Chicago"),
                )
            })?;
            if !whole_hour_offsets(tz) {
                return fail(
                    field,
                    format!("{name} has UTC offsets that are not whole hours; choose another zone"),
                );
            }
            Ok(TimeZoneMode::Fixed(tz))
        }
        None => fail(field, "must be area_code, UTC or an IANA time zone"),
    }
}
