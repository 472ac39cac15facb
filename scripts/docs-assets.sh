#!/usr/bin/env bash
# Installs the API reference's renderer (swagger-ui-dist) and the browser test's driver
# (playwright-core) from the npm registry into reference/node_modules, as pinned by
# reference/package-lock.json; a second run with nothing changed does nothing. The browser never
# fetches them from a CDN: the local API and `make docs` serve them from here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/reference"
stamp=node_modules/.installed-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "docs-assets: npm ci in reference/" >&2
  SCARF_ANALYTICS=false npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
  cp package-lock.json "$stamp"
fi
