//! Scenario `race`: the ceiling and a service job at once, on one server. Run apart, the two are
//! timed minutes from each other, and a busy server drifts by more than the gap between them from
//! one minute to the next. Run together they share every moment of it: each sends its batches as
//! fast as its own side allows, and the server answers both. How many documents the service lands
//! while the ceiling lands a given number then says whether the service keeps its slots as busy
//! as the raw driver, whatever the server's pace that minute. A second ceiling racing the first
//! (the control) shows what an even race reads, and the two pairs' combined rates what the
//! service's writes beside its documents (rollups, job records) cost the server, which slows both
//! racers. `BENCH_REPS` rounds of each kind in `BENCH_KINDS`, `BENCH_E2E_COUNT` documents each
//! racer.

use std::future::Future;
use std::time::{Duration, Instant};

use linq_datagen::pipeline::RunSpec;
use mongodb::{Client, Collection};

use crate::ceiling::Ceiling;
use crate::service::{Service, job};
use crate::shared::{CEILING_DB, Kind, SERVICE_DB, Settings, cpu_seconds, drop_db, median, settle};

pub async fn run(s: &Settings) {
    let ceilings = [
        Ceiling::connect(&s.uri, CEILING_DB).await,
        Ceiling::connect(&s.uri, CONTROL_DB).await,
    ];
    let setup = Setup {
        uri: &s.uri,
        db: SERVICE_DB,
        n: s.count,
        batching: (s.batch, s.inflight),
        settle_secs: s.settle_secs,
        server_pid: s.server_pid,
    };
    println!(
        "race: the time-ordered ceiling racing a service job, and racing a second ceiling (the \
         control), {} documents each, batches of {} with {} in flight each; the other's \
         documents landed per ceiling document, from both past 10 % to either past 90 %, the \
         two together per second, and the CPU seconds of the server, the service and the \
         benchmark per 1,000,000 documents landed in that window; the control first in odd \
         rounds",
        s.count, s.batch, s.inflight
    );
    for kind in &s.kinds {
        rounds(&ceilings, kind, &setup, s.reps).await;
    }
    for db in [setup.db, CEILING_DB, CONTROL_DB] {
        drop_db(&s.uri, db).await;
    }
}

/// `reps` rounds of one kind, each a service race and a control race, and their medians.
async fn rounds(ceilings: &[Ceiling; 2], kind: &Kind, setup: &Setup<'_>, reps: usize) {
    let (path, spec) = (kind.path, &kind.spec);
    let (mut service, mut control, mut together) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=reps {
        let race = async |with_service: bool| {
            let p = if with_service {
                against_service(&ceilings[0], spec, path, setup).await
            } else {
                against_ceiling(ceilings, spec, setup).await
            };
            let (server, svc, bench) = p.cpu;
            println!(
                "  {path} round {round}, {}: {:.3} (ceiling {:.0}, other {:.0} docs/s over \
                 {:.1} s, {} samples; CPU per 1,000,000: server {server:.1}, service \
                 {svc:.1}, benchmark {bench:.1})",
                if with_service { "service" } else { "control" },
                p.ratio,
                p.rates.0,
                p.rates.1,
                p.window,
                p.samples
            );
            p
        };
        let first = race(round % 2 == 0).await;
        let second = race(round % 2 == 1).await;
        let (s, c) = if round % 2 == 0 {
            (first, second)
        } else {
            (second, first)
        };
        together.push((s.rates.0 + s.rates.1) / (c.rates.0 + c.rates.1));
        service.push(s.ratio);
        control.push(c.ratio);
    }
    println!(
        "  {path}: service per ceiling document, median {:.3}; control {:.3}; the service's \
         pair together per second against the control's, median {:.3} ({reps} rounds)",
        median(service),
        median(control),
        median(together)
    );
}

/// Where the control ceiling writes.
const CONTROL_DB: &str = "bench_ceiling_control";

/// What every race shares.
struct Setup<'a> {
    /// The server.
    uri: &'a str,
    /// The service's database.
    db: &'a str,
    /// Documents each racer writes.
    n: u32,
    /// Batch size and batches in flight, for every racer.
    batching: (usize, usize),
    /// Quiet seconds before a race.
    settle_secs: u64,
    /// The server's process, for its CPU.
    server_pid: Option<u32>,
}

/// What one race measured.
struct Pair {
    /// The other racer's documents landed per ceiling document landed, over the window.
    ratio: f64,
    /// The window: from both having 10 % of their documents to the first reaching 90 %, seconds.
    window: f64,
    /// Documents per second each landed in the window: (ceiling, other).
    rates: (f64, f64),
    /// Count samples inside the window.
    samples: usize,
    /// CPU seconds per 1,000,000 documents landed by both in the window: the server's, the
    /// service's and the benchmark's own (NaN where there is none, as the service in a control
    /// race, or it is unknown). On two shared cores this is what a document costs the machine,
    /// whoever spends it.
    cpu: (f64, f64, f64),
}

