//! `live`: a live run from the command line, recorded like one started with `POST /live`.

use std::time::Duration;

use anyhow::{Context, bail};

use super::{model, scenario};
use crate::config::{DbSettings, LiveArgs};
use crate::generate::live::LiveParams;
use crate::live::{LiveManager, LiveSettings};
use crate::pipeline::Tuning;
use crate::store::Store;

/// `live`: starts a live run (recorded like one started with `POST /live`), prints its progress
/// every five seconds, and stops it for good on Ctrl-C, SIGTERM or after `--duration-secs`.
pub async fn live(db: &DbSettings, args: LiveArgs) -> anyhow::Result<()> {
    let params = LiveParams::new(
        Some(args.calls_per_second),
        Some(args.shaped),
        Some(args.metrics_step.into()),
        Some(args.hosts.into()),
        Some(&args.categories),
        Some(args.subscribers.into()),
    )?
    .with_model(model(&args.model)?.as_ref())?;
    let store = Store::connect(db).await?;
    store
        .ensure_setup()
        .await
        .context("setting up collections")?;
    let settings = LiveSettings {
        max_runs: 1,
        stale_after: Duration::from_secs(10),
        takeover_window: Duration::from_secs(600),
    };
    let manager = LiveManager::new(store.clone(), Tuning::from(db), settings);
    let scenario = scenario(&args.scenario)?;
    let record = manager.start(params, args.seed, scenario.as_ref()).await?;
    eprintln!(
        "live run {} started: {} calls/s, metrics every {} s, seed {}",
        record.id, record.calls_per_second, record.step_seconds, record.seed as u64
    );
    let until = async {
        match args.duration_secs {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let stop = crate::startup::shutdown_signal();
    tokio::pin!(stop);
    let mut report = tokio::time::interval(Duration::from_secs(5));
    report.tick().await;
    loop {
        tokio::select! {
            _ = &mut until => break,
            _ = &mut stop => break,
            _ = report.tick() => {
                if let Ok(r) = manager.get(&record.id).await {
                    let v = crate::live::view(&r, chrono::Utc::now());
                    if v.state != "running" {
                        bail!("live run {}: {}", v.state, v.last_error.unwrap_or_default());
                    }
                    eprintln!(
                        "{} calls ({:.1}/s), {} points, {:.1} s behind",
                        v.calls_written, v.achieved_calls_per_second, v.points_written, v.lag_seconds
                    );
                }
            }
        }
    }
    manager.stop_all().await;
    let r = manager.get(&record.id).await?;
    println!(
        "{}: {} calls and {} points written",
        r.state.as_str(),
        r.calls_written,
        r.points_written
    );
    store.shutdown().await;
    Ok(())
}
