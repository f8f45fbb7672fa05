//! Accepting connections: HTTP/1.1 with a bound on how long a client may take to send a request's
//! head and on how many connections are open at once, so slow or half-open clients cannot pile up,
//! and a drain that lets open connections finish their current request at shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Limits on client connections (`HEADER_READ_TIMEOUT_SECS`, `MAX_CONNECTIONS`).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Longest a client may take to send a request's head; also how long an idle keep-alive
    /// connection is kept. The connection is closed after that.
    pub header_read_timeout: Duration,
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `stop` fires, then stops accepting and returns the drain of the
/// connections still open: its `shutdown()` completes once each has finished its current request
/// (idle ones close at once).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    stop: CancellationToken,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors here are the client's (reset, header timeout): nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    graceful
}
