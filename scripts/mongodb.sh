#!/usr/bin/env bash
# A local MongoDB-compatible server for development and tests, on machines without MongoDB or Docker.
#
# MongoDB has no Debian package and its installers download binaries, so we build SecantusDB's
# `secantusd-rs` (a MongoDB wire-protocol server on WiredTiger, crate `secantus-mdb`) once into a cache
# directory and run it as a separate process. It is a tool, not a dependency: nothing links against it.
#
#   scripts/mongodb.sh install                 build it if missing (about 7 minutes the first time)
#   scripts/mongodb.sh start DATA_DIR PORT     start it in the background, wait until it accepts
#                                              connections, print its PID; its storage cache is
#                                              MONGODB_CACHE_SIZE (default 512M, small for tests)
#   scripts/mongodb.sh bin                     print the path of the binary
#
# Users with Docker run the real `mongo` image instead (see docker-compose.yml).
set -euo pipefail

VERSION="0.5.3-beta.196"
TOOLS_DIR="${LINQ_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/linq-datagen}"
ROOT="$TOOLS_DIR/secantus-$VERSION"
BIN="$ROOT/bin/secantusd-rs"

log() { echo "mongodb.sh: $*" >&2; }

install() {
  if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
    return 0
  fi
  if ! command -v cmake >/dev/null 2>&1; then
    log "installing cmake with apt-get (needed once, to build WiredTiger)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q cmake >&2
  fi
  log "secantusd-rs $VERSION is not installed yet: building it once from crates.io (crate"
  log "secantus-mdb, with WiredTiger) into $ROOT — about 7 minutes on 2 cores; cargo's progress follows"
  mkdir -p "$ROOT"
  local started=$SECONDS
  # The crate declares a newer rust-version than this toolchain; this pinned version builds with it.
  cargo install secantus-mdb --version "$VERSION" --ignore-rust-version --locked --root "$ROOT" >&2
  "$BIN" --version >/dev/null
  log "installed $BIN in $((SECONDS - started)) s; later runs start it at once"
}

wait_for_port() {
  local port="$1" pid="$2"
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { log "server exited during start-up"; return 1; }
    sleep 0.05
  done
  log "server did not accept connections on port $port within 10 s"
  return 1
}

start() {
  local data="$1" port="$2"
  install
  mkdir -p "$data"
  "$BIN" --host 127.0.0.1 --port "$port" --storage-path "$data" --cache-size "${MONGODB_CACHE_SIZE:-512M}" \
    >"$data/server.log" 2>&1 &
  local pid=$!
  wait_for_port "$port" "$pid"
  echo "$pid"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?data dir}" "${3:?port}" ;;
  bin) install; echo "$BIN" ;;
  *) echo "usage: $0 install | start DATA_DIR PORT | bin" >&2; exit 2 ;;
esac
