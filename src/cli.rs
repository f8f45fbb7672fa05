//! The command-line side: `generate` (into MongoDB, or a file with `--output`), `live`, `stats`,
//! `setup` and `healthcheck` (`serve` starts the service, in startup), sharing the service's
//! generators, pipeline and store.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::config::{DbSettings, GenerateArgs, GenerateWhat, HealthcheckArgs, StatsCommand};
use crate::export::Format;
use crate::generate::scenario::ScenarioRequest;
use crate::generate::sms::{self, TrafficParams};
use crate::generate::{CallParams, Kind, ParamError, Params, PointParams, params};
use crate::pipeline::{self, Progress, Run, RunSpec, Tuning};
use crate::store::{RetryPolicy, Store};

mod export;
mod live;

pub use live::live;

/// How long `generate` keeps asking a database that went away how many documents arrived.
const RECONCILE_PATIENCE: Duration = Duration::from_secs(30);

/// Turns `generate` arguments into a run, through the same constructors (bounds, defaults, window
/// rule) as the HTTP API.
pub fn spec(what: GenerateWhat) -> Result<RunSpec, ParamError> {
    let now = pipeline::now_millis();
    let count = |n: u64| params::count(i64::try_from(n).unwrap_or(i64::MAX), u64::MAX);
    Ok(match what {
        GenerateWhat::Calls(a) => {
            let count = count(a.count)?;
            let p = CallParams::new(Some(a.days.into()), Some(a.subscribers.into()), a.end, now)?
                .with_scenario(scenario(&a.scenario)?.as_ref())?
                .with_model(model(&a.model)?.as_ref())?;
            RunSpec::new(Params::Calls(p), count, a.seed)
        }
        GenerateWhat::Metrics(a) => {
            let count = count(a.count)?;
            let p = PointParams::new(
                count,
                Some(a.step_seconds.into()),
                Some(&a.categories),
                Some(a.hosts.into()),
                a.end,
                now,
            )?
            .with_scenario(count, scenario(&a.scenario)?.as_ref())?
            .with_model(model(&a.model)?.as_ref())?;
            RunSpec::new(Params::Metrics(p), count, a.seed)
        }
        GenerateWhat::Sms(a) => {
            let p = TrafficParams::new(
                Some(a.days.into()),
                Some(a.subscribers.into()),
                a.end,
                model(&a.model)?.as_ref(),
                now,
            )?;
            let threads = a.count.unwrap_or(u64::from(sms::daily_threads(&p)));
            let threads = i64::try_from(threads).unwrap_or(i64::MAX);
            let count = params::count(threads, u64::from(sms::MAX_THREADS))?;
            RunSpec::new(Params::Sms(p), count, a.seed)
        }
    })
}

/// A `--scenario` flag's JSON, parsed.
fn scenario(json: &Option<String>) -> Result<Option<ScenarioRequest>, ParamError> {
    json.as_deref().map(ScenarioRequest::from_json).transpose()
}

/// A `--model` flag: a JSON object, a file holding one, or a preset name.
fn model(arg: &Option<String>) -> Result<Option<serde_json::Value>, ParamError> {
    let Some(arg) = arg.as_deref().map(str::trim) else {
        return Ok(None);
    };
    let text = if arg.starts_with('{') || !std::path::Path::new(arg).is_file() {
        arg.to_string()
    } else {
        std::fs::read_to_string(arg)
            .map_err(|e| ParamError::new("model", format!("cannot read {arg}: {e}")))?
    };
    if text.trim_start().starts_with('{') {
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ParamError::new("model", format!("not valid JSON: {e}")))
    } else {
        Ok(Some(serde_json::Value::String(text.trim().to_string())))
    }
}

/// The message and exit status (2, like clap's own usage errors) of parameters out of bounds.
pub fn usage_error(e: &ParamError) -> (String, i32) {
    let flag = e
        .field
        .split(['[', '.'])
        .next()
        .unwrap_or(&e.field)
        .replace('_', "-");
    // A field inside a flag's JSON (`model.calls.status.missed`) is named in full.
    let inner = e.field.contains(['[', '.']);
    let message = if inner {
        format!("{}: {}", e.field, e.message)
    } else {
        e.message.clone()
    };
    (format!("error: invalid value for --{flag}: {message}"), 2)
}

