# Multi-stage build: dependencies are compiled in a stage of their own, so editing the source does
# not rebuild them; the runtime image is Debian slim with the one stripped binary, run as a
# non-root user. Only instructions both builders take and no `# syntax` frontend to pull;
# checked with the legacy builder (docker-compose 1.29's, and the engine's own without buildx).
# `scripts/containers.sh` builds and runs it in a real engine as part of the test command.

FROM rust:1.95-slim-bookworm AS deps
WORKDIR /src
# 1. Dependencies only: the real manifest and lock file, with a placeholder source for every target
#    the manifest declares (read from Cargo.toml by cargo-skeleton.sh), so this layer is rebuilt
#    only when they change and cannot drift from the manifest's list of targets.
COPY deploy/cargo-skeleton.sh /usr/local/bin/cargo-skeleton
COPY Cargo.toml Cargo.lock ./
RUN sh /usr/local/bin/cargo-skeleton Cargo.toml \
 && cargo build --release --locked --bin linq-datagen

FROM deps AS build
# 2. The service itself, over the placeholders. COPY keeps the files' own times, older than the
#    placeholder build: touching the crate roots makes cargo compile the real sources.
COPY src ./src
COPY benches ./benches
COPY openapi.yaml ./
# The area codes' cities, compiled in by src/generate/cells.rs.
COPY docs/sources/area-code-cities.csv ./docs/sources/
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin linq-datagen \
 && strip --strip-debug -o /linq-datagen target/release/linq-datagen

FROM debian:bookworm-slim AS runtime
# TLS to MongoDB uses rustls with bundled roots: no OpenSSL or CA package needed.
# --no-log-init: a high uid would otherwise add a multi-megabyte lastlog file to the layer.
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /linq-datagen /usr/local/bin/linq-datagen
USER app
ENV LISTEN_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
EXPOSE 8080
# Slim images have no curl: the binary probes its own /healthz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["linq-datagen", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["linq-datagen"]
CMD ["serve"]
