//! Scenario `end-to-end`: the service over HTTP, rollups kept, against the ceiling on the same
//! server. `BENCH_REPS` rounds at `BENCH_E2E_COUNT` documents of each kind, each round a
//! time-ordered ceiling run and a service run on a fresh process in alternating order (and for
//! calls a scattered-order ceiling run first), medians and round-by-round ratios compared; the
//! server's CPU per 1,000,000 documents in both and in the settles between; the service's peak
//! memory. Then one ceiling run and one service job of each kind at `BENCH_BIG_COUNT`, and how
//! the service's rate holds from the small count to the large.

use crate::ceiling::Ceiling;
use crate::service::{Service, job};
use crate::shared::{
    CEILING_DB, Kind, SERVICE_DB, Settings, cpu_per_million, cpu_seconds, drop_db, median, rounded,
    settle, two_decimals,
};

/// The databases every settle drops: each run leaves its documents for the next settle, so no
/// timed run carries a drop.
const BOTH: [&str; 2] = [CEILING_DB, SERVICE_DB];

pub async fn run(s: &Settings) {
    let ceiling = Ceiling::connect(&s.uri, CEILING_DB).await;
    let (synced, _) = settle(&s.uri, &BOTH, 0, None).await;
    println!(
        "end to end: {} documents a run, batches of {} with {} in flight; ceiling runs \
         (pre-built documents, no rollups) and service runs (over HTTP, rollups kept) alternate, \
         the ceiling first in odd rounds and the service first in even ones, {} rounds, \
         medians compared; before each run both benchmark databases are dropped, {} and \
         {} s pass",
        s.count,
        s.batch,
        s.inflight,
        s.reps,
        if synced {
            "the server checkpoints (fsync)"
        } else {
            "(fsync refused by this server)"
        },
        s.settle_secs
    );
    let mut calls_rate = f64::NAN;
    for kind in &s.kinds {
        let rounds = Rounds::run(s, &ceiling, kind).await;
        rounds.print_rates(kind);
        rounds.print_cpu();
        if kind.calls {
            calls_rate = median(rounds.services.clone());
        }
    }
    if s.big > 0 {
        large(s, &ceiling, calls_rate).await;
    }
    drop_db(&s.uri, SERVICE_DB).await;
    drop_db(&s.uri, CEILING_DB).await;
}

/// What the rounds of one kind measured.
#[derive(Default)]
struct Rounds {
    /// Documents per second of the scattered-order ceiling runs (calls only).
    scattered: Vec<f64>,
    /// Documents per second of the time-ordered ceiling runs.
    ordered: Vec<f64>,
    /// Documents per second of the service runs, request to done.
    services: Vec<f64>,
    /// The server's CPU seconds per 1,000,000 documents in the time-ordered ceiling runs, to set
    /// beside the service runs': what the rollups and job records cost the server.
    ceiling_cpu: Vec<f64>,
    /// The same for the service runs, rollups, job records and status reads included.
    service_cpu: Vec<f64>,
    /// The server's CPU while settling before each service run: the fsync, the quiet and the
    /// drop of the run before (of a ceiling's documents, or when `true` of a service run's with
    /// its rollups).
    settle_cpu: Vec<(f64, bool)>,
    /// The service's peak memory over its runs, MB.
    peak: f64,
}

impl Rounds {
    async fn run(s: &Settings, ceiling: &Ceiling, kind: &Kind) -> Self {
        let mut rounds = Self::default();
        let http = reqwest::Client::new();
        for round in 1..=s.reps {
            if kind.calls {
                let (rate, _) = ceiling.timed(s, &kind.spec, s.count, true).await;
                rounds.scattered.push(rate);
            }
            // Neither kind of run always follows the other: a server that drifts within a
            // round (its cache, its checkpoints) favours neither. Without a scattered run
            // between, an even round's service run follows the odd round's.
            if round % 2 == 0 {
                rounds.service(s, kind, &http, !kind.calls).await;
                rounds.ceiling(s, ceiling, kind).await;
            } else {
                rounds.ceiling(s, ceiling, kind).await;
                rounds.service(s, kind, &http, false).await;
            }
        }
        rounds
    }

    /// One timed time-ordered ceiling run, after a settle.
    async fn ceiling(&mut self, s: &Settings, ceiling: &Ceiling, kind: &Kind) {
        let (rate, cpu) = ceiling.timed(s, &kind.spec, s.count, false).await;
        self.ordered.push(rate);
        self.ceiling_cpu.extend(cpu);
    }

    /// One timed service run on a fresh process, after a settle whose drop is of a service run's
    /// documents when `after_service`.
    async fn service(&mut self, s: &Settings, kind: &Kind, http: &reqwest::Client, after: bool) {
        let (_, cpu) = settle(&s.uri, &BOTH, s.settle_secs, s.server_pid).await;
        self.settle_cpu.extend(cpu.map(|c| (c, after)));
        let svc = Service::start(&s.uri, SERVICE_DB, s.batch, s.inflight);
        svc.wait_ready(http).await;
        let n = u64::from(s.count);
        let before = s.server_pid.map(cpu_seconds);
        let done = job(&svc, http, kind.path, n, &s.uri, SERVICE_DB).await;
        self.service_cpu
            .extend(cpu_per_million(s.server_pid, before, n));
        self.peak = self.peak.max(svc.peak_rss_mb());
        self.services.push(done.rate);
    }

