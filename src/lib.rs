//! linq-datagen: a service that generates realistic telephone call records and infrastructure
//! metrics into MongoDB, streams millions of them with flat memory, and serves aggregated
//! statistics to dashboards.
//!
//! Layout: [`config`] (flags and env), [`generate`] (pure, seedable generators), [`pipeline`]
//! (streaming generate-and-insert), [`export`] (documents as NDJSON or CSV files and streams),
//! [`store`] (MongoDB), [`stats`] (dashboard statistics from the rollups), [`jobs`] (background
//! runs), [`live`]
//! (continuous generation with current timestamps, and the new-calls stream), [`http`]
//! (routes and layers), [`error`] (the API's error type), [`startup`] (bind, serve, shut down),
//! [`cli`] (the command-line subcommands), [`telemetry`] (logs).

pub mod cli;
pub mod config;
pub mod error;
pub mod export;
pub mod generate;
pub mod http;
pub mod jobs;
pub mod live;
pub mod pipeline;
pub mod startup;
pub mod stats;
pub mod store;
pub mod telemetry;
