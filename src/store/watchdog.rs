//! The client watchdog: the last line against a wedged client. A client can stop reaching a
//! server that answers everyone else (every pool slot held by an operation on a connection that
//! went silent, with nothing to close it; once seen under heavy load, cause unknown). Bounded
//! operations ([`Store::bounded`]) free such slots; the watchdog catches whatever they miss, by
//! comparing the client with a fresh one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mongodb::Client;
use mongodb::event::EventHandler;
use mongodb::event::cmap::CmapEvent;
use tokio_util::sync::CancellationToken;

use super::Store;

/// Failed pings in a row before a fresh client is tried.
const WEDGED_AFTER: u32 = 3;

/// When the client last ended an operation, in milliseconds since the store was made.
#[derive(Debug)]
pub(super) struct LastAnswer {
    base: Instant,
    at_ms: AtomicU64,
}

impl Default for LastAnswer {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }
}

impl LastAnswer {
    /// A pool event handler that notes every connection given back: an operation that ended,
    /// whatever its outcome. An operation stuck on a silent connection never gives it back.
    pub(super) fn handler(this: Arc<Self>) -> EventHandler<CmapEvent> {
        EventHandler::callback(move |event| {
            if matches!(event, CmapEvent::ConnectionCheckedIn(_)) {
                this.now();
            }
        })
    }

    /// An answer came just now.
    pub(super) fn now(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.at_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long ago the last answer came.
    fn age(&self) -> Duration {
        self.base
            .elapsed()
            .saturating_sub(Duration::from_millis(self.at_ms.load(Ordering::Relaxed)))
    }
}

impl Store {
    /// Pings every `every` until `stop`; after [`WEDGED_AFTER`] failures in a row with no
    /// operation answered meanwhile, pings with a fresh client, and if that one answers (the server is fine, this client is not) makes it
    /// the store's client for every clone of the store. Operations already waiting on the old
    /// client end at their own bound; new ones use the new client.
    pub async fn watchdog(&self, every: Duration, stop: CancellationToken) {
        let mut failures = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if self.ping().await.is_ok() {
                failures = 0;
                continue;
            }
            failures += 1;
            // A pool busy with long operations fails pings too, but its operations end.
            if failures < WEDGED_AFTER || self.answered.age() < every * WEDGED_AFTER {
                continue;
            }
            match self.fresh_client().await {
                Ok(fresh) => {
                    let db = fresh.database(self.db().name());
                    *self.db.write().unwrap_or_else(|e| e.into_inner()) = db;
                    metrics::counter!("database_client_rebuilds_total").increment(1);
                    tracing::error!(
                        failures,
                        "the database client stopped answering while a fresh one reaches the \
                         server; replaced it"
                    );
                    failures = 0;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a fresh client fails too: the database is away")
                }
            }
        }
    }

    /// A new client with the same options, if it answers a ping within `MONGO_TIMEOUT_MS`.
    async fn fresh_client(&self) -> anyhow::Result<Client> {
        let client = Client::with_options(self.options.clone())?;
        self.ping_on(&client.database(self.db().name())).await?;
        Ok(client)
    }
}
