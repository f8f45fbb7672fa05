#!/usr/bin/env bash
# The benchmark of docs/performance.md as named scenarios: `scripts/bench.sh <scenario>`.
# `scripts/bench.sh list` (or no name, or --help) lists them. Each scenario that needs a database
# gets a fresh local server on a free port (or BENCH_MONGO_URI's) and a release build of the
# service, then runs the scenario's file in benches/throughput/ (`cargo bench --bench throughput
# -- <scenario>`); export is run here and soak by tests/api/soak.rs. All traffic stays on
# 127.0.0.1.
#
# Scenarios:
#   generation   documents generated per second on one core, alone and with the rollup
#                contribution a run's producer computes; no database. BENCH_GEN_COUNT (default
#                2000000) documents of each kind a round, BENCH_REPS rounds (median)
#   ceiling      the server's raw insert ceiling: pre-built documents (no rollups) sent
#                unordered with the service's batching into collections set up as the service's,
#                calls in scattered and in time order, BENCH_REPS rounds at BENCH_E2E_COUNT and
#                once at BENCH_BIG_COUNT, the server's CPU per 1,000,000 documents
#   end-to-end   the service over HTTP (rollups kept) against the ceiling: BENCH_REPS rounds at
#                BENCH_E2E_COUNT, ceiling and service runs alternating (odd rounds run the
#                ceiling first, even ones the service), medians and round-by-round ratios, the
#                server's CPU per 1,000,000 documents in each and in the settles between; then
#                one ceiling run and one service job of each kind at BENCH_BIG_COUNT; the
#                service's peak RSS
#   polling      BENCH_POLLERS dashboards polling the statistics for BENCH_POLL_SECS over database
#                BENCH_POLL_DB (default bench_poll), filled with BENCH_BIG_COUNT calls and metric
#                points first when it holds fewer: p50/p99/max latency, errors, the server's CPU,
#                the service's peak RSS; with BENCH_MONGO_URI (and BENCH_SERVER_PID for its CPU)
#                set, against that server instead of a fresh one, so a filled database serves
#                many runs
#   cells        BENCH_POLLERS map clients reading GET /cells for BENCH_POLL_SECS, alternating New
#                York's box and 500 cells by ECGI, over database BENCH_CELLS_DB (default
#                bench_cells) filled to BENCH_CELLS (default 100000) cells by runs of 200,000
#                mobile calls: p50/p99/max latency, features an answer, errors, the server's CPU
#   server       the server's counters (serverStatus: commands, documents, bytes) and both
#                processes' CPU per 1,000,000 documents of one service job of each kind at
#                BENCH_E2E_COUNT and of calls at BENCH_BIG_COUNT, the benchmark's own requests
#                counted apart
#   race         the time-ordered ceiling started together with a service job, and with a second
#                ceiling (the control), BENCH_E2E_COUNT documents each, BENCH_REPS rounds of each
#                kind; the other's documents landed per ceiling document while both ran (both
#                see the same minutes of the server's drift), the pairs' combined rates, and each
#                process's CPU per 1,000,000 documents landed
#   export       exports, no database: the command line writing BENCH_EXPORT_COUNT (default
#                10000000) calls and metric points to /dev/null as NDJSON and CSV (documents per
#                CPU second of the one process, peak RSS), then GET /export/calls streamed to
#                curl (documents per second, the service's peak RSS)
#   live         live rate accuracy (BENCH_LIVE_RATES, default 1,100,10000,100000), /calls/stream
#                latency (BENCH_SSE_CLIENTS 100, BENCH_SSE_RATE 100, BENCH_SSE_SECS 30), a job
#                with and without stream clients (BENCH_WATCH_COUNT 1000000, BENCH_WATCH_CLIENTS
#                10, BENCH_WATCH_REPS 3), memory with idle SSE clients (BENCH_IDLE_CLIENTS 1000,
#                BENCH_IDLE_SECS 60)
#   soak [MINUTES]  the soak (tests/api/soak.rs, release build) for MINUTES (default 30) and its
#                report: a live run, backfills, pollers, stream clients and a fault cycle through
#                a fault-injecting proxy, then exactness, 5xx, memory and socket checks
#
# Settings of the scenarios that write to a server:
#   BENCH_E2E_COUNT      documents per run in the rounds (default 1000000)
#   BENCH_BIG_COUNT      the large runs' documents of each kind (default 10000000; 0 skips them)
#   BENCH_BIG_SCATTERED  0 skips the large scattered-order ceiling (the slowest part, ~15 min)
#   BENCH_REPS           rounds (default 3)
#   BENCH_KINDS          which kinds run: calls, metrics or both (default calls,metrics)
#   BENCH_BATCH, BENCH_INFLIGHT   batch size and batches in flight, for the ceilings and the
#                        service alike (default the service's own, 10000 and 4)
#   BENCH_POLLERS, BENCH_POLL_SECS   dashboards polling the statistics, and for how long (32, 60)
#   BENCH_SETTLE_SECS    quiet seconds before each timed run, after the benchmark's databases are
#                        dropped and the server is asked to checkpoint (default 5)
#   BENCH_CACHE_SIZE     the server's storage cache; default MongoDB's own default for this machine,
#                        50 % of (RAM - 1 GB), as a production server would have (tests use 512M)
set -euo pipefail
cd "$(dirname "$0")/.."

scenarios="generation ceiling end-to-end polling cells server race export live soak"
scenario="${1:-list}"
case "$scenario" in
  list | help | --help | -h)
    # The comment at the top of this file, without its marks.
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 0
    ;;
  generation | ceiling | end-to-end | polling | cells | server | race | export | live | soak) ;;
  *)
    echo "no scenario '$scenario'; one of: $scenarios (scripts/bench.sh list describes them)" >&2
    exit 2
    ;;
esac

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"

if [ "$scenario" = "soak" ]; then
  SECANTUSD_BIN="$(scripts/mongodb.sh bin)"
  export SECANTUSD_BIN SOAK_SECS="$(( ${2:-30} * 60 ))"
  exec cargo nextest run --release --run-ignored only -E 'test(=soak::soak)' --no-capture
fi
if [ "$scenario" = "generation" ]; then
  # No database: generation and the producer's rollup work on one core.
  exec cargo bench --quiet --bench throughput -- generation
fi
if [ "$scenario" = "export" ]; then
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
if [ "$scenario" = "live" ]; then
  # A thousand idle clients hold a thousand sockets on each side.
  ulimit -n 65536 2>/dev/null || true
fi
cargo bench --quiet --bench throughput -- "$scenario"
