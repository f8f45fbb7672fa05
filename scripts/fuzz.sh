#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests from the spec the live service serves (openapi.yaml
# with its MAX_COUNT) against a real server, with every check: no 5xx, responses conform to the
# spec, schema-valid requests are accepted (scripts/fuzz_hooks.py admits only the documented
# cross-field 422s), invalid ones refused, writes refused without the API key, created jobs
# readable, deleted ones gone. Bounded: at most FUZZ_EXAMPLES cases per operation (default 100),
# only to 127.0.0.1. The endless event stream (/stats/stream) is left out: a fuzzer reads whole
# bodies; tests/api/stats.rs covers it.
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
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
db="fuzz_$(date +%s)_$$"
# Small limits keep generated jobs tiny; requests above them are answered 422, which the spec documents.
key="fuzz-$$-$RANDOM"
MONGO_URI="$TEST_MONGO_URI" MONGO_DB="$db" LISTEN_ADDR="127.0.0.1:$port" MAX_COUNT=2000 \
  ASYNC_THRESHOLD=500 MAX_JOBS=4 MAX_LIVE_RUNS=1 LIVE_MAX_CALLS_PER_SECOND=50 \
  API_KEY="$key" LOG_LEVEL=warn "$bin" serve &
svc=$!
trap 'kill "$svc" 2>/dev/null || true; wait "$svc" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.1
done

# A small run over a long window updates a rollup document per hour it touches: on 2 shared cores
# with a debug build that can pass the client's default 10 s; the service answers it all the same.
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance,negative_data_rejection
checks+=,positive_data_acceptance,missing_required_header,unsupported_method
checks+=,allow_header_conformance,use_after_free,ensure_resource_availability,ignored_auth
checks+=,object_level_authorization
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$PWD/scripts" \
  "$VENV/bin/schemathesis" run "http://127.0.0.1:$port/openapi.yaml" \
  --url "http://127.0.0.1:$port" \
  --exclude-path /stats/stream \
  --exclude-path /calls/stream \
  -H "Authorization: Bearer $key" \
  --request-timeout 60 \
  --checks "$checks" \
  --max-examples "${FUZZ_EXAMPLES:-100}" \
  --phases examples,coverage,fuzzing,stateful \
  --seed 1 \
  --no-color
