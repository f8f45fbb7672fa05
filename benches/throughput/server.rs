//! Scenario `server`: what a service run costs the server besides its documents: the server's
//! own counters (`serverStatus`: commands by name, documents, bytes) and both processes' CPU,
//! before and after one job of `BENCH_E2E_COUNT` documents of each kind (and one of
//! `BENCH_BIG_COUNT` calls), per 1,000,000 documents. The benchmark's own requests during the run
//! are counted apart so they can be told from the service's.

use std::collections::BTreeMap;

use bson::{Bson, Document, doc};
use mongodb::Client;

use crate::service::{Service, job};
use crate::shared::{SERVICE_DB, Settings, cpu_seconds, drop_db, settle};

pub async fn run(s: &Settings) {
    let counters = Client::with_uri_str(&s.uri).await.unwrap();
    let http = reqwest::Client::new();
    println!(
        "server counters: one service job on a fresh process and a settled server (the database \
         dropped, a checkpoint, {} s of quiet), batches of {} with {} in flight",
        s.settle_secs, s.batch, s.inflight
    );
    let mut jobs: Vec<_> = s.kinds.iter().map(|k| (k.path, s.count)).collect();
    if s.big > 0 && s.kinds.iter().any(|k| k.calls) {
        jobs.push(("/generate/calls", s.big));
    }
    for (path, n) in jobs {
        settle(&s.uri, &[SERVICE_DB], s.settle_secs, None).await;
        let svc = Service::start(&s.uri, SERVICE_DB, s.batch, s.inflight);
        svc.wait_ready(&http).await;
        let before = Snapshot::take(&counters, svc.child.id(), s.server_pid).await;
        let done = job(&svc, &http, path, u64::from(n), &s.uri, SERVICE_DB).await;
        let after = Snapshot::take(&counters, svc.child.id(), s.server_pid).await;
        println!("  {path}, {n} documents, {:.0} docs/s:", done.rate);
        after.report_since(&before, u64::from(n), done.polls, done.counts);
    }
    drop_db(&s.uri, SERVICE_DB).await;
}

/// The server's counters at one moment, flattened (`commands.insert`, `document.inserted`,
/// `network.bytesIn`, …), with the CPU seconds of the service and the server.
pub struct Snapshot {
    counters: BTreeMap<String, f64>,
    service_cpu: f64,
    server_cpu: Option<f64>,
}

fn number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(x) => Some(*x),
        _ => None,
    }
}

impl Snapshot {
    /// Reads the counters now; `service` and `server` are the processes whose CPU is taken.
    pub async fn take(client: &Client, service: u32, server: Option<u32>) -> Self {
        let status = client
            .database("admin")
            .run_command(doc! { "serverStatus": 1 })
            .await
            .expect("serverStatus");
        let mut counters = BTreeMap::new();
        let sub = |d: &Document, k: &str| d.get_document(k).ok().cloned().unwrap_or_default();
        let metrics = sub(&status, "metrics");
        for (name, v) in sub(&metrics, "commands") {
            if let Some(total) = v
                .as_document()
                .and_then(|c| c.get("total"))
                .and_then(number)
            {
                counters.insert(format!("commands.{name}"), total);
            }
        }
        for (name, v) in sub(&metrics, "document") {
            if let Some(n) = number(&v) {
                counters.insert(format!("document.{name}"), n);
            }
        }
        for name in ["bytesIn", "bytesOut", "numRequests"] {
            if let Some(n) = sub(&status, "network").get(name).and_then(number) {
                counters.insert(format!("network.{name}"), n);
            }
        }
        Self {
            counters,
            service_cpu: cpu_seconds(service),
            server_cpu: server.map(cpu_seconds),
        }
    }

    /// The server's CPU seconds from `before` to `self` per 1,000,000 of `docs` documents, when
    /// the server's process is known.
    pub fn server_cpu_per_million(&self, before: &Snapshot, docs: u64) -> Option<f64> {
        let (a, b) = self.server_cpu.zip(before.server_cpu)?;
        Some((a - b) * 1_000_000.0 / docs as f64)
    }

    /// Prints what changed from `before` to `self` per 1,000,000 of `docs` documents, noting the
    /// benchmark's own `polls` (status reads over HTTP, each a `find` by the service) and
    /// `counts` (`count` commands it sent itself).
    pub fn report_since(&self, before: &Snapshot, docs: u64, polls: u64, counts: u64) {
        let per = 1_000_000.0 / docs as f64;
        println!(
            "    per 1,000,000 documents (the benchmark's own: {:.0} status reads, each a find, \
             and {:.0} count commands; 2 serverStatus):",
            polls as f64 * per,
            counts as f64 * per
        );
        for (name, after) in &self.counters {
            let delta = after - before.counters.get(name).copied().unwrap_or(0.0);
            if delta > 0.0 {
                println!("      {name:<28} {:>14.0}", delta * per);
            }
        }
        let inserted = self
            .counters
            .get("document.inserted")
            .copied()
            .unwrap_or(0.0)
            - before
                .counters
                .get("document.inserted")
                .copied()
                .unwrap_or(0.0);
        let bytes = self.counters.get("network.bytesIn").copied().unwrap_or(0.0)
            - before
                .counters
                .get("network.bytesIn")
                .copied()
                .unwrap_or(0.0);
        if inserted > 0.0 {
            println!(
                "      documents inserted besides the run's: {:.0}; bytes in per run document: {:.0}",
                (inserted - docs as f64) * per,
                bytes / docs as f64
            );
        }
        let service = (self.service_cpu - before.service_cpu) * per;
        match self.server_cpu_per_million(before, docs) {
            Some(server) => println!("      CPU seconds: service {service:.2}, server {server:.2}"),
            None => println!("      CPU seconds: service {service:.2}"),
        }
    }
}
