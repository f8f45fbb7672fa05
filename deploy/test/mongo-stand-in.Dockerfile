# TEST ONLY: a MongoDB-compatible server image for machines that cannot pull `mongo`.
# scripts/containers.sh builds it with a context holding the `secantusd-rs` binary that
# scripts/mongodb.sh installs (SecantusDB, the server the test suite already uses), and
# deploy/test/compose.stand-in.yml puts it in place of the `mongo` service. Users run the real
# `mongo` image; nothing here ships.
FROM debian:bookworm-slim
COPY secantusd-rs /usr/local/bin/secantusd-rs
VOLUME /data/db
EXPOSE 27017
# A one-node replica set named `secantus`: clients connect with ?directConnection=true.
CMD ["secantusd-rs", "--host", "0.0.0.0", "--port", "27017", "--storage-path", "/data/db", "--cache-size", "256M"]
