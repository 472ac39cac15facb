#!/usr/bin/env bash
# Write latency before and after a change: builds create-company (and the harness) at BASE and
# at the working tree with the same profile, then measures both, one after the other, against
# one DynamoDB Local through the Runtime-API harness (warm invocations of one process each).
#
#   bench/write-latency.sh [BASE_REV] [WARM] [NAME]   defaults: HEAD~1, 500, change; writes
#   target/bench-write/ and bench/write-latency-NAME.md (with bench/write-latency-NAME.txt: the
#   heading and the paragraph that explains the change, if it exists)
#
# The release profile without fat LTO (build time on 2 cores): both sides alike.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
base=${1:-HEAD~1}
warm=${2:-500}
name=${3:-change}
out=target/bench-write
mkdir -p "$out"
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

src="$out/base-src"
git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
git worktree add --detach "$src" "$base" >&2
echo "bench: building create-company at $base and at the working tree" >&2
CARGO_TARGET_DIR="$root/$out/base-target" cargo build --quiet --release \
  --manifest-path "$src/Cargo.toml" -p create-company
cargo build --quiet --release -p create-company -p lambda-bench
git worktree remove --force "$src"

export TABLE_NAME=bench-write AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
scripts/dynamodb-local.sh sh -c "
  target/release/lambda-bench seed --event bench/events/get-company.json >/dev/null
  for round in 1 2; do
    target/release/lambda-bench run --event bench/events/create-company.json --cold 1 --warm $warm \
      --label before -- $out/base-target/release/create-company >$out/before-\$round.json
    target/release/lambda-bench run --event bench/events/create-company.json --cold 1 --warm $warm \
      --label after -- target/release/create-company >$out/after-\$round.json
  done"
base_name=$(git log -1 --format='%h %s' "$base" | cut -c1-72)
python3 - "$out" "$base_name" "$warm" "$(nproc)" "$(git rev-parse --short HEAD)" "$name" <<'PY' | tee "bench/write-latency-$name.md"
import json, os, sys
out, base, warm, cores, head, name = sys.argv[1:]
explanation = f"bench/write-latency-{name}.txt"
title, text = f"Write latency before and after: {name}", ""
if os.path.exists(explanation):
    title, _, text = open(explanation).read().partition("\n")
print(f"## {title.strip()}")
print()
print(f"`bench/write-latency.sh {base.split()[0]} {warm} {name}` (base {base}; after: the tree at")
print(f"{head} with its working changes), on this {cores}-core machine against DynamoDB Local:")
print(f"create-company's warm latency over {warm} invocations of one process per round, the two")
print("builds alternating over two rounds, release profile without fat LTO on both sides.")
if text.strip():
    print(text.strip())
print()
print("| build | round | p50 (ms) | p90 (ms) | p99 (ms) |")
print("|---|---:|---:|---:|---:|")
for label in ["before", "after"]:
    for r in (1, 2):
        w = json.load(open(f"{out}/{label}-{r}.json"))["warm_ms"]
        name = "before" if label == "before" else "after"
        print(f"| {name} | {r} | {w['p50']:.2f} | {w['p90']:.2f} | {w['p99']:.2f} |")
PY
