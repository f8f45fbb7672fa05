//! Scenario `generation`: documents per second of generation alone, and of generation with the
//! rollup contribution a run's producer thread computes, on one core; no database. Calls twice:
//! with network identities (mobile phones, the default) and without (desk phones), so the cost of
//! the identities shows in one run. Text messages through the same pipeline (records per second,
//! `count` threads). Then data sessions (issue 39: not yet part of a run): records per second of
//! the generator writing a session's records as BSON.
//! `BENCH_GEN_COUNT` documents of each kind a round (default 2,000,000), `BENCH_REPS` rounds
//! (default 3), medians.

use std::time::Instant;

use linq_datagen::generate::RunId;
use linq_datagen::pipeline::{RunSpec, Spares};

use linq_datagen::generate::Params;
use linq_datagen::generate::model::Phones;
use linq_datagen::generate::sessions::SessionGenerator;
use linq_datagen::generate::sms::TrafficParams;

use crate::shared::{call_spec, env_or, median, metric_spec};

/// `count` calls of desk phones: the default calls without identities.
fn desk_call_spec(count: u32) -> RunSpec {
    let mut spec = call_spec(count);
    if let Params::Calls(p) = &mut spec.params {
        p.model.network.phones = Phones::Desk;
    }
    spec
}

pub fn run() {
    let count: u32 = env_or("BENCH_GEN_COUNT", 2_000_000);
    let reps: usize = env_or("BENCH_REPS", 3);
    println!(
        "generation alone and with the rollup contribution, one core, {count} documents a round"
    );
    for (kind, spec) in [
        ("calls", call_spec(count)),
        (
            "calls without identities (desk phones)",
            desk_call_spec(count),
        ),
        ("metrics", metric_spec(count)),
        (
            "sms (records of `count` threads)",
            RunSpec::new(Params::Sms(traffic_params(count)), count, Some(1)),
        ),
    ] {
        let alone: Vec<f64> = (0..reps).map(|_| generation_rate(&spec)).collect();
        let producer: Vec<f64> = (0..reps).map(|_| producer_rate(&spec)).collect();
        println!(
            "  {kind:<40} generation {:>10.0} docs/s (median of {reps}), with rollups {:>10.0} docs/s",
            median(alone),
            median(producer)
        );
    }
    let kind = "sessions (records of `count` sessions)";
    let rounds: Vec<(f64, f64)> = (0..reps).map(|_| session_rate(count)).collect();
    let bytes = rounds[0].1;
    println!(
        "  {kind:<40} generation {:>10.0} records/s (median of {reps}), {bytes:.0} bytes a record",
        median(rounds.into_iter().map(|(r, _)| r).collect())
    );
}

/// Documents per second of generation alone, on this thread (one core); each batch is given back
/// for its buffers once counted, as a run gives back each batch once inserted.
fn generation_rate(spec: &RunSpec) -> f64 {
    let run = RunId::new(1, 2);
    let started = Instant::now();
    let (mut bytes, mut docs) = (0usize, 0usize);
    let spares = Spares::up_to(1);
    for batch in spec.batches_reusing(run, 5000, spares.clone()) {
        bytes += batch.iter().map(|d| d.as_bytes().len()).sum::<usize>();
        docs += batch.len();
        spares.give(batch);
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(bytes > 0);
    docs as f64 / secs
}

/// Documents per second of what a run's producer thread does per batch, on this thread: the
/// documents generated with their contribution to the rollups summed (the service's cost per
/// document before the driver, of which generation alone is a part).
fn producer_rate(spec: &RunSpec) -> f64 {
    let run = RunId::new(1, 2);
    let started = Instant::now();
    let (mut parts, mut docs) = (0usize, 0usize);
    let spares = Spares::up_to(1);
    for (batch, rollup) in spec.tallied_batches_reusing(run, 10_000, spares.clone()) {
        std::hint::black_box(&batch);
        parts += rollup.cells(|_| true).len();
        docs += batch.len();
        spares.give(batch);
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(parts > 0);
    docs as f64 / secs
}

/// The default (mobile) model's window of the call spec (30 days, 10,000 subscribers).
fn traffic_params(count: u32) -> TrafficParams {
    let p = match call_spec(count).params {
        Params::Calls(p) => p,
        _ => unreachable!("a call spec"),
    };
    TrafficParams {
        end: p.end,
        days: p.days,
        subscribers: p.subscribers,
        model: p.model,
    }
}

/// Records per second of `write` over `count` draws, and their mean size in bytes.
fn records_rate(
    count: u32,
    mut write: impl FnMut(u32, &mut Vec<bson::RawDocumentBuf>),
) -> (f64, f64) {
    let started = Instant::now();
    let (mut records, mut bytes) = (0usize, 0usize);
    let mut out = Vec::with_capacity(5_000);
    for i in 0..count {
        write(i, &mut out);
        if out.len() >= 4_096 {
            records += out.len();
            bytes += out.iter().map(|d| d.as_bytes().len()).sum::<usize>();
            out.clear();
        }
    }
    records += out.len();
    bytes += out.iter().map(|d| d.as_bytes().len()).sum::<usize>();
    let secs = started.elapsed().as_secs_f64();
    (records as f64 / secs, bytes as f64 / records as f64)
}

/// Records per second of the data-session generator over `count` sessions.
fn session_rate(count: u32) -> (f64, f64) {
    let g = SessionGenerator::new(traffic_params(count), 1, count).expect("mobile phones");
    let run = RunId::new(1, 2);
    records_rate(count, |i, out| g.documents(run, i, out))
}
