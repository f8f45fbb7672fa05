//! Logging set-up: one subscriber for the process, human-readable or JSON lines.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Logs go to stderr so `generate`'s summary on stdout stays clean.
/// `RUST_LOG`, when set, overrides `--log-level`.
pub fn init(settings: &LogSettings) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&settings.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log piped to a file or `grep` stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // A second call (tests spawning several apps) keeps the first subscriber.
    let _ = result;
}

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from a fast health check to a slow synchronous generation.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide Prometheus recorder, installed on first use (once per process, however many
/// apps a test binary spawns).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Only fails if another recorder is installed, which this crate never does.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests by method, matched route and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method, matched route and status"
    );
    describe_counter!(
        "documents_generated_total",
        "Documents generated, by collection"
    );
    describe_counter!(
        "documents_inserted_total",
        "Documents acknowledged by MongoDB, by collection"
    );
    describe_histogram!(
        "insert_batch_duration_seconds",
        Unit::Seconds,
        "Latency of one insert_many batch, by collection"
    );
    describe_histogram!(
        "rollup_apply_duration_seconds",
        Unit::Seconds,
        "Latency of adding one batch's contribution to the rollups, by collection"
    );
    describe_gauge!("jobs_running", "Background jobs running on this instance");
    describe_counter!(
        "database_errors_total",
        "Failed database operations, by kind"
    );
}