/// The ceiling against a service job on a fresh process: the ceiling's documents built, the
/// server settled, then its inserts and `POST path` started together.
async fn against_service(ceiling: &Ceiling, spec: &RunSpec, path: &str, at: &Setup<'_>) -> Pair {
    let (batch, inflight) = at.batching;
    // Drops the last race's ceiling documents and builds this one's before the quiet.
    let batches = ceiling.prepare(spec, at.n, batch, false).await;
    settle(at.uri, &[at.db, CONTROL_DB], at.settle_secs, None).await;
    let svc = Service::start(at.uri, at.db, batch, inflight);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    let name = spec.kind().collection();
    let ours = Client::with_uri_str(at.uri)
        .await
        .unwrap()
        .database(at.db)
        .collection(name);
    let pids = [
        at.server_pid,
        Some(svc.child.id()),
        Some(std::process::id()),
    ];
    race(
        [ceiling.db.collection(name), ours],
        u64::from(at.n),
        pids,
        ceiling.insert(spec, batches, inflight),
        async {
            job(&svc, &http, path, u64::from(at.n), at.uri, at.db).await;
        },
    )
    .await
}

/// The ceiling against a second one writing the same documents into `CONTROL_DB`.
async fn against_ceiling(ceilings: &[Ceiling; 2], spec: &RunSpec, at: &Setup<'_>) -> Pair {
    let (batch, inflight) = at.batching;
    let a = ceilings[0].prepare(spec, at.n, batch, false).await;
    let b = ceilings[1].prepare(spec, at.n, batch, false).await;
    settle(at.uri, &[at.db], at.settle_secs, None).await;
    let name = spec.kind().collection();
    race(
        [
            ceilings[0].db.collection(name),
            ceilings[1].db.collection(name),
        ],
        u64::from(at.n),
        [at.server_pid, None, Some(std::process::id())],
        ceilings[0].insert(spec, a, inflight),
        ceilings[1].insert(spec, b, inflight),
    )
    .await
}

/// One instant of a race: both collections' counts, and the CPU seconds so far of the server,
/// the service and the benchmark (NaN where there is none or it is unknown).
#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    theirs: u64,
    ours: u64,
    cpu: [f64; 3],
}

/// Runs `first` (writing the ceiling's collection, `colls[0]`) and `second` (writing `colls[1]`)
/// together, counting both collections at the same instants every 250 ms until both hold `n`;
/// `pids` are the server, the service and the benchmark, for their CPU.
async fn race(
    colls: [Collection<bson::Document>; 2],
    n: u64,
    pids: [Option<u32>; 3],
    first: impl Future<Output = ()>,
    second: impl Future<Output = ()>,
) -> Pair {
    let sampler = async {
        let mut samples = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(1800);
        while Instant::now() < deadline {
            let (c, s) = tokio::join!(
                colls[0].estimated_document_count(),
                colls[1].estimated_document_count()
            );
            let (theirs, ours) = (c.unwrap_or(0), s.unwrap_or(0));
            samples.push(Sample {
                at: Instant::now(),
                theirs,
                ours,
                cpu: pids.map(|pid| pid.map_or(f64::NAN, cpu_seconds)),
            });
            if theirs >= n && ours >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        samples
    };
    let (samples, (), ()) = tokio::join!(sampler, first, second);
    window(&samples, n)
}

/// The ratio over the samples where both racers are past their first 10 % and neither past 90 %:
/// start-up and the tail, where one runs alone, are left out.
fn window(samples: &[Sample], n: u64) -> Pair {
    let (low, high) = (n / 10, n - n / 10);
    let first = samples
        .iter()
        .position(|s| s.theirs >= low && s.ours >= low);
    let last = samples
        .iter()
        .rposition(|s| s.theirs <= high && s.ours <= high);
    let (i, j) = match (first, last) {
        (Some(i), Some(j)) if j > i => (i, j),
        // One racer was done before the other got going: no shared window.
        _ => {
            return Pair {
                ratio: f64::NAN,
                window: 0.0,
                rates: (f64::NAN, f64::NAN),
                samples: 0,
                cpu: (f64::NAN, f64::NAN, f64::NAN),
            };
        }
    };
    let (a, b) = (samples[i], samples[j]);
    let secs = (b.at - a.at).as_secs_f64();
    let (dc, ds) = ((b.theirs - a.theirs) as f64, (b.ours - a.ours) as f64);
    let per_million = |k: usize| (b.cpu[k] - a.cpu[k]) * 1e6 / (dc + ds);
    Pair {
        ratio: ds / dc,
        window: secs,
        rates: (dc / secs, ds / secs),
        samples: j - i + 1,
        cpu: (per_million(0), per_million(1), per_million(2)),
    }
}
