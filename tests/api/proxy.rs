//! A fault-injecting TCP proxy between the service and the database: latency, resets, refused
//! connections and a blackhole (open connections pass nothing while new ones work), the faults a
//! real network gives a long-running service and a killed or frozen server does not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to traffic right now. Connections are numbered from 0 in accept order;
/// "below" fields name the connections a fault applies to, so a fault can reach only those open
/// when it was injected.
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    /// Delay before each chunk is passed on, either way.
    latency: Duration,
    /// New connections are reset as soon as they are accepted.
    refuse: bool,
    /// Connections numbered below this pass nothing (held open, data left unread).
    frozen_below: u64,
    /// Connections numbered below this hold every operation (a command other than `hello` or
    /// `ping`) and its answer: the pool's connections stall on the operations they carry while
    /// the driver's monitoring connections, and pings, go on.
    data_frozen_below: u64,
    /// Connections numbered below this are reset (RST, not FIN).
    reset_below: u64,
}

/// A running proxy to one upstream address; dropped, it stops accepting.
pub struct Proxy {
    /// `127.0.0.1:PORT` the proxy listens on.
    pub addr: SocketAddr,
    faults: watch::Sender<Faults>,
    next: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 to the server of `uri` (`mongodb://HOST:PORT`).
    pub async fn to(uri: &str) -> Self {
        let upstream = uri
            .trim_start_matches("mongodb://")
            .split(['/', '?'])
            .next()
            .expect("a host")
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let (faults, _) = watch::channel(Faults::default());
        let next = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (faults, next, accepted) = (faults.clone(), next.clone(), accepted.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let id = next.fetch_add(1, Ordering::SeqCst);
                    if faults.borrow().refuse {
                        reset(&client);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        reset(&client);
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let data = Arc::new(AtomicBool::new(false));
                    let up = Conn {
                        id,
                        data: data.clone(),
                        client_side: true,
                    };
                    let down = Conn {
                        id,
                        data,
                        client_side: false,
                    };
                    tokio::spawn(pump(up, cr, sw, faults.subscribe()));
                    tokio::spawn(pump(down, sr, cw, faults.subscribe()));
                }
            }
        });
        Self {
            addr,
            faults,
            next,
            accepted,
            task,
        }
    }

    /// A connection string to the server through the proxy (a direct connection: the server's
    /// own address in its `hello` must not lead the driver around the proxy).
    pub fn uri(&self) -> String {
        format!("mongodb://{}/?directConnection=true", self.addr)
    }

    /// Connections passed on to the server so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every connection open now passes nothing until [`Self::heal`]; new ones work.
    pub fn blackhole(&self) {
        let open = self.next.load(Ordering::SeqCst);
        self.faults.send_modify(|f| f.frozen_below = open);
    }

    /// Every connection open now holds each operation it carries until [`Self::heal`] (pings
    /// pass, so a ping that finds a free connection never gets stuck and frees a slot when it
    /// gives up); monitoring and new connections work. What a client sees whose pool slots are
    /// all held by operations on connections that went silent, while the server looks fine.
    pub fn blackhole_pool(&self) {
        let open = self.next.load(Ordering::SeqCst);
        self.faults.send_modify(|f| f.data_frozen_below = open);
    }

    /// Ends a blackhole: held connections pass what they hold, if their ends still listen.
    pub fn heal(&self) {
        self.faults.send_modify(|f| {
            f.frozen_below = 0;
            f.data_frozen_below = 0;
        });
    }

    /// Resets every connection open now.
    pub fn reset_all(&self) {
        let open = self.next.load(Ordering::SeqCst);
        self.faults.send_modify(|f| f.reset_below = open);
    }

    /// Resets new connections on accept while `refuse` holds.
    pub fn refuse(&self, refuse: bool) {
        self.faults.send_modify(|f| f.refuse = refuse);
    }

    /// Delays every chunk by `latency`, either way.
    pub fn latency(&self, latency: Duration) {
        self.faults.send_modify(|f| f.latency = latency);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        // Ends every pump.
        let all = u64::MAX;
        self.faults.send_modify(|f| f.reset_below = all);
    }
}

/// Closes `stream` with a reset: the peer sees ECONNRESET, not an orderly end.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// One direction of a proxied connection.
struct Conn {
    /// Accept order.
    id: u64,
    /// The client's last command on it is an operation, not a `hello` or `ping` (shared by both
    /// directions).
    data: Arc<AtomicBool>,
    /// This direction carries the client's messages.
    client_side: bool,
}

impl Conn {
    fn is_reset(&self, f: &Faults) -> bool {
        self.id < f.reset_below
    }

    /// Whether a chunk may be read now: only a full blackhole stops the reading; an operation is
    /// only known once its chunk is read.
    fn reads(&self, f: &Faults) -> bool {
        self.is_reset(f) || self.id >= f.frozen_below
    }

    fn passes(&self, f: &Faults) -> bool {
        self.reads(f) && !(self.id < f.data_frozen_below && self.data.load(Ordering::SeqCst))
    }

    /// Notes, from a chunk the client sent that starts an `OP_MSG`, whether its command (the
    /// body's first key, at byte 26) is an operation or a `hello` or `ping`.
    fn look_at(&self, chunk: &[u8]) {
        let op_msg = chunk.get(12..16) == Some(&2013i32.to_le_bytes()[..]);
        if !self.client_side || !op_msg {
            return;
        }
        let command = chunk.get(26..).unwrap_or_default();
        let idle = [&b"hello\0"[..], b"isMaster\0", b"ismaster\0", b"ping\0"]
            .iter()
            .any(|h| command.starts_with(h));
        self.data.store(!idle, Ordering::SeqCst);
    }
}

/// Copies one direction of a connection, obeying the faults; returns when either end closes or
/// the connection is reset.
async fn pump(
    conn: Conn,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Held while frozen: nothing read, so nothing lost if the blackhole ends.
        if faults.wait_for(|f| conn.reads(f)).await.is_err() || conn.is_reset(&faults.borrow()) {
            break reset(from.as_ref());
        }
        let n = tokio::select! {
            n = from.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = faults.wait_for(|f| conn.is_reset(f)) => break reset(from.as_ref()),
        };
        conn.look_at(&buf[..n]);
        let latency = faults.borrow().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        // Read before a blackhole began: held until it ends.
        if faults.wait_for(|f| conn.passes(f)).await.is_err() || conn.is_reset(&faults.borrow()) {
            break reset(from.as_ref());
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}
