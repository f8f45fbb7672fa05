//! Slow and half-open clients against the real binary: a request head must arrive within
//! `HEADER_READ_TIMEOUT_SECS`, at most `MAX_CONNECTIONS` are open at once, health checks keep
//! answering, and SIGTERM still exits within the shutdown budget.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::TempDb;
use crate::processes::{Service, sigterm};

/// `n` connections to `service`, every other one with half a request head sent.
fn half_open(service: &Service, n: usize) -> Vec<TcpStream> {
    let addr = service.base.trim_start_matches("http://");
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            if i % 2 == 0 {
                s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
                    .expect("write");
            }
            s
        })
        .collect()
}

/// Whether the server closed `s` within `limit` (end of stream or reset, never data).
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).expect("read timeout");
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("got {n} bytes on a half-open connection"),
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

async fn healthz(
    http: &reqwest::Client,
    service: &Service,
    limit: Duration,
) -> reqwest::Result<u16> {
    let res = http
        .get(format!("{}/healthz", service.base))
        .timeout(limit)
        .send()
        .await?;
    Ok(res.status().as_u16())
}

#[tokio::test]
async fn half_open_connections_neither_block_health_nor_outlive_the_header_timeout_nor_shutdown() {
    let temp = TempDb::unique();
    let mut service = Service::start(
        &temp,
        &[
            ("HEADER_READ_TIMEOUT_SECS", "2"),
            ("SHUTDOWN_TIMEOUT_SECS", "3"),
        ],
    );
    // No pooled connections: the service closes an idle one after 2 s here.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    service.wait_ready(&http).await;

    let mut held = half_open(&service, 300);
    assert_eq!(
        healthz(&http, &service, Duration::from_secs(5))
            .await
            .unwrap(),
        200
    );
    // The server gives up on each of them after the header timeout (all at about the same time).
    let started = Instant::now();
    for s in &mut held {
        assert!(
            closed_within(s, Duration::from_secs(15)),
            "a half-open connection was still open after {:?}",
            started.elapsed()
        );
    }

    let _held = half_open(&service, 300);
    let signalled = Instant::now();
    sigterm(service.pid());
    let exit = service.wait_exit(Duration::from_secs(30)).await;
    let took = signalled.elapsed();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        took < Duration::from_millis(4500),
        "shutdown took {took:?}, budget 3 s"
    );
}

#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let temp = TempDb::unique();
    let service = Service::start(
        &temp,
        &[
            ("MAX_CONNECTIONS", "10"),
            ("HEADER_READ_TIMEOUT_SECS", "60"),
        ],
    );
    let http = crate::helpers::http_client();
    service.wait_ready(&http).await;
    // The readiness probe's pooled connection holds one slot: drop the client.
    drop(http);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    let held = half_open(&service, 10);
    // Accepted by the kernel, but not served while every slot is taken.
    assert!(
        healthz(&http, &service, Duration::from_secs(1))
            .await
            .is_err()
    );
    drop(held);
    assert_eq!(
        healthz(&http, &service, Duration::from_secs(10))
            .await
            .unwrap(),
        200
    );
}
