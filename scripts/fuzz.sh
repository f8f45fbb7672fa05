#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests from the spec the live service serves (openapi.yaml
# with this deployment's bounds and authorization) against a real server, with every check
# (`--checks all`): no 5xx, responses (the Server-Sent Events of the stream endpoints included,
# event by event) conform to the spec, schema-valid requests are accepted (scripts/fuzz_hooks.py
# admits only the documented cross-field 422s), invalid ones refused, a missing or wrong key
# refused where the spec asks for one, created jobs readable, deleted ones gone.
#
# Twice, once per authorization mode: without `API_KEY` (a default deployment: the served spec asks
# for no authorization and writes are accepted without it) and with `API_KEY` (writes declare
# `security` and schemathesis sends the key). Every operation is included; the endless streams are
# read for a few seconds per case (scripts/schemathesis.toml). Bounded: at most FUZZ_EXAMPLES cases
# per operation (default 100), only to 127.0.0.1. FUZZ_SEED picks the seed (default 1), FUZZ_MODES
# the modes (default `open key`).
# Needs TEST_MONGO_URI (scripts/test.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_MONGO_URI:?set TEST_MONGO_URI (scripts/test.sh does)}"

ST_VERSION="4.32.5"
TOOLS_DIR="${LINQ_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/linq-datagen}"
VENV="$TOOLS_DIR/schemathesis-$ST_VERSION"
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing schemathesis $ST_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check --progress-bar off "schemathesis==$ST_VERSION" >&2
fi

cargo build --bin linq-datagen
bin="${CARGO_TARGET_DIR:-target}/debug/linq-datagen"
svc=""
trap '[ -n "$svc" ] && { kill "$svc" 2>/dev/null || true; wait "$svc" 2>/dev/null || true; }' EXIT

# fuzz MODE: one schemathesis run against a fresh service; MODE is `open` (no API_KEY) or `key`.
fuzz() {
  local mode="$1" port db key=""
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  db="fuzz_${mode}_$(date +%s)_$$"
  local auth=()
  if [ "$mode" = key ]; then
    key="fuzz-$$-$RANDOM"
    auth=(-H "Authorization: Bearer $key")
  fi
  echo "fuzz.sh: ── $mode: $([ -n "$key" ] && echo "API_KEY set, writes need it" || echo "API_KEY unset, nothing needs a key")" >&2
  # Small limits keep generated jobs and live runs tiny; requests above them are answered 422,
  # which the served spec states (its bounds are these settings).
  MONGO_URI="$TEST_MONGO_URI" MONGO_DB="$db" LISTEN_ADDR="127.0.0.1:$port" MAX_COUNT=2000 \
    ASYNC_THRESHOLD=500 MAX_JOBS=4 MAX_LIVE_RUNS=1 LIVE_MAX_CALLS_PER_SECOND=50 \
    API_KEY="$key" LOG_LEVEL=warn "$bin" serve &
  svc=$!
  for _ in $(seq 100); do
    "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
    sleep 0.1
  done
  # A small run over a long window updates a rollup document per hour it touches: on 2 shared
  # cores with a debug build that can pass the client's default 10 s; the service answers it all
  # the same.
  SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$PWD/scripts" \
    "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml \
    run "http://127.0.0.1:$port/openapi.yaml" \
    --url "http://127.0.0.1:$port" \
    "${auth[@]}" \
    --request-timeout 60 \
    --checks all \
    --max-examples "${FUZZ_EXAMPLES:-100}" \
    --phases examples,coverage,fuzzing,stateful \
    --seed "${FUZZ_SEED:-1}" \
    --no-color
  kill "$svc" 2>/dev/null || true
  wait "$svc" 2>/dev/null || true
  svc=""
}

for mode in ${FUZZ_MODES:-open key}; do
  fuzz "$mode"
done
