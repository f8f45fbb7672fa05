//! Every setting of the binary: a flag, an environment variable of the same meaning, and a default,
//! all shown by `--help`. Precedence is flag, then environment, then default.

use std::net::SocketAddr;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod commands;

use crate::generate::Kind;
use crate::generate::params::MAX_COUNT;

pub use commands::{CallArgs, GenerateArgs, GenerateWhat, LiveArgs, MetricArgs};

/// Generates realistic call records and infrastructure metrics into MongoDB.
#[derive(Debug, Parser)]
#[command(name = "linq-datagen", version, about, propagate_version = true)]
pub struct Cli {
    /// Database connection settings.
    #[command(flatten)]
    pub db: DbSettings,
    /// Logging settings.
    #[command(flatten)]
    pub log: LogSettings,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeSettings),
    /// Generate documents into MongoDB from the command line, like the original scripts.
    Generate(GenerateArgs),
    /// Create collections, validators and indexes (idempotent; `serve` and `generate` do it too).
    Setup,
    /// Statistics maintenance.
    Stats(StatsArgs),
    /// Generate live data (current timestamps) until Ctrl-C or --duration-secs, like `POST /live`.
    Live(LiveArgs),
    /// Exit 0 when the service at --url answers /healthz, 1 otherwise (for container health checks).
    Healthcheck(HealthcheckArgs),
}

/// Where MongoDB is and how the pooled client behaves.
#[derive(Debug, Clone, Args)]
pub struct DbSettings {
    /// MongoDB connection string.
    #[arg(
        long,
        env = "MONGO_URI",
        default_value = "mongodb://localhost:27017",
        global = true
    )]
    pub mongo_uri: String,
    /// Database that holds the `calls`, `metrics` and `jobs` collections.
    #[arg(long, env = "MONGO_DB", default_value = "linq_db", global = true)]
    pub mongo_db: String,
    /// Largest number of connections the client pool opens.
    #[arg(long, env = "MONGO_POOL_SIZE", default_value_t = 16, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: u32,
    /// How long to wait for a reachable server before failing a request, in milliseconds.
    #[arg(long, env = "MONGO_TIMEOUT_MS", default_value_t = 2000, global = true,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub mongo_timeout_ms: u64,
    /// Longest time one database operation may take before it is given up and its connection
    /// closed, in milliseconds (the driver has no socket timeout of its own). Keep it above the
    /// slowest scan you run: a rebuild at 10M documents asks questions that take a minute.
    #[arg(long, env = "MONGO_OP_TIMEOUT_MS", default_value_t = 120_000, global = true,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub mongo_op_timeout_ms: u64,
    /// How often the client watchdog pings, in seconds (0: no watchdog). After three failed pings
    /// in a row it tries a fresh client, and if that one answers, replaces the wedged client.
    #[arg(long, env = "MONGO_WATCHDOG_SECS", default_value_t = 5, global = true,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub mongo_watchdog_secs: u64,
    /// Documents per `insert_many` batch (a batch also ends before 16 MiB of documents, well
    /// under the server's 48 MB message limit).
    #[arg(long, env = "BATCH_SIZE", default_value_t = 10_000, global = true,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Insert batches kept in flight at once per run; each run generates one batch ahead.
    #[arg(long, env = "INFLIGHT_BATCHES", default_value_t = 4, global = true,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub inflight_batches: u32,
}

