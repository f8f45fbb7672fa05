#!/usr/bin/env bash
# The throughput benchmark (docs/performance.md): a fresh local server on a free port, a release build
# of the service, then benches/throughput.rs. All traffic stays on 127.0.0.1.
#   BENCH_E2E_COUNT      documents per end-to-end run and per ceiling run (default 1000000)
#   BENCH_BIG_COUNT      the large runs: a ceiling and a job of each kind (default 10000000; 0 skips)
#   BENCH_BIG_SCATTERED  0 skips the large scattered-order ceiling (the slowest part, ~15 min)
#   BENCH_REPS           alternating ceiling and service rounds at BENCH_E2E_COUNT (default 3); odd
#                        rounds run the ceiling first, even ones the service
#   BENCH_KINDS          which kinds (b)-(d) run: calls, metrics or both (default calls,metrics)
#   BENCH_BATCH, BENCH_INFLIGHT   batch size and batches in flight, for the ceilings and the
#                        service alike (default the service's own, 10000 and 4)
#   BENCH_POLLERS, BENCH_POLL_SECS   dashboards polling the statistics, and for how long (32, 60)
#   BENCH_SETTLE_SECS    quiet seconds before each timed run, after both benchmark databases are
#                        dropped and the server is asked to checkpoint (default 5)
#   `scripts/bench.sh live` runs benches/live.rs instead (live rate accuracy, /calls/stream latency
#   with 100 clients, a job with and without stream clients, memory with 1,000 idle SSE clients):
#   BENCH_LIVE_RATES (1,100,10000,100000), BENCH_SSE_CLIENTS (100), BENCH_SSE_RATE (100),
#   BENCH_SSE_SECS (30), BENCH_WATCH_COUNT (1000000), BENCH_WATCH_CLIENTS (10), BENCH_WATCH_REPS (3),
#   BENCH_IDLE_CLIENTS (1000), BENCH_IDLE_SECS (60)
#   `scripts/bench.sh poll` runs (e) alone against database BENCH_POLL_DB (default bench_poll),
#   filling it with BENCH_BIG_COUNT calls and metric points first when it holds fewer; with
#   BENCH_MONGO_URI (and BENCH_SERVER_PID for its CPU) set, against that server instead of a fresh
#   one, so a filled database serves many runs
#   `scripts/bench.sh export` measures exports instead (no database): the command line writing
#   BENCH_EXPORT_COUNT (default 10000000) calls and metric points to /dev/null as NDJSON and CSV
#   (documents per CPU second of the one process, peak RSS), then GET /export/calls streamed to
#   curl (documents per second, the service's peak RSS)
#   `scripts/bench.sh pair` runs (h) alone: the time-ordered ceiling started together with a
#   service job, and with a second ceiling (the control), BENCH_E2E_COUNT documents each,
#   BENCH_REPS rounds of each kind in BENCH_KINDS; the other's documents landed per ceiling
#   document while both ran (both see the same minutes of the server's drift), the pairs'
#   combined rates, and each process's CPU per 1,000,000 documents landed
#   `scripts/bench.sh gen` runs (a) alone, no database: generation, and generation with the
#   rollup contribution a run's producer computes, one core; BENCH_GEN_COUNT (default 2000000)
#   documents of each kind a round, BENCH_REPS rounds (median)
#   `scripts/bench.sh soak [MINUTES]` runs the soak (tests/api/soak.rs, release build) for MINUTES
#   (default 30) and prints its report: a live run, backfills, pollers, stream clients and a fault
#   cycle through a fault-injecting proxy, then exactness, 5xx, memory and socket checks
#   BENCH_CACHE_SIZE     the server's storage cache; default MongoDB's own default for this machine,
#                        50 % of (RAM - 1 GB), as a production server would have (tests use 512M)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"

if [ "${1:-}" = "soak" ]; then
  SECANTUSD_BIN="$(scripts/mongodb.sh bin)"
  export SECANTUSD_BIN SOAK_SECS="$(( ${2:-30} * 60 ))"
  exec cargo nextest run --release --run-ignored only -E 'test(=soak::soak)' --no-capture
fi
if [ "${1:-}" = "gen" ]; then
  # (a) alone: generation and the producer's rollup work on one core; no database.
  BENCH_ONLY=gen exec cargo bench --quiet --bench throughput
fi
if [ "${1:-}" = "export" ]; then
  cargo build --release --quiet --bin linq-datagen
  bin=target/release/linq-datagen
  n="${BENCH_EXPORT_COUNT:-10000000}"
  echo "| what | documents | wall s | CPU s | documents per CPU second | peak RSS |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for kind in calls metrics; do
    for format in ndjson csv; do
      # GNU time: wall, user, system seconds and peak RSS (KB) of the one process.
      read -r wall user sys rss < <(/usr/bin/time -f "%e %U %S %M" "$bin" generate "$kind" --count "$n" \
        --seed 1 --output /dev/null --format "$format" 2>&1 >/dev/null | tail -1)
      awk -v k="$kind" -v f="$format" -v n="$n" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
        'BEGIN { printf "| `generate %s --output /dev/null --format %s` | %d | %.2f | %.2f | %.0f | %.0f MB |\n", k, f, n, w, u + s, n / (u + s), r / 1024 }'
    done
  done
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  # No database is needed to export; the service starts against an address where none listens.
  MONGO_URI="mongodb://127.0.0.1:1" MONGO_TIMEOUT_MS=200 LISTEN_ADDR="127.0.0.1:$port" LOG_LEVEL=warn "$bin" serve &
  svc=$!
  trap 'kill "$svc" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do "$bin" healthcheck --url "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  for accept in application/x-ndjson text/csv; do
    secs="$(curl -s -H "accept: $accept" "http://127.0.0.1:$port/export/calls?count=$n&seed=1" -o /dev/null -w '%{time_total}')"
    rss="$(awk '/VmHWM/ {print $2}' "/proc/$svc/status")"
    awk -v a="$accept" -v n="$n" -v t="$secs" -v r="$rss" \
      'BEGIN { printf "| `GET /export/calls`, Accept: %s, to curl | %d | %.2f | – | %.0f per second | service %.0f MB |\n", a, n, t, n / t, r / 1024 }'
  done
  exit 0
fi
ram_mb="$(free -m | awk '/Mem:/ {print $2}')"
export MONGODB_CACHE_SIZE="${BENCH_CACHE_SIZE:-$(( (ram_mb - 1024) / 2 > 256 ? (ram_mb - 1024) / 2 : 256 ))M}"
if [ -n "${BENCH_MONGO_URI:-}" ]; then
  echo "server: $BENCH_MONGO_URI, started elsewhere (its own storage cache)"
else
  echo "server storage cache: $MONGODB_CACHE_SIZE"
  data="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  pid="$(scripts/mongodb.sh start "$data" "$port")"
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
  export BENCH_SERVER_PID="$pid" BENCH_MONGO_URI="mongodb://127.0.0.1:$port"
fi

cargo build --release --quiet --bin linq-datagen
bench="throughput"
if [ "${1:-}" = "poll" ] || [ "${1:-}" = "pair" ]; then
  export BENCH_ONLY="$1"
elif [ "${1:-}" = "live" ]; then
  bench="live"
  # A thousand idle clients hold a thousand sockets on each side.
  ulimit -n 65536 2>/dev/null || true
fi
cargo bench --quiet --bench "$bench"
