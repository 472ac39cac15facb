#!/usr/bin/env bash
# `make bench` (full) and `make bench-smoke` (CI: one short iteration, debug builds).
#
#   bench/run.sh full    release builds; writes BENCHMARKS.md and bench/chart.svg
#   bench/run.sh smoke   debug builds, 1 cold start, 2 warm calls; writes target/bench-smoke/
#
# Knobs (full): BENCH_COLD (cold starts per function, default 20), BENCH_WARM (warm calls,
# default 500), BENCH_OVERHEAD (in-process calls, default 20000), BENCH_SIZES=0 to skip the
# arm64 build for artifact sizes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-full}

case "$mode" in
  full)
    out=target/bench; profile=release
    export BENCH_COLD=${BENCH_COLD:-20} BENCH_WARM=${BENCH_WARM:-500} BENCH_OVERHEAD=${BENCH_OVERHEAD:-20000}
    cargo build --release --quiet -p lambda-bench -p get-company -p create-company ;;
  smoke)
    out=target/bench-smoke; profile=debug
    export BENCH_COLD=1 BENCH_WARM=2 BENCH_OVERHEAD=200
    cargo build --quiet -p lambda-bench -p get-company -p create-company ;;
  *) echo "usage: bench/run.sh full|smoke" >&2; exit 2 ;;
esac
rm -rf "$out"; mkdir -p "$out"
scripts/tools.sh bench true   # installs the Python peer's packages on first use
export BENCH_OUT=$out BENCH_BIN=target/$profile BENCH_PYTHON=$root/.tools/bench-venv/bin/python
scripts/dynamodb-local.sh bench/measure.sh

if [ "$mode" = full ]; then
  echo "bench: criterion (handler overhead, in-memory store)" >&2
  cargo bench --quiet -p companies --bench handlers >"$out/criterion.txt" 2>&1
  if [ "${BENCH_SIZES:-1}" != 0 ]; then
    echo "bench: arm64 release build for artifact sizes" >&2
    bins=(); for f in functions/*/; do bins+=(--bin "$(basename "$f")"); done
    scripts/tools.sh sam cargo lambda build --release --arm64 "${bins[@]}" >&2
  fi
fi
python3 bench/report.py "$mode" "$out"
