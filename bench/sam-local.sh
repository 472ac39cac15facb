#!/usr/bin/env bash
# get-company through real SAM, container start included: what a user of `sam local` waits.
# Cold: N `sam local invoke` runs of events/get-company.json (each a new container). Warm:
# `sam local start-api` with warm containers, GET /companies/{id} repeated after one warm-up.
# Writes bench/sam-local.md (which `make bench` includes in BENCHMARKS.md).
#
#   bench/sam-local.sh [COLD_RUNS] [WARM_REQUESTS]      defaults 10 and 200
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/sam-local.sh run python3 bench/sam_local.py "${1:-10}" "${2:-200}"
