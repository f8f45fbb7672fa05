#!/usr/bin/env bash
# The whole test suite, as CI runs it: format and lint checks, then unit and integration tests
# against a real MongoDB-compatible server started here on a free port with a throw-away data dir,
# then schemathesis against the live service (scripts/fuzz.sh). Installs what it needs: the server
# (scripts/mongodb.sh) and headless Chromium for the browser test (scripts/chromium.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings

SECANTUSD_BIN="$(scripts/mongodb.sh bin)"
export SECANTUSD_BIN
CHROMIUM_BIN="$(scripts/chromium.sh)"
export CHROMIUM_BIN
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
pid="$(scripts/mongodb.sh start "$data" "$port")"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
export TEST_MONGO_URI="mongodb://127.0.0.1:$port"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@"
else
  cargo test --no-fail-fast "$@"
fi

# The live service against its OpenAPI description.
scripts/fuzz.sh
