#!/usr/bin/env bash
# Write latency before and after a change: builds create-company (and the harness) at BASE and
# at the working tree with the same profile, then measures both, one after the other, against
# one DynamoDB Local through the Runtime-API harness (warm invocations of one process each).
#
#   bench/write-latency.sh [BASE_REV] [WARM]     defaults: HEAD~1, 500; writes target/bench-write/
#
# The release profile without fat LTO (build time on 2 cores): both sides alike.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
base=${1:-HEAD~1}
warm=${2:-500}
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
python3 - "$out" "$base_name" "$warm" "$(nproc)" "$(git rev-parse --short HEAD)" <<'PY' | tee bench/write-latency.md
import json, sys
out, base, warm, cores, head = sys.argv[1:]
print("## Write latency before and after the change history")
print()
print(f"`bench/write-latency.sh` (base {base}; after: the tree at {head} with its working changes),")
print(f"on this {cores}-core machine against DynamoDB Local: create-company's warm latency over {warm}")
print("invocations of one process per round, the two builds alternating over two rounds, release")
print("profile without fat LTO on both sides. Since the history, a create writes the company and its")
print("first entry in one TransactWriteItems instead of one PutItem (on AWS a transaction also costs")
print("twice the write units); reads are unchanged (the company item is still one GetItem).")
print()
print("| build | round | p50 (ms) | p90 (ms) | p99 (ms) |")
print("|---|---:|---:|---:|---:|")
for label in ["before", "after"]:
    for r in (1, 2):
        w = json.load(open(f"{out}/{label}-{r}.json"))["warm_ms"]
        name = "before" if label == "before" else "after"
        print(f"| {name} | {r} | {w['p50']:.2f} | {w['p90']:.2f} | {w['p99']:.2f} |")
PY
