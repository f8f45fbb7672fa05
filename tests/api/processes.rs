//! Child processes and ports: the real binary, a private MongoDB-compatible server, and a port where
//! nothing answers. Every child is killed and reaped when its guard is dropped, also when a test
//! panics; no port is picked by binding and releasing it and then reused by someone else.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpSocket;

use crate::helpers::{TempDb, poll_until, wait_until};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct ChildGuard(Child);

impl ChildGuard {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0.try_wait().expect("try_wait")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM to process `pid`.
pub fn sigterm(pid: u32) {
    send_signal(pid, "TERM");
}

/// Sends signal `name` (`TERM`, `STOP`, `CONT`, …) to process `pid`.
pub fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

/// Waits (up to 10 s) until every thread of `pid` is in state `T` (stopped), as `/proc` shows it.
fn wait_until_stopped(pid: u32) {
    let all_stopped = || -> Option<bool> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut stopped = true;
        for task in tasks {
            let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            // `pid (comm) S …`: the state follows the last `)`, since `comm` may hold one.
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            stopped &= state == 'T';
        }
        Some(stopped)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while all_stopped() != Some(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} did not stop within 10 s of SIGSTOP"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A loopback port bound by a socket that never listens: connecting to it is refused at once (as
/// when a server is down), and no one else can bind it while this lives. A listener that never
/// accepts would not do: the kernel completes handshakes into its backlog, so clients would hang
/// until a timeout instead of being refused.
pub struct ClosedPort {
    _socket: TcpSocket,
    /// The port.
    pub port: u16,
}

impl ClosedPort {
    /// A fresh one.
    pub fn bind() -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let port = socket.local_addr().expect("local addr").port();
        Self {
            _socket: socket,
            port,
        }
    }

    /// A MongoDB connection string pointing at it.
    pub fn mongo_uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }
}

/// Holds `port` while its server is down (see [`ClosedPort`]), so no one takes it before the
/// restart. `SO_REUSEADDR`, because the killed server's connections linger in `TIME_WAIT`.
fn hold(port: u16) -> Option<TcpSocket> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.set_reuseaddr(true).ok()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port))).ok()?;
    Some(socket)
}

/// A private MongoDB-compatible server for tests that stop and restart the database.
pub struct PrivateServer {
    child: Option<ChildGuard>,
    standalone: bool,
    held: Option<TcpSocket>,
    /// Its data directory (kept across restarts).
    pub data: PathBuf,
    /// Its port, chosen by the server itself at the first start.
    pub port: u16,
}

impl PrivateServer {
    /// Starts one on a port of its own choosing (`--port 0`) with a fresh data directory.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// Starts one without the replica-set hello (`--standalone`): no transactions, no change
    /// streams, like a plain `mongod`.
    pub fn start_standalone() -> Self {
        Self::launch(true)
    }

    fn launch(standalone: bool) -> Self {
        let data =
            std::env::temp_dir().join(format!("linq-test-{}", uuid::Uuid::new_v4().simple()));
        let (child, port) = launch_server(&data, 0, standalone);
        Self {
            child: Some(child),
            standalone,
            held: None,
            data,
            port,
        }
    }

    /// Its connection string.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Starts the process again on the same port and data directory, and waits until it accepts.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        self.held = None;
        let (child, port) = launch_server(&self.data, self.port, self.standalone);
        assert_eq!(port, self.port);
        self.child = Some(child);
    }

    /// Freezes the process (SIGSTOP): connections stay open, nothing answers.
    ///
    /// Returns once every thread of it is stopped: the kernel wakes only one thread to take a
    /// SIGSTOP, and until the scheduler runs that one (tens of milliseconds on a loaded machine)
    /// the others go on answering, so a test that asks right after `kill` may still get answers.
    pub fn freeze(&self) {
        let pid = self.child.as_ref().expect("the server runs").id();
        send_signal(pid, "STOP");
        wait_until_stopped(pid);
    }

    /// Lets a frozen process go on (SIGCONT).
    pub fn thaw(&self) {
        send_signal(self.child.as_ref().expect("the server runs").id(), "CONT");
    }

    /// Kills the process (SIGKILL), waits for it, and holds its port until [`Self::restart`].
    pub fn kill(&mut self) {
        if self.child.take().is_some() {
            self.held = hold(self.port);
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.child = None;
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Starts `secantusd-rs` on `port` (0: its choice) and returns it with the port it reports
/// (`secantusd-rs listening on 127.0.0.1:PORT` on stdout) once it accepts connections.
fn launch_server(data: &std::path::Path, port: u16, standalone: bool) -> (ChildGuard, u16) {
    let bin = std::env::var("SECANTUSD_BIN")
        .expect("SECANTUSD_BIN is not set: run the suite with scripts/test.sh");
    let mut child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--cache-size", "256M"])
        .args(standalone.then_some("--standalone"))
        .arg("--storage-path")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let child = ChildGuard(child);
    let (tx, rx) = mpsc::channel();
    // Reads the port, then drains stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.split("listening on ").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|e| {
            panic!("secantusd-rs did not report listening on port {port} ({e}); port taken?")
        });
    let addr: SocketAddr = addr.parse().expect("a socket address");
    for _ in 0..100 {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return (child, addr.port());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("secantusd-rs reported {addr} but does not accept connections there");
}

/// The real binary running `serve` on a port of its own choosing (`LISTEN_ADDR=127.0.0.1:0`, read
/// back from its `listening` log line), with JSON logs on stderr collected line by line.
pub struct Service {
    child: ChildGuard,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Starts `linq-datagen serve` against `db`, with `env` set on top of the defaults.
    pub fn start(db: &TempDb, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_linq-datagen"))
            .arg("serve")
            .env_remove("RUST_LOG")
            .env("MONGO_URI", &db.uri)
            .env("MONGO_DB", &db.name)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let child = ChildGuard(child);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn({
            let lines = lines.clone();
            move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v["message"] == "listening"
                        && let Some(addr) = v["addr"].as_str()
                    {
                        let _ = tx.send(addr.to_string());
                    }
                    lines.lock().expect("log lock").push(line);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!(
                    "the service logged no `listening` line ({e}); its log: {:#?}",
                    lines.lock().expect("log lock")
                )
            });
        Self {
            child,
            base: format!("http://{addr}"),
            lines,
            reader: Some(reader),
        }
    }

    /// Waits until `/readyz` answers 200; returns the request ids of the answers it got.
    pub async fn wait_ready(&self, http: &reqwest::Client) -> Vec<String> {
        let url = format!("{}/readyz", self.base);
        let mut ids = Vec::new();
        wait_until(
            Duration::from_secs(30),
            "the service to be ready",
            async || {
                let Ok(res) = http.get(&url).send().await else {
                    return false;
                };
                if let Some(id) = res.headers().get("x-request-id") {
                    ids.push(id.to_str().expect("an ASCII request id").to_string());
                }
                res.status() == 200
            },
        )
        .await;
        ids
    }

    /// POSTs `body` to `/generate/calls`, which must start a background job (`202`); returns its
    /// id.
    pub async fn start_job(&self, http: &reqwest::Client, body: &Value) -> String {
        let res = http
            .post(format!("{}/generate/calls", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        poll_until(limit, "the service to exit", async || {
            self.child
                .try_wait()
                .ok_or_else(|| "still running".to_string())
        })
        .await
    }

    /// Everything it wrote to stderr, one entry per line; call after it exited.
    pub fn log_lines(&mut self) -> Vec<String> {
        assert!(self.child.try_wait().is_some(), "the service still runs");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("log reader");
        }
        self.lines.lock().expect("log lock").clone()
    }
}
