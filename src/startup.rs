//! Building and running the service: bind, serve, shut down gracefully.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{DbSettings, ServeSettings};
use crate::http::{AppState, router};
use crate::pipeline::Tuning;
use crate::store::Store;

/// A bound, ready-to-run service. Binding happens in [`Application::build`], so the port is known
/// (port 0 in tests) before the service runs.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
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
    /// finish within the shutdown deadline (jobs are stopped at a batch boundary and their records
    /// made final), and closes the database client.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, "listening");
        let stop = tokio_util::sync::CancellationToken::new();
        let jobs = self.state.jobs.clone();
        let store = self.state.store.clone();
        let deadline = self.shutdown_timeout;
        let trigger = stop.clone();
        let jobs_on_signal = jobs.clone();
        let feed = self.state.feed.clone();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutdown requested; draining");
            trigger.cancel();
            // Streams never end by themselves: end them, or the drain waits for the deadline.
            feed.close();
            // Jobs are stopped at once so they finish within the deadline too.
            jobs_on_signal.shutdown(deadline).await;
        });
        let server = axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown({
                let stop = stop.clone();
                async move { stop.cancelled().await }
            })
            .into_future();
        tokio::select! {
            result = server => result?,
            _ = async { stop.cancelled().await; tokio::time::sleep(deadline).await } => {
                tracing::warn!("in-flight requests did not finish within the shutdown deadline");
            }
        }
        jobs.shutdown(deadline).await;
        store.shutdown().await;
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
