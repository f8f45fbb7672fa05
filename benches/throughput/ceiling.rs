//! Scenario `ceiling`: the server's raw insert ceiling, the rate the plain driver reaches with the
//! service's batching: pre-built documents (no rollups) sent unordered into collections set up as
//! the service sets up its own, calls with their start times in scattered and in time order, at
//! `BENCH_E2E_COUNT` documents for `BENCH_REPS` rounds and once at `BENCH_BIG_COUNT`, with the
//! server's CPU per 1,000,000 documents. The end-to-end and race scenarios measure the service
//! against the same ceiling.

use std::time::Instant;

use bson::RawDocumentBuf;
use futures::StreamExt;
use linq_datagen::config::DbSettings;
use linq_datagen::generate::RunId;
use linq_datagen::pipeline::RunSpec;
use linq_datagen::store::Store;
use mongodb::Client;

use crate::shared::{
    CEILING_DB, SERVICE_DB, Settings, cpu_per_million, cpu_seconds, drop_db, median, rounded,
    settle, two_decimals,
};

pub async fn run(s: &Settings) {
    let ceiling = Ceiling::connect(&s.uri, CEILING_DB).await;
    println!(
        "ceiling: pre-built documents (no rollups) sent unordered, {} documents a run, batches of \
         {} with {} in flight, {} rounds, medians; before each run the benchmark's databases are \
         dropped, the server is asked to checkpoint and {} s pass",
        s.count, s.batch, s.inflight, s.reps, s.settle_secs
    );
    for kind in &s.kinds {
        let (mut scattered, mut ordered, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..s.reps {
            if kind.calls {
                let (rate, _) = ceiling.timed(s, &kind.spec, s.count, true).await;
                scattered.push(rate);
            }
            let (rate, secs) = ceiling.timed(s, &kind.spec, s.count, false).await;
            ordered.push(rate);
            cpu.extend(secs);
        }
        println!("  {}:", kind.path);
        if kind.calls {
            println!(
                "    scattered start times: {:?} docs/s, median {:.0}",
                rounded(&scattered),
                median(scattered.clone())
            );
        }
        println!(
            "    time order:            {:?} docs/s, median {:.0}",
            rounded(&ordered),
            median(ordered.clone())
        );
        if !cpu.is_empty() {
            println!(
                "    server CPU seconds per 1,000,000, time order: {}",
                two_decimals(&cpu)
            );
        }
    }
    if s.big > 0 {
        large(s, &ceiling).await;
    }
    drop_db(&s.uri, CEILING_DB).await;
}

/// The ceiling once at `BENCH_BIG_COUNT` documents of each kind, calls also scattered unless
/// `BENCH_BIG_SCATTERED=0`.
async fn large(s: &Settings, ceiling: &Ceiling) {
    println!("  {} documents of each kind:", s.big);
    for kind in &s.kinds {
        if kind.calls && s.big_scattered {
            let (rate, _) = ceiling.timed(s, &kind.spec, s.big, true).await;
            println!("    calls, scattered start times: {rate:>9.0} docs/s");
        }
        let label = if kind.calls {
            "calls, time order:           "
        } else {
            "metric points:               "
        };
        let (rate, cpu) = ceiling.timed(s, &kind.spec, s.big, false).await;
        let cpu = cpu.map_or(String::new(), |c| {
            format!(", server CPU {c:.2} s per 1,000,000")
        });
        println!("    {label} {rate:>9.0} docs/s{cpu}");
    }
}

/// The service's store (for the set-up) and a plain driver handle on the same database (for the
/// raw inserts).
pub struct Ceiling {
    store: Store,
    pub db: mongodb::Database,
}

impl Ceiling {
    /// Collections set up exactly as the service sets up its own (validators and indexes), so the
    /// server does the same work per document as for the service.
    pub async fn connect(uri: &str, db: &str) -> Self {
        let settings = DbSettings {
            mongo_uri: uri.to_string(),
            mongo_db: db.into(),
            pool_size: 16,
            mongo_timeout_ms: 5000,
            mongo_op_timeout_ms: 120_000,
            mongo_watchdog_secs: 0,
            batch_size: 5000,
            inflight_batches: 4,
        };
        Self {
            store: Store::connect(&settings).await.unwrap(),
            db: Client::with_uri_str(uri)
                .await
                .unwrap()
                .database(&settings.mongo_db),
        }
    }

    /// One timed run after a settle that drops both benchmark databases: documents per second,
    /// and the server's CPU seconds per 1,000,000 when its process is known.
    pub async fn timed(
        &self,
        s: &Settings,
        spec: &RunSpec,
        docs: u32,
        scattered: bool,
    ) -> (f64, Option<f64>) {
        settle(&s.uri, &[CEILING_DB, SERVICE_DB], s.settle_secs, None).await;
        let cpu = s.server_pid.map(cpu_seconds);
        let rate = self.once(spec, docs, s.batch, s.inflight, scattered).await;
        (rate, cpu_per_million(s.server_pid, cpu, u64::from(docs)))
    }

    /// One ceiling run: `docs` pre-built documents of `spec`'s shape (no rollups), inserted
    /// unordered in batches of `batch_size` with `concurrency` `insert_many` calls in flight, into
    /// fresh collections, and left there; `scattered` shuffles them first, so start times arrive
    /// in random order as they did before calls were generated in time order.
    pub async fn once(
        &self,
        spec: &RunSpec,
        docs: u32,
        batch_size: usize,
        concurrency: usize,
        scattered: bool,
    ) -> f64 {
        let batches = self.prepare(spec, docs, batch_size, scattered).await;
        let started = Instant::now();
        self.insert(spec, batches, concurrency).await;
        // The documents stay until the next run's settle drops them, as a service run's do: a
        // drop of 1,000,000 documents costs the server about 16 CPU seconds, which belongs to
        // neither.
        f64::from(docs) / started.elapsed().as_secs_f64()
    }

    /// Fresh collections set up as the service's, and `docs` documents of `spec`'s shape built
    /// in memory and cut into batches, so the timed part sends and nothing else.
    pub async fn prepare(
        &self,
        spec: &RunSpec,
        docs: u32,
        batch_size: usize,
        scattered: bool,
    ) -> Vec<Vec<RawDocumentBuf>> {
        let _ = self.db.drop().await;
        self.store.setup().await.unwrap();
        let mut spec = spec.clone();
        spec.count = docs;
        let mut all: Vec<RawDocumentBuf> = spec
            .batches(RunId::new(3, 4), batch_size)
            .flatten()
            .collect();
        if scattered {
            // Fisher–Yates on a fixed seed: the same permutation in every run.
            let mut rng = linq_datagen::generate::rng::stream_rng(99, 0);
            for i in (1..all.len()).rev() {
                let j = linq_datagen::generate::rng::below(&mut rng, i as u64 + 1) as usize;
                all.swap(i, j);
            }
        }
        let mut batches = Vec::with_capacity(all.len() / batch_size + 1);
        let mut rest = all.into_iter();
        loop {
            let batch: Vec<RawDocumentBuf> = rest.by_ref().take(batch_size).collect();
            if batch.is_empty() {
                break;
            }
            batches.push(batch);
        }
        batches
    }

    /// Sends `batches` unordered, `concurrency` `insert_many` calls in flight.
    pub async fn insert(
        &self,
        spec: &RunSpec,
        batches: Vec<Vec<RawDocumentBuf>>,
        concurrency: usize,
    ) {
        let coll = self
            .db
            .collection::<RawDocumentBuf>(spec.kind().collection());
        futures::stream::iter(batches)
            .map(|b| {
                let coll = coll.clone();
                async move { coll.insert_many(b).ordered(false).await.unwrap() }
            })
            .buffer_unordered(concurrency)
            .for_each(|_| async {})
            .await;
    }
}
