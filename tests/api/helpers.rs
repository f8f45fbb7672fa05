//! `spawn_app()` and friends, after zero2prod's `tests/api/helpers.rs`.

use std::sync::Once;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use linq_datagen::config::{DbSettings, LogFormat, LogSettings, ServeSettings};
use linq_datagen::startup::Application;
use mongodb::{Client, Database};
use serde_json::Value;

static TRACING: Once = Once::new();

/// The server the suite runs against.
pub fn mongo_uri() -> String {
    std::env::var("TEST_MONGO_URI").expect(
        "TEST_MONGO_URI is not set: run the suite with scripts/test.sh, which starts a server",
    )
}

/// The tests' own client on `uri`, whose heartbeats wait up to a minute for an answer.
///
/// With the default 10 s, a heartbeat that a server loaded by the whole suite answers late makes
/// the driver clear the pool and cancel the reads in flight ("interrupted due to server monitor
/// timeout", RUST-1222): a test would lose its verification read of a job that finished exact.
pub async fn patient_client(uri: &str) -> Client {
    let mut options = mongodb::options::ClientOptions::parse(uri)
        .await
        .expect("test client options");
    options.connect_timeout = Some(Duration::from_secs(60));
    Client::with_options(options).expect("test client")
}

/// Settings for a test database on `uri`.
pub fn db_settings(uri: &str, db: &str) -> DbSettings {
    DbSettings {
        mongo_uri: uri.to_string(),
        mongo_db: db.to_string(),
        pool_size: 16,
        mongo_timeout_ms: 1000,
        mongo_op_timeout_ms: 30_000,
        mongo_watchdog_secs: 1,
        batch_size: 1000,
        inflight_batches: 4,
    }
}

/// A running app and a handle on its database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The test's own database.
    pub db: Database,
    /// The server `db` lives on.
    uri: String,
    /// Signals the app to shut down.
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The app's task; finishes after shutdown.
    pub task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

fn init_logs() {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            linq_datagen::telemetry::init(&LogSettings {
                log_format: LogFormat::Pretty,
                log_level: "info,linq_datagen=debug".into(),
            });
        }
    });
}

/// A unique database name for one test.
pub fn unique_db() -> String {
    format!("test_{}", uuid::Uuid::new_v4().simple())
}

/// The app against the suite's server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&mongo_uri(), |_, _| {}).await
}

/// The app against `uri`, with settings adjusted by `tweak`.
pub async fn spawn_app_with(
    uri: &str,
    tweak: impl FnOnce(&mut DbSettings, &mut ServeSettings),
) -> TestApp {
    spawn_app_on(uri, &unique_db(), tweak).await
}

/// A second replica of `first`: another app on the same server and database.
pub async fn spawn_replica(
    first: &TestApp,
    tweak: impl FnOnce(&mut DbSettings, &mut ServeSettings),
) -> TestApp {
    spawn_app_on(&first.uri, first.db.name(), tweak).await
}

/// How long the tests' HTTP clients keep an idle connection: less than the service's
/// `HEADER_READ_TIMEOUT_SECS` (10 s by default), after which the service closes it. A client that
/// keeps it longer may send its next request on a connection the service is closing at that moment
/// and get no answer (hyper's `IncompleteMessage`).
pub const CLIENT_IDLE: Duration = Duration::from_secs(5);

/// An HTTP client builder for talking to the service: idle connections dropped after
/// [`CLIENT_IDLE`].
pub fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(CLIENT_IDLE)
}

/// An HTTP client for talking to the service (see [`http_builder`]).
pub fn http_client() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

