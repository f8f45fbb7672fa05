//! Building and running the service: bind, serve, shut down gracefully.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::config::{DbSettings, ServeSettings};
use crate::http::serve::{ConnLimits, serve};
use crate::http::{AppState, router};
use crate::pipeline::Tuning;
use crate::store::Store;

/// A bound, ready-to-run service. Binding happens in [`Application::build`], so the port is known
/// (port 0 in tests) before the service runs.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
    /// `MONGO_WATCHDOG_SECS`, if the client watchdog runs.
    watchdog: Option<Duration>,
}

impl Application {
    /// Connects the client, binds the listener and tries the collection set-up once; a database
    /// that is down now only delays set-up until it answers.
    pub async fn build(db: &DbSettings, serve: ServeSettings) -> anyhow::Result<Self> {
        let store = Store::connect(db).await?;
        let listener = TcpListener::bind(serve.listen).await?;
        let shutdown_timeout = Duration::from_secs(serve.shutdown_timeout_secs);
        let state = AppState::new(store, serve, Tuning::from(db));
        if let Err(e) = state.ensure_setup().await {
            tracing::warn!(error = %e, "collection set-up deferred until the database answers");
        }
        Ok(Self {
            listener,
            state,
            shutdown_timeout,
            watchdog: db.watchdog_every(),
        })
    }

    /// The port the service listens on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes; then stops accepting, lets in-flight requests and jobs
    /// finish (jobs are stopped at a batch boundary and their records made final; live runs
    /// complete their current second, checkpoint and are handed back to other replicas) and closes the
    /// database client, all within one shutdown budget (`SHUTDOWN_TIMEOUT_SECS`) counted from the
    /// signal: whatever is not done by then is abandoned (a job's record is then settled by the
    /// stale-job reaper), so the process exits in time for the orchestrator's grace period.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, "listening");
        let stop = tokio_util::sync::CancellationToken::new();
        let trigger = stop.clone();
        let feed = self.state.feed.clone();
        let calls_feed = self.state.calls_feed.clone();
        tokio::spawn(async move {
            signal.await;
            trigger.cancel();
            // Streams never end by themselves: end them, or the drain waits for the deadline.
            feed.close();
            calls_feed.close();
        });
        let jobs = self.state.jobs.clone();
        let live = self.state.live.clone();
        live.supervise();
        let store = self.state.store.clone();
        if let Some(every) = self.watchdog {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move { store.watchdog(every, stop).await });
        }
        let budget = self.shutdown_timeout;
        let limits = ConnLimits {
            header_read_timeout: Duration::from_secs(self.state.settings.header_read_timeout_secs),
            max_connections: self.state.settings.max_connections as usize,
        };
        let connections = serve(self.listener, router(self.state), limits, stop).await;

        tracing::info!("shutdown requested; draining");
        let deadline = Instant::now() + budget;
        // A share of the budget is kept for closing the client's connections.
        let close_reserve = (budget / 10).min(Duration::from_secs(1));
        let drain = async {
            // Jobs are stopped at once, while requests finish.
            let left = budget.saturating_sub(close_reserve);
            tokio::join!(
                connections.shutdown(),
                jobs.shutdown(left),
                live.shutdown(left)
            )
        };
        if tokio::time::timeout_at(deadline - close_reserve, drain)
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within the shutdown deadline");
        }
        if tokio::time::timeout_at(deadline, store.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("database connections not closed within the shutdown deadline");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
