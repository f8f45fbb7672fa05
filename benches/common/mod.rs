//! What the benchmarks share: the service binary on a free port, its memory, settings from the
//! environment, percentiles.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

/// The release binary serving on a free loopback port; killed when dropped.
pub struct Service {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Service {
    /// `serve` against database `db` with the given batching.
    pub fn start(uri: &str, db: &str, batch_size: usize, inflight: usize) -> Self {
        let (batch, inflight) = (batch_size.to_string(), inflight.to_string());
        Self::start_with(
            uri,
            db,
            &[("BATCH_SIZE", &batch), ("INFLIGHT_BATCHES", &inflight)],
        )
    }

    /// `serve` against database `db` with extra environment variables.
    pub fn start_with(uri: &str, db: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = std::env::var("BENCH_SERVICE_BIN")
            .unwrap_or_else(|_| "target/release/linq-datagen".into());
        let child = Command::new(bin)
            .arg("serve")
            .env("MONGO_URI", uri)
            .env("MONGO_DB", db)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("LOG_LEVEL", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("service binary runs (build it with cargo build --release)");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits (up to 30 s) until `/readyz` answers 200.
    pub async fn wait_ready(&self, http: &reqwest::Client) {
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the service never became ready");
    }

    /// Peak resident memory so far, MB.
    pub fn peak_rss_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    /// Resident memory now, MB.
    pub fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Percentile `p` (0–100) of `xs`, in the units of `xs`.
pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (xs.len() - 1) as f64).round() as usize;
    xs[i]
}
