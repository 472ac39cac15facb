#!/usr/bin/env bash
# Import and search at scale, against DynamoDB Local and a throwaway PostgreSQL:
#   - `companies-import` of a generated Flask-service database of LARGE (100,000) and SMALL
#     (1,000) companies with 0-3 bank accounts each: rows per second and peak memory;
#   - searches and `sort=name` pages through the local API on each imported table: the same
#     requests at both sizes, to show that their cost follows the page, not the table.
#
#   bench/scale.sh full|smoke    full writes bench/scale.md; smoke (CI, debug builds) runs 50 and 300
#
# Release builds of the importer and the local API (the tools' profile: no fat LTO, whose
# single-unit optimisation is for the Lambda artifacts and would cost minutes on 2 cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-full}
case "$mode" in
  full)
    export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=3
    cargo build --release --quiet -p companies-import -p local-api
    export SCALE_BIN=target/release SCALE_SIZES="1000 100000" SCALE_REPEAT=200 SCALE_OUT=bench/scale.md ;;
  smoke)
    # The debug builds `make test` made: the smoke run proves the script works, nothing more.
    cargo build --quiet -p companies-import -p local-api
    export SCALE_BIN=target/debug SCALE_SIZES="50 300" SCALE_REPEAT=3 SCALE_OUT=target/bench-smoke/scale.md
    mkdir -p target/bench-smoke ;;
  *) echo "usage: bench/scale.sh full|smoke" >&2; exit 2 ;;
esac
scripts/postgres.sh scripts/dynamodb-local.sh python3 bench/scale.py
