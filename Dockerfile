# syntax=docker/dockerfile:1
# Multi-stage build: dependencies are compiled in a layer of their own, so editing the source does
# not rebuild them; the runtime image is Debian slim with the one binary, run as a non-root user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# 1. Dependencies only: the real manifests with placeholder sources.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/throughput.rs \
 && cargo build --release --locked --bin linq-datagen \
 && rm -rf src benches
# 2. The service itself.
COPY src ./src
COPY benches ./benches
COPY openapi.yaml ./
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin linq-datagen \
 && cp target/release/linq-datagen /linq-datagen

FROM debian:bookworm-slim AS runtime
# TLS to MongoDB uses rustls with bundled roots: no OpenSSL or CA package needed.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
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