/// `generate`: runs the pipeline with a progress bar on a terminal (plain lines otherwise) and
/// prints a summary. Ctrl-C stops at a batch boundary and reports the exact count. With `--output`
/// (or `--dry-run`, standard output in NDJSON), writes a file instead and never connects.
pub async fn generate(db: &DbSettings, args: GenerateArgs) -> anyhow::Result<()> {
    let run = Run::new(spec(args.what)?);
    let output = if args.dry_run {
        Some("-".into())
    } else {
        args.output
    };
    if let Some(path) = output {
        let format = Format::parse(&args.format).unwrap_or(Format::Ndjson);
        return export::to_file(run, path, format, args.dry_run).await;
    }
    let spec = run.spec();
    let store = Store::connect(db).await?;
    store
        .setup()
        .await
        .context("cannot set up the collections")?;
    let progress = Arc::new(Progress::default());
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let total = documents(spec).await;
    let reporter = tokio::spawn(report(progress.clone(), total));
    let reconcile = RetryPolicy::for_up_to(RECONCILE_PATIENCE);
    let report = run
        .execute(&store, Tuning::from(db), &progress, &cancel, &reconcile)
        .await;
    reporter.abort();
    let _ = reporter.await;
    let written = report.written;
    let at_least = if report.exact { "" } else { "at least " };
    println!(
        "inserted {at_least}{written} of {total} documents into {}.{} in {:.2} s ({:.0} docs/s), seed {}",
        db.mongo_db,
        spec.kind().collection(),
        report.elapsed.as_secs_f64(),
        report.docs_per_second(),
        spec.seed,
    );
    store.shutdown().await;
    if let Some(e) = report.error {
        bail!("stopped after {at_least}{written} documents: {e}");
    }
    if report.cancelled {
        bail!("interrupted after {at_least}{written} documents");
    }
    Ok(())
}

/// The documents `spec` writes: its count, or, for a kind of several records a draw, its draws
/// generated once before the run and their records counted (a second or so a million threads).
pub(crate) async fn documents(spec: &RunSpec) -> u64 {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || spec.documents())
        .await
        .unwrap_or_default()
}

/// Shows progress until aborted: an indicatif bar on a terminal, a line every 2 s otherwise.
pub(crate) async fn report(progress: Arc<Progress>, total: u64) {
    let started = Instant::now();
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ({per_sec}, ETA {eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let _guard = scopeguard(bar.clone());
        loop {
            bar.set_position(progress.written());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let n = progress.written();
            let rate = n as f64 / started.elapsed().as_secs_f64();
            let eta = if n > 0 {
                format!("{:.0} s", total.saturating_sub(n) as f64 / rate)
            } else {
                "unknown".into()
            };
            eprintln!("progress: {n}/{total} documents, {rate:.0} docs/s, ETA {eta}");
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

/// `stats rebuild`: recomputes the rollups of one or both collections from the raw documents.
pub async fn stats(db: &DbSettings, what: StatsCommand) -> anyhow::Result<()> {
    let StatsCommand::Rebuild { kind } = what;
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| kind.as_deref().is_none_or(|name| name == k.collection()))
        .collect();
    let store = Store::connect(db).await?;
    store
        .setup()
        .await
        .context("cannot set up the collections")?;
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    for kind in kinds {
        let report = pipeline::rebuild(&store, kind, &Progress::default(), &cancel).await;
        println!(
            "rebuilt the rollups of {}.{} from {} documents in {:.2} s",
            db.mongo_db,
            kind.collection(),
            report.written,
            report.elapsed.as_secs_f64()
        );
        if let Some(e) = report.error {
            bail!("rebuild of {} failed: {e}", kind.collection());
        }
        if report.cancelled {
            bail!(
                "interrupted: the rollups of {} are incomplete",
                kind.collection()
            );
        }
    }
    store.shutdown().await;
    Ok(())
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
