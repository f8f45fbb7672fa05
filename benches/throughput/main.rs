//! The benchmarks of docs/performance.md as named scenarios, one module each, chosen by name:
//! `scripts/bench.sh <scenario>` starts a local server, builds the service and runs one;
//! `cargo bench --bench throughput -- <scenario>` (or `BENCH_SCENARIO=<scenario>`) runs one
//! against `BENCH_MONGO_URI` with the release build at hand. No name, `list` or `--help` lists
//! them. Two more scenarios are not here: `export` (the command line and `GET /export/calls`, no
//! database) is run by `scripts/bench.sh`, `soak` by `tests/api/soak.rs`.
//!
//! Every request goes to 127.0.0.1 and every loop is bounded in count and time.

mod ceiling;
mod cell_stats;
mod cells;
mod end_to_end;
mod generation;
mod live;
mod polling;
mod race;
mod server;
mod service;
mod shared;

use shared::Settings;

/// Each scenario's name and what it measures, in the order `list` prints them.
const SCENARIOS: [(&str, &str); 8] = [
    (
        "generation",
        "documents generated per second on one core, alone and with the rollup contribution a \
         run's producer computes; no database",
    ),
    (
        "ceiling",
        "the server's raw insert ceiling: pre-built documents sent unordered with the service's \
         batching, calls in scattered and in time order",
    ),
    (
        "end-to-end",
        "the service over HTTP (rollups kept) against the ceiling in alternating runs, at \
         BENCH_E2E_COUNT and BENCH_BIG_COUNT; server CPU per 1,000,000, the service's memory",
    ),
    (
        "polling",
        "dashboards polling the statistics of BENCH_BIG_COUNT calls and metric points: latency, \
         errors, the server's CPU, the service's memory",
    ),
    (
        "cells",
        "map clients reading GET /cells by a city's box and by 500 ECGIs over BENCH_CELLS \
         (100,000) cells: latency, errors, the server's CPU; then GET /stats/cells: first \
         answer, kept answers, answers computed every time",
    ),
    (
        "server",
        "the server's counters (commands, documents, bytes) and both processes' CPU per \
         1,000,000 documents of a service job",
    ),
    (
        "race",
        "the ceiling racing a service job, and a second ceiling (the control), on one server: \
         the other's documents per ceiling document",
    ),
    (
        "live",
        "live runs' rate accuracy, /calls/stream latency, a job with and without stream \
         clients, memory with 1,000 idle SSE clients",
    ),
];

#[tokio::main]
async fn main() {
    let name = scenario_name();
    match name.as_deref() {
        Some("generation") => generation::run(),
        Some("ceiling") => ceiling::run(&Settings::from_env()).await,
        Some("end-to-end") => end_to_end::run(&Settings::from_env()).await,
        Some("polling") => polling::run(&Settings::from_env()).await,
        Some("cells") => cells::run(&Settings::from_env()).await,
        Some("server") => server::run(&Settings::from_env()).await,
        Some("race") => race::run(&Settings::from_env()).await,
        Some("live") => live::run(&Settings::from_env().uri).await,
        None | Some("list" | "help" | "--help" | "-h") => list(),
        Some(other) => {
            eprintln!("no scenario {other:?}");
            list();
            std::process::exit(2);
        }
    }
}

/// The first argument that is not the `--bench` cargo adds, else `BENCH_SCENARIO`.
fn scenario_name() -> Option<String> {
    std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .or_else(|| std::env::var("BENCH_SCENARIO").ok())
        .filter(|name| !name.is_empty())
}

fn list() {
    println!(
        "usage: cargo bench --bench throughput -- <scenario> (or BENCH_SCENARIO=<scenario>); \
         scripts/bench.sh <scenario> starts a server for it\n\nscenarios:"
    );
    for (name, about) in SCENARIOS {
        println!("  {name:<11} {about}");
    }
    println!(
        "  {:<11} exports through the command line and GET /export/calls (scripts/bench.sh export)",
        "export"
    );
    println!(
        "  {:<11} the soak test's report over minutes (scripts/bench.sh soak [MINUTES])",
        "soak"
    );
}
