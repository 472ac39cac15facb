#!/usr/bin/env bash
# Runs inside scripts/dynamodb-local.sh (AWS_ENDPOINT_URL_DYNAMODB set): seeds the table, then
# measures the Rust functions and the Python peer on the same server, and the in-process overhead.
set -euo pipefail
bench="$BENCH_BIN/lambda-bench"
export TABLE_NAME=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 PYTHONPATH=$PWD/bench/python
"$bench" seed --event bench/events/get-company.json >/dev/null
for fn in get-company create-company; do
  handler=${fn//-/_}
  echo "bench: $fn (Rust, then Python)" >&2
  "$bench" run --event "bench/events/$fn.json" --cold "$BENCH_COLD" --warm "$BENCH_WARM" --label "rust $fn" \
    -- "$BENCH_BIN/$fn" >"$BENCH_OUT/rust-$fn.json"
  "$bench" run --event "bench/events/$fn.json" --cold "$BENCH_COLD" --warm "$BENCH_WARM" --label "python $fn" \
    -- "$BENCH_PYTHON" -m awslambdaric "handlers.$handler" >"$BENCH_OUT/python-$fn.json"
  "$bench" overhead --event "bench/events/$fn.json" --iterations "$BENCH_OVERHEAD" >"$BENCH_OUT/overhead-$fn.json"
done
grep -m1 Version: "$PWD/target/dynamodb-local.log" | awk '{print $2}' >"$BENCH_OUT/dynamodb-local-version.txt" || true
