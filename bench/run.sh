#!/usr/bin/env bash
# `make bench` (full) and `make bench-smoke` (CI: one short iteration, debug builds).
#
#   bench/run.sh full    release builds; writes BENCHMARKS.md and bench/chart.svg
#   bench/run.sh smoke   debug builds, 1 cold start, 2 warm calls; writes target/bench-smoke/
#
# Knobs (full): BENCH_COLD (cold starts per function, default 40), BENCH_WARM (warm calls,
# default 500), BENCH_WARMUP (calls that warm DynamoDB Local first, default 3000),
# BENCH_OVERHEAD (in-process calls, default 20000), BENCH_SIZES=0 to skip the
# arm64 build for artifact sizes, BENCH_SCALE=0 to skip the import and search at scale.
#
# Every function, the floor (bench/floor) and each function's Python peer are measured twice:
# plain HTTP to DynamoDB Local, then behind a local TLS terminator (bench/with-tls.sh). Then the
# size breakdown (cargo-bloat) and bench/scale.sh (import and search at 100,000 companies).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-full}

functions=(-p functions)
case "$mode" in
  full)
    out=target/bench; profile=release
    export BENCH_COLD=${BENCH_COLD:-40} BENCH_WARM=${BENCH_WARM:-500} BENCH_WARMUP=${BENCH_WARMUP:-3000}
    export BENCH_OVERHEAD=${BENCH_OVERHEAD:-20000}
    # The functions and the floor on their own: no other package's features unified into them.
    cargo build --release --quiet "${functions[@]}" -p floor
    cargo build --release --quiet -p lambda-bench ;;
  smoke)
    out=target/bench-smoke; profile=debug
    export BENCH_COLD=1 BENCH_WARM=2 BENCH_WARMUP=2 BENCH_OVERHEAD=200
    cargo build --quiet "${functions[@]}" -p floor
    cargo build --quiet -p lambda-bench ;;
  *) echo "usage: bench/run.sh full|smoke" >&2; exit 2 ;;
esac
rm -rf "$out"; mkdir -p "$out"
scripts/tools.sh bench true   # installs the Python peer's packages on first use
export BENCH_OUT=$out BENCH_BIN=target/$profile BENCH_PYTHON=$root/.tools/bench-venv/bin/python
# Plain HTTP to DynamoDB Local, then the same behind a local TLS terminator with a throwaway CA.
scripts/dynamodb-local.sh sh -c 'bench/measure.sh plain && bench/with-tls.sh bench/measure.sh tls'

if [ "$mode" = full ]; then
  echo "bench: criterion (handler overhead, in-memory store)" >&2
  cargo bench --quiet -p companies-edge --bench handlers >"$out/criterion.txt" 2>&1
  if [ "${BENCH_SIZES:-1}" != 0 ]; then
    echo "bench: arm64 release build for artifact sizes" >&2
    bins=(); for f in functions/src/bin/*.rs; do bins+=(--bin "$(basename "$f" .rs)"); done
    scripts/tools.sh sam cargo lambda build --release --arm64 "${bins[@]}" >&2
    # The report reads these copies only: target/lambda also receives scripts/sam-local.sh's
    # quicker builds (no LTO), which are not what a deploy ships.
    for f in functions/src/bin/*.rs; do
      fn=$(basename "$f" .rs); mkdir -p "$out/arm64/$fn"; cp "target/lambda/$fn/bootstrap" "$out/arm64/$fn/"
    done
  fi
  echo "bench: what the bytes are (cargo-bloat, by crate)" >&2
  [ -x .tools/cargo-bloat/bin/cargo-bloat ] || cargo install --quiet --locked cargo-bloat@0.12.1 --root .tools/cargo-bloat
  # Symbols kept (the release profile strips them), same profile otherwise; x86_64, the target
  # this machine builds natively (the arm64 artifact's total size is in the table above).
  PATH="$root/.tools/cargo-bloat/bin:$PATH" CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=target/bloat cargo bloat \
    --release -p functions --bin update-company --crates -n 30 --message-format json >"$out/bloat.json"
  python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
b = json.load(open(f"{out}/bloat.json"))
lines = ["## What the bytes are", "",
         "`cargo bloat --release -p functions --bin update-company --crates` (x86_64 build of the release profile with",
         f"symbols kept): `.text` is {b['text-section-size'] / 1e6:.2f} MB of a {b['file-size'] / 1e6:.2f} MB file; by crate:", "",
         "| crate | .text (KB) | share of .text |", "|---|---:|---:|"]
for c in b["crates"]:
    lines.append(f"| {c['name']} | {c['size'] / 1e3:.0f} | {100 * c['size'] / b['text-section-size']:.1f} % |")
open(f"{out}/bloat.md", "w").write("\n".join(lines) + "\n")
PY
fi
# Import and search at scale (bench/scale.md, which the report includes); BENCH_SCALE=0 skips it
# (about half of a full run: DynamoDB Local writes some 90 companies a second).
if [ "${BENCH_SCALE:-1}" != 0 ]; then bench/scale.sh "$mode"; fi
python3 bench/report.py "$mode" "$out"
