#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests from openapi.yaml (valid and invalid) against the live
# service and a real server, and checks that nothing answers 5xx and every response conforms to the
# spec. Bounded: at most FUZZ_EXAMPLES cases per operation (default 100), only to 127.0.0.1.
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
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

cargo build --quiet --bin linq-datagen
bin="${CARGO_TARGET_DIR:-target}/debug/linq-datagen"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
db="fuzz_$(date +%s)_$$"
# Small limits keep generated jobs tiny; requests above them are answered 422, which the spec documents.
MONGO_URI="$TEST_MONGO_URI" MONGO_DB="$db" LISTEN_ADDR="127.0.0.1:$port" MAX_COUNT=2000 \
  ASYNC_THRESHOLD=500 MAX_JOBS=4 LOG_LEVEL=warn "$bin" serve &
svc=$!
trap 'kill "$svc" 2>/dev/null || true; wait "$svc" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  "$bin" healthcheck --url "http://127.0.0.1:$port/readyz" 2>/dev/null && break
  sleep 0.1
done

"$VENV/bin/schemathesis" run openapi.yaml \
  --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,unsupported_method,allow_header_conformance \
  --max-examples "${FUZZ_EXAMPLES:-100}" \
  --phases examples,coverage,fuzzing,stateful \
  --seed 1 \
  --no-color
