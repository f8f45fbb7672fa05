//! Integration tests: the real app on port 0 against a real MongoDB-compatible server, one database
//! per test. `scripts/test.sh` starts the server and sets `TEST_MONGO_URI`.

mod cell_stats;
mod cells;
mod cli;
mod clocks;
mod connections;
mod errors;
mod examples;
mod export;
mod faults;
mod generate_calls;
mod generate_metrics;
mod grafana;
mod health;
mod helpers;
mod idempotency;
mod jobs;
mod limits;
mod live;
mod logs;
mod models;
mod network;
mod openapi;
mod page;
mod preview;
mod processes;
mod proxy;
mod redelivery;
mod replicas;
mod rollups;
mod scenarios;
mod security;
mod shutdown;
mod soak;
mod stats;
mod streams;
