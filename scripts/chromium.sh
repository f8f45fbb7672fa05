#!/usr/bin/env bash
# Headless Chromium for the browser test (tests/api/page.rs): Debian's `chromium` package, installed
# with apt-get when missing. Prints the binary's path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium.sh: installing Debian's chromium package (needed once, for the browser test)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >&2
fi
command -v chromium