/// The app against database `name` on `uri`, with settings adjusted by `tweak`.
pub async fn spawn_app_on(
    uri: &str,
    name: &str,
    tweak: impl FnOnce(&mut DbSettings, &mut ServeSettings),
) -> TestApp {
    init_logs();
    let mut db = db_settings(uri, name);
    let mut serve = ServeSettings::for_tests();
    tweak(&mut db, &mut serve);
    let app = Application::build(&db, serve).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let client = if uri == mongo_uri() {
        patient_client(uri).await
    } else {
        Client::with_uri_str(uri).await.expect("test client")
    };
    TestApp {
        address,
        http: http_client(),
        db: client.database(&db.mongo_db),
        uri: uri.to_string(),
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    /// POSTs a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs `body` to `path`, which must start a background job (`202`); returns its id.
    pub async fn start_job(&self, path: &str, body: &Value) -> String {
        let res = self.post(path, body).await;
        assert_eq!(res.status(), 202, "{:?}", res.text().await);
        let job: Value = res.json().await.unwrap();
        job["id"].as_str().unwrap().to_string()
    }

    /// GETs a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// DELETEs a path.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /jobs/{id}/cancel`.
    pub async fn cancel(&self, id: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/jobs/{id}/cancel", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// Documents in `collection` matching `filter`.
    pub async fn count(&self, collection: &str, filter: Document) -> u64 {
        self.db
            .collection::<Document>(collection)
            .count_documents(filter)
            .await
            .expect("count")
    }

    /// Every document of `collection`.
    pub async fn all(&self, collection: &str) -> Vec<Document> {
        use futures::TryStreamExt;
        self.db
            .collection::<Document>(collection)
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("collect")
    }

    /// Every document of `collection` without its `_id` (which identifies the run, not the
    /// content), in insertion order: what two runs with one seed must agree on.
    pub async fn generated(&self, collection: &str) -> Vec<Document> {
        let mut docs = self.all(collection).await;
        for d in &mut docs {
            d.remove("_id");
        }
        docs
    }

    /// Stops the app gracefully and waits for it.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("app task"),
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_database(&self.uri, self.db.name());
    }
}

/// Drops database `name` on `uri`, from synchronous code (a `Drop`), through a client of its own.
///
/// The test's client cannot do it: its connection pool is a task on the test's runtime, and a
/// `Drop` running on that runtime's only thread blocks it, so an operation through that client
/// waits for a connection that never comes (until its timeout: this used to add 5 s to every test
/// and leave every test database behind).
pub fn drop_database(uri: &str, name: &str) {
    let (uri, name) = (uri.to_owned(), name.to_owned());
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(mut options) = mongodb::options::ClientOptions::parse(&uri).await else {
                return;
            };
            // Nothing answers there (a "database down" test): there is nothing to drop, and
            // server selection would only wait out its timeout.
            if !options.hosts.iter().any(answers) {
                return;
            }
            options.server_selection_timeout = Some(Duration::from_secs(2));
            let Ok(client) = Client::with_options(options) else {
                return;
            };
            let _ =
                tokio::time::timeout(Duration::from_secs(5), client.database(&name).drop()).await;
        });
    })
    .join();
}

/// Whether something accepts TCP connections at `host`.
fn answers(host: &mongodb::options::ServerAddress) -> bool {
    use std::net::ToSocketAddrs;
    let mongodb::options::ServerAddress::Tcp { host, port } = host else {
        return false;
    };
    (host.as_str(), port.unwrap_or(27017))
        .to_socket_addrs()
        .into_iter()
        .flatten()
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

/// A database made outside a [`TestApp`] (e.g. for the binary), dropped when this goes out of scope,
/// also when the test fails.
pub struct TempDb {
    /// The server.
    pub uri: String,
    /// The database's name.
    pub name: String,
}

impl TempDb {
    /// A unique database name on the suite's server.
    pub fn unique() -> Self {
        Self {
            uri: mongo_uri(),
            name: unique_db(),
        }
    }

    /// A handle on it through a new client (on the caller's runtime).
    pub async fn handle(&self) -> Database {
        patient_client(&self.uri).await.database(&self.name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        drop_database(&self.uri, &self.name);
    }
}

/// How often [`poll_until`] and [`wait_until`] look again.
pub const POLL: Duration = Duration::from_millis(50);

/// Asks `probe` every [`POLL`] until it answers `Ok`, and returns that; after `limit`, fails naming
/// `what` and the last `Err` (a description of what was seen instead).
pub async fn poll_until<T>(
    limit: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what}, in vain; last seen: {seen}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `condition` holds, looking every [`POLL`]; fails naming `what` after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut condition: impl AsyncFnMut() -> bool) {
    poll_until(limit, what, async || {
        if condition().await {
            Ok(())
        } else {
            Err("the condition did not hold".to_string())
        }
    })
    .await
}

/// The stored record of job `id` in `db`, read directly (not through the API).
pub async fn stored_job(db: &Database, id: &str) -> Document {
    db.collection::<Document>("jobs")
        .find_one(doc! { "_id": id })
        .await
        .expect("find job")
        .unwrap_or_else(|| panic!("job {id} is recorded"))
}

/// Two apps on the suite's server, one inserting 7 documents at a time one batch after the other,
/// one 1000 at a time with 8 batches in flight: the same request must give the same documents.
pub async fn spawn_small_and_large_batching() -> (TestApp, TestApp) {
    let uri = mongo_uri();
    let small = spawn_app_with(&uri, |db, _| {
        db.batch_size = 7;
        db.inflight_batches = 1;
    })
    .await;
    let large = spawn_app_with(&uri, |db, _| {
        db.batch_size = 1000;
        db.inflight_batches = 8;
    })
    .await;
    (small, large)
}
