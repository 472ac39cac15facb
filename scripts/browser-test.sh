#!/usr/bin/env bash
# The API reference's browser test (reference/tests/): installs Debian's Chromium if it is missing
# (as root, as CI runs; others are told to), the renderer and playwright-core from the npm
# registry, builds the local API, and runs the test with node's test runner. Screenshots go
# to target/docs-reference.png and target/docs-try-it.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "browser-test: installing Debian's chromium" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "browser-test: Chromium is missing: sudo apt-get install chromium (or set CHROMIUM=...)" >&2
    exit 1
  fi
fi
scripts/docs-assets.sh
cargo build --quiet -p local-api
node --test reference/tests/
