#!/usr/bin/env bash
# Start the service with a local MongoDB-compatible server, installing the server if it is missing.
# The server keeps its data in .data/mongo between runs; the service listens on LISTEN_ADDR
# (default 0.0.0.0:8080). Ctrl-C stops both. If something already listens on the MongoDB port
# (MONGO_PORT, default 27017), that server is used as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

MONGO_PORT="${MONGO_PORT:-27017}"
export MONGO_URI="${MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT}"

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null; then
  echo "run.sh: using the server already listening on port $MONGO_PORT" >&2
else
  server_pid="$(scripts/mongodb.sh start "$PWD/.data/mongo" "$MONGO_PORT")"
  echo "run.sh: MongoDB-compatible server on 127.0.0.1:$MONGO_PORT (pid $server_pid, data in .data/mongo)" >&2
fi

echo "run.sh: building linq-datagen (release) — the first build takes a few minutes, later ones seconds" >&2
cargo build --release
echo "run.sh: starting linq-datagen serve${*:+ $*} (Ctrl-C stops it, and the server if run.sh started it)" >&2
"${CARGO_TARGET_DIR:-target}/release/linq-datagen" serve "$@"
