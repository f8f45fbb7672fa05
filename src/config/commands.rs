//! Arguments of the `generate` and `live` subcommands.

use clap::{Args, Subcommand};

use crate::generate::params::{
    DEFAULT_DAYS, DEFAULT_HOSTS, DEFAULT_STEP_SECONDS, DEFAULT_SUBSCRIBERS, MAX_COUNT, MAX_DAYS,
    MAX_HOSTS, MAX_STEP_SECONDS, MAX_SUBSCRIBERS, MIN_SUBSCRIBERS,
};

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[command(subcommand)]
    pub what: GenerateWhat,
    /// Print the documents to standard output (relaxed Extended JSON, one per line, as
    /// `mongoexport` writes) instead of writing them; needs no database.
    #[arg(long, global = true, env = "DRY_RUN",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dry_run: bool,
    /// Write the documents to this file (`-` for standard output) instead of MongoDB; gzip when
    /// the name ends in `.gz`. Needs no database.
    #[arg(long, global = true, env = "OUTPUT")]
    pub output: Option<std::path::PathBuf>,
    /// Format of --output: `ndjson` (relaxed Extended JSON) or `csv` (with a typed header line).
    #[arg(long, global = true, env = "OUTPUT_FORMAT", default_value = "ndjson",
          value_parser = ["ndjson", "csv"])]
    pub format: String,
}

/// The datasets `generate` can produce.
#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// Call records into `<MONGO_DB>.calls`.
    Calls(CallArgs),
    /// Metric points into `<MONGO_DB>.metrics`.
    Metrics(MetricArgs),
    /// Text message records (MO and MT) into `<MONGO_DB>.sms`.
    Sms(SmsArgs),
}

/// Arguments of `generate sms`.
#[derive(Debug, Args)]
pub struct SmsArgs {
    /// Threads (a message and perhaps its reply, up to four records); default the subscribers'
    /// 10.4 messages a day over --days.
    #[arg(long, env = "NUM_SMS",
          value_parser = clap::value_parser!(u64).range(1..=u64::from(MAX_COUNT)))]
    pub count: Option<u64>,
    /// Threads start over this many days before --end.
    #[arg(long, env = "DAYS", default_value_t = DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DAYS)))]
    pub days: u32,
    /// Subscribers texting (the same seed's calls' subscribers).
    #[arg(long, env = "SUBSCRIBERS", default_value_t = DEFAULT_SUBSCRIBERS,
          value_parser = clap::value_parser!(u32)
              .range(i64::from(MIN_SUBSCRIBERS)..=i64::from(MAX_SUBSCRIBERS)))]
    pub subscribers: u32,
    /// End of the time window (RFC 3339); default now.
    #[arg(long, env = "END")]
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    /// The model, as for `generate calls` (texts need one with mobile phones).
    #[arg(long, env = "MODEL")]
    pub model: Option<String>,
    /// Seed; the same seed and parameters give the same documents. Default random.
    #[arg(long, env = "SEED")]
    pub seed: Option<u64>,
}

/// Arguments of `generate calls`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Number of call records.
    #[arg(long, env = "NUM_CALLS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=u64::from(MAX_COUNT)))]
    pub count: u64,
    /// Start times spread over this many days before --end.
    #[arg(long, env = "DAYS", default_value_t = DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DAYS)))]
    pub days: u32,
    /// Subscribers the calls are placed between (a few call a lot; most calls go to a few
    /// frequent contacts).
    #[arg(long, env = "SUBSCRIBERS", default_value_t = DEFAULT_SUBSCRIBERS,
          value_parser = clap::value_parser!(u32)
              .range(i64::from(MIN_SUBSCRIBERS)..=i64::from(MAX_SUBSCRIBERS)))]
    pub subscribers: u32,
    /// End of the time window (RFC 3339); default now.
    #[arg(long, env = "END")]
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    /// A labelled scenario, as JSON like the API's `scenario`, e.g.
    /// '{"kind": "surge", "minutes": 30, "factor": 5}' (kinds: surge, outage, fraud_burst, cell_outage).
    #[arg(long, env = "SCENARIO")]
    pub scenario: Option<String>,
    /// The call model, like the API's `model`: a preset (mobile, call_center, enterprise), a JSON
    /// object such as '{"preset": "enterprise", "calls": {"time_zone": "UTC"}}', or a file
    /// holding one.
    #[arg(long, env = "MODEL")]
    pub model: Option<String>,
    /// Seed; the same seed and parameters give the same documents. Default random.
    #[arg(long, env = "SEED")]
    pub seed: Option<u64>,
}