impl DbSettings {
    /// The server-selection and connect timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.mongo_timeout_ms)
    }

    /// The bound on any one database operation.
    pub fn op_timeout(&self) -> Duration {
        Duration::from_millis(self.mongo_op_timeout_ms)
    }

    /// How often the client watchdog looks, if it runs.
    pub fn watchdog_every(&self) -> Option<Duration> {
        (self.mongo_watchdog_secs > 0).then(|| Duration::from_secs(self.mongo_watchdog_secs))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// How logs are written.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `linq_datagen=debug,tower_http=info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long = "listen", env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Largest `count` one request may ask for.
    #[arg(long, env = "MAX_COUNT", default_value_t = 100_000_000,
          value_parser = clap::value_parser!(u64).range(1..=u64::from(MAX_COUNT)))]
    pub max_count: u64,
    /// Requests for more documents than this run as background jobs (202 + job id).
    #[arg(long, env = "ASYNC_THRESHOLD", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub async_threshold: u64,
    /// Background jobs this instance runs at once; more are refused with 429.
    #[arg(long, env = "MAX_JOBS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_jobs: u32,
    /// Synchronous generation requests served at once; more are refused with 503.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent_requests: u32,
    /// Exports (`GET /export/*`) streamed at once; more are refused with 503.
    #[arg(long, env = "MAX_EXPORTS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_exports: u32,
    /// Longest a request may take before it is answered with 503, in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests and jobs get to finish, in seconds.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub shutdown_timeout_secs: u64,
    /// Longest a client may take to send a request's head (the request line and headers), and
    /// longest an idle keep-alive connection stays open, in seconds; then the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,
    /// Client connections open at once; further clients wait in the listen backlog until one
    /// closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    /// Statistics reads run against the database at once (identical requests share one); more
    /// wait up to 2 s, then get 503.
    #[arg(long, env = "STATS_MAX_CONCURRENT", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub stats_max_concurrent: u32,
    /// `Cache-Control: max-age` of statistics answers, in seconds.
    #[arg(long, env = "STATS_MAX_AGE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub stats_max_age_secs: u32,
    /// Browser origins allowed by CORS: `*` lets any origin read (GET) but not write; a
    /// comma-separated list of origins may read and write; empty disables CORS.
    #[arg(long, env = "CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// A running job whose heartbeat is older than this lost its instance and is settled by the
    /// next read, in seconds.
    #[arg(long, env = "JOB_STALE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(2..=86_400))]
    pub job_stale_secs: u64,
    /// Live runs this instance writes at once; more are refused with 429 (a replica with a free
    /// slot also takes over runs whose owner died).
    #[arg(long, env = "MAX_LIVE_RUNS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_live_runs: u32,
    /// A live run whose owner has not written a checkpoint for this long is taken over by another
    /// replica, in seconds.
    #[arg(long, env = "LIVE_STALE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub live_stale_secs: u64,
    /// A live run left without an owner for longer than this is given up (marked stopped) instead
    /// of resumed, since resuming writes the whole gap at once; in seconds.
    #[arg(long, env = "LIVE_TAKEOVER_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub live_takeover_secs: u64,
    /// Highest `calls_per_second` a live run may ask for on this deployment (the served spec
    /// states it); a run above the database's insert ceiling falls behind and reports its lag.
    #[arg(long, env = "LIVE_MAX_CALLS_PER_SECOND", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub live_max_calls_per_second: u32,
    /// Bearer token that POST and DELETE requests must present (`Authorization: Bearer <key>`);
    /// reads stay open. Unset or empty: writes are open too (docs/operations.md "Security").
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Not a setting (always 0 from the command line): how far this instance's clock is off, in
    /// seconds, for tests of replicas whose clocks disagree.
    #[arg(skip)]
    pub clock_offset_secs: i64,
}

impl ServeSettings {
    /// Settings for tests and embedding: port 0 on loopback, defaults otherwise.
    pub fn for_tests() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_count: 100_000_000,
            async_threshold: 100_000,
            max_jobs: 2,
            max_concurrent_requests: 8,
            max_exports: 2,
            request_timeout_secs: 120,
            shutdown_timeout_secs: 20,
            header_read_timeout_secs: 10,
            max_connections: 512,
            stats_max_concurrent: 4,
            stats_max_age_secs: 5,
            cors_origins: "*".into(),
            job_stale_secs: 30,
            max_live_runs: 4,
            live_stale_secs: 10,
            live_takeover_secs: 600,
            live_max_calls_per_second: 100_000,
            api_key: None,
            clock_offset_secs: 0,
        }
    }
}

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: StatsCommand,
}

/// The `stats` subcommands.
#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Recompute the rollups from the raw collections (after loading or deleting data with other
    /// tools); run it while no generation job writes.
    Rebuild {
        /// Only this collection's rollups: `calls` or `metrics` (default every kind's).
        #[arg(long, value_parser = PossibleValuesParser::new(Kind::ALL.map(Kind::collection)))]
        kind: Option<String>,
    },
}

/// Arguments of `healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// URL to probe.
    #[arg(
        long,
        env = "HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8080/healthz"
    )]
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
