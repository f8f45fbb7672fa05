#!/bin/sh
# Placeholder sources for every target a Cargo manifest declares, so the Dockerfile can compile the
# dependencies in a layer of their own from `Cargo.toml` + `Cargo.lock` alone. Cargo refuses a
# manifest whose declared targets (`[[bin]]`, `[[bench]]`, `[[test]]`, `[[example]]`, `[lib]`) have
# no source file; the list is read from the manifest here, so adding a target cannot break the build.
#
#   sh deploy/cargo-skeleton.sh [MANIFEST]     run in the manifest's folder; existing files are kept
#
# POSIX sh and awk only: it runs in the Rust build image before anything else is installed.
set -eu
manifest="${1:-Cargo.toml}"

placeholder() {
  [ -e "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  if [ "$2" = lib ]; then : >"$1"; else echo 'fn main() {}' >"$1"; fi
  echo "cargo-skeleton: placeholder $1"
}

# The package's own targets: a binary at src/main.rs and a library at src/lib.rs (a library the
# real package lacks costs nothing: only the named binary is built).
placeholder src/main.rs bin
placeholder src/lib.rs lib

# One line per declared target: "<kind> <path>", the path given or Cargo's default for its name.
awk '
  function unquote(v) { sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]*(#.*)?$/, "", v); gsub(/^["\047]|["\047]$/, "", v); return v }
  function flush() {
    if (kind == "") return
    if (path == "" && kind == "lib") path = "src/lib.rs"
    if (path == "" && name != "") {
      if (kind == "bin") path = "src/bin/" name ".rs"
      else if (kind == "bench") path = "benches/" name ".rs"
      else if (kind == "test") path = "tests/" name ".rs"
      else if (kind == "example") path = "examples/" name ".rs"
    }
    if (path != "") print kind, path
    kind = ""; name = ""; path = ""
  }
  /^[ \t]*\[\[(bin|bench|test|example)\]\][ \t]*(#.*)?$/ { flush(); kind = $0; gsub(/[][ \t]|#.*/, "", kind); next }
  /^[ \t]*\[lib\][ \t]*(#.*)?$/ { flush(); kind = "lib"; next }
  /^[ \t]*\[/ { flush(); next }
  kind != "" && /^[ \t]*name[ \t]*=/ { name = unquote($0) }
  kind != "" && /^[ \t]*path[ \t]*=/ { path = unquote($0) }
  END { flush() }
' "$manifest" | while read -r kind path; do
  placeholder "$path" "$kind"
done