/// Arguments of `generate metrics`.
#[derive(Debug, Args)]
pub struct MetricArgs {
    /// Number of metric points.
    #[arg(long, env = "NUM_METRICS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=u64::from(MAX_COUNT)))]
    pub count: u64,
    /// Seconds between consecutive points of a series, going back from --end.
    #[arg(long, env = "STEP_SECONDS", default_value_t = DEFAULT_STEP_SECONDS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_STEP_SECONDS)))]
    pub step_seconds: u32,
    /// The model's metrics part, like the API's `model`: a JSON object such as
    /// '{"metrics": {"host_skew": 0, "cpu": {"daily": 0.2}}}', or a file holding one.
    #[arg(long, env = "MODEL")]
    pub model: Option<String>,
    /// Categories to generate (comma-separated): cpu, memory, disk, latency, network.
    #[arg(
        long,
        env = "CATEGORIES",
        value_delimiter = ',',
        value_parser = trimmed,
        default_value = "cpu,memory,disk,latency,network"
    )]
    pub categories: Vec<String>,
    /// Number of hosts reporting each category.
    #[arg(long, env = "HOSTS", default_value_t = DEFAULT_HOSTS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_HOSTS)))]
    pub hosts: u32,
    /// Timestamp of the newest point (RFC 3339); default now.
    #[arg(long, env = "END")]
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    /// A labelled scenario, as JSON like the API's `scenario`, e.g.
    /// '{"kind": "surge", "minutes": 30, "factor": 5}' (kinds: surge, outage, fraud_burst, cell_outage).
    #[arg(long, env = "SCENARIO")]
    pub scenario: Option<String>,
    /// Seed; the same seed and parameters give the same documents. Default random.
    #[arg(long, env = "SEED")]
    pub seed: Option<u64>,
}

/// Arguments of `live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Calls per second (0: metrics only).
    #[arg(long, env = "CALLS_PER_SECOND", default_value_t = 10.0)]
    pub calls_per_second: f64,
    /// The call rate follows the hour-of-day × weekday curve (its weekly mean is the rate).
    #[arg(long, env = "SHAPED")]
    pub shaped: bool,
    /// Seconds between metric ticks (0: calls only).
    #[arg(long, env = "METRICS_STEP", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    pub metrics_step: u32,
    /// Categories to generate (comma-separated): cpu, memory, disk, latency, network.
    #[arg(
        long,
        env = "CATEGORIES",
        value_delimiter = ',',
        value_parser = trimmed,
        default_value = "cpu,memory,disk,latency,network"
    )]
    pub categories: Vec<String>,
    /// Number of hosts reporting metrics.
    #[arg(long, env = "HOSTS", default_value_t = DEFAULT_HOSTS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_HOSTS)))]
    pub hosts: u32,
    /// Subscribers the calls are placed between.
    #[arg(long, env = "SUBSCRIBERS", default_value_t = DEFAULT_SUBSCRIBERS,
          value_parser = clap::value_parser!(u32)
              .range(i64::from(MIN_SUBSCRIBERS)..=i64::from(MAX_SUBSCRIBERS)))]
    pub subscribers: u32,
    /// A labelled scenario, as JSON like the API's `scenario`, e.g.
    /// '{"kind": "surge", "minutes": 30, "factor": 5}' (kinds: surge, outage, fraud_burst, cell_outage).
    #[arg(long, env = "SCENARIO")]
    pub scenario: Option<String>,
    /// The call model, like the API's `model`: a preset (mobile, call_center, enterprise), a JSON
    /// object such as '{"preset": "enterprise", "calls": {"time_zone": "UTC"}}', or a file
    /// holding one.
    #[arg(long, env = "MODEL")]
    pub model: Option<String>,
    /// Seed; the same seed and parameters give the same documents. Default random.
    #[arg(long, env = "SEED")]
    pub seed: Option<u64>,
    /// Stop after this many seconds (default: run until Ctrl-C or SIGTERM).
    #[arg(long, env = "LIVE_DURATION_SECS")]
    pub duration_secs: Option<u64>,
}

/// A command-line list item without the spaces around it (`--categories "cpu, memory"`); the
/// HTTP API takes names exactly, as its spec says.
fn trimmed(item: &str) -> Result<String, std::convert::Infallible> {
    Ok(item.trim().to_owned())
}
