//! `generate … --output FILE|-` and `--dry-run`: a run's documents into a file, a pipe or standard
//! output instead of MongoDB, gzip-compressed when the file name ends in `.gz`, with flat memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::export::{self, Format};
use crate::pipeline::{Progress, Run};

/// Writes every document of `run` to `path` (`-`: standard output) in `format`. Progress goes to
/// standard error (a bar on a terminal) unless the documents do; Ctrl-C stops at a chunk boundary
/// with the file holding whole documents. A dry run says so in its summary.
pub async fn to_file(run: Run, path: PathBuf, format: Format, dry_run: bool) -> anyhow::Result<()> {
    let to_stdout = path.as_os_str() == "-";
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let on_ctrl_c = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.store(true, Ordering::Relaxed);
        }
    });
    let total = if to_stdout {
        0
    } else {
        super::documents(run.spec()).await
    };
    let reporter = (!to_stdout).then(|| tokio::spawn(super::report(progress.clone(), total)));
    let started = Instant::now();
    let (writer_progress, writer_stop, target) = (progress.clone(), stop.clone(), path.clone());
    let spec = run.spec().clone();
    let id = run.id();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let mut out = open(&target)?;
        let n = export::stream(
            &spec,
            id,
            format,
            |n| writer_progress.set(n),
            |chunk| {
                if writer_stop.load(Ordering::Relaxed) {
                    bail!("interrupted");
                }
                out.write_all(&chunk).context("cannot write the output")
            },
        )?;
        out.finish()?;
        Ok(n)
    })
    .await?;
    ctrl_c.abort();
    if let Some(r) = reporter {
        r.abort();
        let _ = r.await;
    }
    let spec = run.spec();
    let elapsed = started.elapsed().as_secs_f64();
    let target = if to_stdout {
        "standard output".to_string()
    } else {
        path.display().to_string()
    };
    let end = spec
        .params
        .end()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (kind, seed) = (spec.kind().collection(), spec.seed);
    match written {
        Ok(n) if dry_run => {
            eprintln!("dry run: {n} documents for {kind} (not written), seed {seed}, end {end}")
        }
        Ok(n) => eprintln!(
            "exported {n} documents ({kind}, {}) to {target} in {elapsed:.2} s ({:.0} docs/s), seed {seed}, end {end}",
            format.name(),
            n as f64 / elapsed.max(1e-9),
        ),
        Err(e) => bail!(
            "stopped after {} documents to {target}: {e:#}",
            progress.written()
        ),
    }
    Ok(())
}

/// Where the documents go: a file (gzip when its name ends in `.gz`) or standard output.
enum Output {
    Plain(Box<dyn Write + Send>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

fn open(path: &PathBuf) -> anyhow::Result<Output> {
    if path.as_os_str() == "-" {
        return Ok(Output::Plain(Box::new(std::io::stdout())));
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        // Level 1: several times faster than the default for a few per cent more bytes.
        let level = flate2::Compression::fast();
        Output::Gzip(flate2::write::GzEncoder::new(BufWriter::new(file), level))
    } else {
        Output::Plain(Box::new(BufWriter::new(file)))
    })
}

impl Output {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Plain(w) => w.write_all(bytes),
            Output::Gzip(w) => w.write_all(bytes),
        }
    }

    /// Flushes everything, and ends the gzip stream.
    fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Plain(mut w) => w.flush()?,
            Output::Gzip(w) => {
                w.finish()?.flush()?;
            }
        }
        Ok(())
    }
}
