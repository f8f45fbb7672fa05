//! (h) The ceiling and a service job at once, on one server. Run apart, the two are timed minutes
//! from each other, and a busy server drifts by more than the gap between them from one minute
//! to the next. Run together they share every moment of it: each sends its batches as fast as
//! its own side allows, and the server answers both. How many documents the service lands while
//! the ceiling lands a given number then says whether the service keeps its slots as busy as the
//! raw driver, whatever the server's pace that minute. A second ceiling racing the first (the
//! control) shows what an even race reads, and the two pairs' combined rates what the service's
//! writes beside its documents (rollups, job records) cost the server, which slows both racers.

use std::future::Future;
use std::time::{Duration, Instant};

use mongodb::{Client, Collection};

use super::{
    CEILING_DB, Ceiling, RunSpec, Service, ceiling_store, drop_db, end_to_end, median, settle,
};

/// (h) alone: `reps` rounds of each kind in `runs`, each a service job and a control (a second
/// ceiling) racing the ceiling, `n` documents apiece, and the medians.
pub async fn run(
    uri: &str,
    runs: &[(&str, RunSpec, bool, bool)],
    n: u32,
    batching: (usize, usize),
    reps: usize,
    settle_secs: u64,
) {
    let ceilings = [
        ceiling_store(uri, CEILING_DB).await,
        ceiling_store(uri, CONTROL_DB).await,
    ];
    let setup = Setup {
        uri,
        db: "bench_e2e",
        n,
        batching,
        settle_secs,
    };
    println!(
        "(h) the time-ordered ceiling racing a service job, and racing a second ceiling (the \
         control), {n} documents each, batches of {} with {} in flight each; the other's \
         documents landed per ceiling document, from both past 10 % to either past 90 %, and the \
         two together per second; the control first in odd rounds",
        batching.0, batching.1
    );
    for (path, spec, _, _) in runs.iter().filter(|run| run.3) {
        let (mut service, mut control, mut together) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=reps {
            let race = async |with_service: bool| {
                let p = if with_service {
                    against_service(&ceilings[0], spec, path, &setup).await
                } else {
                    against_ceiling(&ceilings, spec, &setup).await
                };
                println!(
                    "  {path} round {round}, {}: {:.3} (ceiling {:.0}, other {:.0} docs/s over \
                     {:.1} s, {} samples)",
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
    for db in [setup.db, CEILING_DB, CONTROL_DB] {
        drop_db(uri, db).await;
    }
}

/// Where the control ceiling writes.
pub const CONTROL_DB: &str = "bench_ceiling_control";

/// What every race shares.
pub struct Setup<'a> {
    /// The server.
    pub uri: &'a str,
    /// The service's database.
    pub db: &'a str,
    /// Documents each racer writes.
    pub n: u32,
    /// Batch size and batches in flight, for every racer.
    pub batching: (usize, usize),
    /// Quiet seconds before a race.
    pub settle_secs: u64,
}

/// What one race measured.
pub struct Pair {
    /// The other racer's documents landed per ceiling document landed, over the window.
    pub ratio: f64,
    /// The window: from both having 10 % of their documents to the first reaching 90 %, seconds.
    pub window: f64,
    /// Documents per second each landed in the window: (ceiling, other).
    pub rates: (f64, f64),
    /// Count samples inside the window.
    pub samples: usize,
}

/// The ceiling against a service job on a fresh process: the ceiling's documents built, the
/// server settled, then its inserts and `POST path` started together.
pub async fn against_service(
    ceiling: &Ceiling,
    spec: &RunSpec,
    path: &str,
    at: &Setup<'_>,
) -> Pair {
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
    race(
        ceiling.db.collection(name),
        ours,
        u64::from(at.n),
        ceiling.insert(spec, batches, inflight),
        async {
            end_to_end(&svc, &http, path, u64::from(at.n), at.uri, at.db).await;
        },
    )
    .await
}

/// The ceiling against a second one writing the same documents into `CONTROL_DB`.
pub async fn against_ceiling(ceilings: &[Ceiling; 2], spec: &RunSpec, at: &Setup<'_>) -> Pair {
    let (batch, inflight) = at.batching;
    let a = ceilings[0].prepare(spec, at.n, batch, false).await;
    let b = ceilings[1].prepare(spec, at.n, batch, false).await;
    settle(at.uri, &[at.db], at.settle_secs, None).await;
    let name = spec.kind().collection();
    race(
        ceilings[0].db.collection(name),
        ceilings[1].db.collection(name),
        u64::from(at.n),
        ceilings[0].insert(spec, a, inflight),
        ceilings[1].insert(spec, b, inflight),
    )
    .await
}

/// Runs `first` and `second` together, counting `theirs` and `ours` at the same instants every
/// 250 ms until both hold `n`.
async fn race(
    theirs: Collection<bson::Document>,
    ours: Collection<bson::Document>,
    n: u64,
    first: impl Future<Output = ()>,
    second: impl Future<Output = ()>,
) -> Pair {
    let sampler = async {
        let mut samples = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(1800);
        while Instant::now() < deadline {
            let (c, s) = tokio::join!(
                theirs.estimated_document_count(),
                ours.estimated_document_count()
            );
            let (c, s) = (c.unwrap_or(0), s.unwrap_or(0));
            samples.push((Instant::now(), c, s));
            if c >= n && s >= n {
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
fn window(samples: &[(Instant, u64, u64)], n: u64) -> Pair {
    let (low, high) = (n / 10, n - n / 10);
    let first = samples.iter().position(|&(_, c, s)| c >= low && s >= low);
    let last = samples
        .iter()
        .rposition(|&(_, c, s)| c <= high && s <= high);
    let (i, j) = match (first, last) {
        (Some(i), Some(j)) if j > i => (i, j),
        // One racer was done before the other got going: no shared window.
        _ => {
            return Pair {
                ratio: f64::NAN,
                window: 0.0,
                rates: (f64::NAN, f64::NAN),
                samples: 0,
            };
        }
    };
    let ((t0, c0, s0), (t1, c1, s1)) = (samples[i], samples[j]);
    let secs = (t1 - t0).as_secs_f64();
    let (dc, ds) = ((c1 - c0) as f64, (s1 - s0) as f64);
    Pair {
        ratio: ds / dc,
        window: secs,
        rates: (dc / secs, ds / secs),
        samples: j - i + 1,
    }
}
