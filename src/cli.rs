//! The command-line side: `generate`, `setup` and `healthcheck`, sharing the service's generators,
//! pipeline and store.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::config::{DbSettings, GenerateWhat, HealthcheckArgs};
use crate::generate::{CallParams, Category, PointParams, rng};
use crate::pipeline::{self, Dataset, Progress, RunSpec, Tuning};
use crate::store::Store;

/// Turns `generate` arguments into a run, with the same bounds as the HTTP API.
pub fn spec(what: GenerateWhat) -> anyhow::Result<RunSpec> {
    let to_u32 = |n: u64| u32::try_from(n).context("--count must be at most 4294967295");
    Ok(match what {
        GenerateWhat::Calls(a) => RunSpec {
            count: to_u32(a.count)?,
            seed: a.seed.unwrap_or_else(rng::random_seed),
            dataset: Dataset::Calls(CallParams {
                end: a.end.unwrap_or_else(pipeline::now_millis),
                days: a.days,
            }),
        },
        GenerateWhat::Metrics(a) => {
            let categories =
                Category::parse_list(&a.categories).map_err(|(_, m)| anyhow::anyhow!(m))?;
            RunSpec {
                count: to_u32(a.count)?,
                seed: a.seed.unwrap_or_else(rng::random_seed),
                dataset: Dataset::Metrics(PointParams {
                    end: a.end.unwrap_or_else(pipeline::now_millis),
                    step_seconds: a.step_seconds,
                    categories,
                    hosts: a.hosts,
                }),
            }
        }
    })
}

/// `generate`: runs the pipeline with a progress bar on a terminal (plain lines otherwise) and
/// prints a summary. Ctrl-C stops at a batch boundary and reports the exact count.
pub async fn generate(db: &DbSettings, what: GenerateWhat) -> anyhow::Result<()> {
    let spec = spec(what)?;
    let store = Store::connect(db).await?;
    store
        .setup()
        .await
        .context("cannot set up the collections")?;
    let run = pipeline::new_run_id();
    let progress = Arc::new(Progress::default());
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let reporter = tokio::spawn(report(progress.clone(), u64::from(spec.count)));
    let started = Instant::now();
    let outcome = pipeline::run(&store, &spec, run, Tuning::from(db), progress, &cancel).await;
    reporter.abort();
    let _ = reporter.await;
    let inserted = outcome
        .written(&store, &spec, run)
        .await
        .unwrap_or(outcome.acknowledged);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "inserted {inserted} of {} documents into {}.{} in {secs:.2} s ({:.0} docs/s), seed {}",
        spec.count,
        db.mongo_db,
        spec.target().collection(),
        inserted as f64 / secs.max(1e-6),
        spec.seed,
    );
    store.shutdown().await;
    if let Some(e) = outcome.error {
        bail!("stopped after {inserted} documents: {e}");
    }
    if outcome.cancelled {
        bail!("interrupted after {inserted} documents");
    }
    Ok(())
}

/// Shows progress until aborted: an indicatif bar on a terminal, a line every 2 s otherwise.
async fn report(progress: Arc<Progress>, total: u64) {
    let started = Instant::now();
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ({per_sec}, ETA {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let _guard = scopeguard(bar.clone());
        loop {
            bar.set_position(progress.inserted());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let n = progress.inserted();
            let rate = n as f64 / started.elapsed().as_secs_f64();
            let eta = if rate > 0.0 {
                total.saturating_sub(n) as f64 / rate
            } else {
                f64::NAN
            };
            eprintln!("progress: {n}/{total} documents, {rate:.0} docs/s, ETA {eta:.0} s");
        }
    }
}

/// Clears the bar when the reporter is aborted.
fn scopeguard(bar: indicatif::ProgressBar) -> impl Drop {
    struct Clear(indicatif::ProgressBar);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.finish_and_clear();
        }
    }
    Clear(bar)
}

/// `setup`: creates collections, validators and indexes.
pub async fn setup(db: &DbSettings) -> anyhow::Result<()> {
    let store = Store::connect(db).await?;
    store.setup().await.context("set-up failed")?;
    println!(
        "collections, validators and indexes of {} are in place",
        db.mongo_db
    );
    store.shutdown().await;
    Ok(())
}

/// `healthcheck`: a minimal HTTP/1.1 GET, so slim images need no curl.
pub async fn healthcheck(args: &HealthcheckArgs) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = args
        .url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await?;
        anyhow::Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    let head = tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .context("timed out")??;
    if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        bail!("unhealthy: {}", head.lines().next().unwrap_or_default())
    }
}