    fn print_rates(&self, kind: &Kind) {
        let (o, e) = (median(self.ordered.clone()), median(self.services.clone()));
        println!("  {}:", kind.path);
        let ordered = if kind.calls {
            let sc = median(self.scattered.clone());
            println!(
                "    ceiling, scattered start times: {:?} docs/s, median {sc:.0}",
                rounded(&self.scattered)
            );
            println!(
                "    service / scattered ceiling: {:.2} (target ≥ 1.3)",
                e / sc
            );
            "ceiling, time order:           "
        } else {
            "ceiling:                       "
        };
        println!(
            "    {ordered} {:?} docs/s, median {o:.0}",
            rounded(&self.ordered)
        );
        println!(
            "    service (rollups on):           {:?} docs/s, median {e:.0}",
            rounded(&self.services)
        );
        // The two runs of a round are next to each other, so the pairs share the server's state
        // (cache, files, checkpoints) more closely than the medians do.
        let pairs: Vec<f64> = self
            .ordered
            .iter()
            .zip(&self.services)
            .map(|(o, s)| s / o)
            .collect();
        println!(
            "    service / time-ordered ceiling: {:.2} (target ≥ 0.95); round by round {}",
            e / o,
            two_decimals(&pairs)
        );
        println!("    peak RSS of the service: {:.1} MB", self.peak);
    }

    /// The server's CPU figures, when its process is known.
    fn print_cpu(&self) {
        if self.ceiling_cpu.is_empty() {
            return;
        }
        println!(
            "    server CPU seconds per 1,000,000 in the time-ordered ceiling runs: {}",
            two_decimals(&self.ceiling_cpu)
        );
        println!(
            "    server CPU seconds per 1,000,000 in the service runs: {}",
            two_decimals(&self.service_cpu)
        );
        let secs: Vec<String> = self
            .settle_cpu
            .iter()
            .map(|(s, after_service)| format!("{s:.2}{}", if *after_service { " (s)" } else { "" }))
            .collect();
        println!(
            "    server CPU seconds settling before the service runs, a drop of the run before \
             included ((s): a service run's, otherwise a ceiling's): {}",
            secs.join(", ")
        );
    }
}

/// One ceiling run and one service job of each kind at `BENCH_BIG_COUNT` documents, the service
/// on one process throughout; `calls_rate` is the service's median calls rate at
/// `BENCH_E2E_COUNT`.
async fn large(s: &Settings, ceiling: &Ceiling, calls_rate: f64) {
    let (n1, n2) = (s.count, s.big);
    println!("  {n2} documents of each kind:");
    let calls = s.kinds.iter().find(|k| k.calls);
    let mut calls_ceiling = None;
    if let Some(kind) = calls {
        if s.big_scattered {
            let (r, _) = ceiling.timed(s, &kind.spec, n2, true).await;
            println!("    calls, ceiling, scattered start times: {r:>9.0} docs/s");
        }
        let (r, _) = ceiling.timed(s, &kind.spec, n2, false).await;
        println!("    calls, ceiling, time order:            {r:>9.0} docs/s");
        calls_ceiling = Some(r);
    }
    settle(&s.uri, &BOTH, s.settle_secs, None).await;
    let svc = Service::start(&s.uri, SERVICE_DB, s.batch, s.inflight);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    if let (Some(kind), Some(r)) = (calls, calls_ceiling) {
        let done = job(&svc, &http, kind.path, u64::from(n2), &s.uri, SERVICE_DB).await;
        println!(
            "    calls, service job (defaults):         {:>9.0} docs/s",
            done.rate
        );
        println!(
            "    calls, service / time-ordered ceiling at {n2}: {:.2} (target ≥ 0.95)",
            done.rate / r
        );
        println!(
            "    calls, service rate at {n2} / rate at {n1}: {:.2} (target ≥ 0.8)",
            done.rate / calls_rate
        );
    }
    if let Some(kind) = s.kinds.iter().find(|k| !k.calls) {
        // The calls job's documents stay: the points' ceiling and job both run beside them.
        settle(&s.uri, &[CEILING_DB], s.settle_secs, None).await;
        let r = ceiling
            .once(&kind.spec, n2, s.batch, s.inflight, false)
            .await;
        println!("    metric points, ceiling:                {r:>9.0} docs/s");
        settle(&s.uri, &[CEILING_DB], s.settle_secs, None).await;
        let done = job(&svc, &http, kind.path, u64::from(n2), &s.uri, SERVICE_DB).await;
        println!(
            "    metric points, service job:            {:>9.0} docs/s",
            done.rate
        );
        println!(
            "    metric points, service / ceiling at {n2}: {:.2} (target ≥ 0.95)",
            done.rate / r
        );
    }
    println!(
        "    peak RSS of the service through the large jobs: {:.1} MB (target ≤ 150 MB)",
        svc.peak_rss_mb()
    );
}
