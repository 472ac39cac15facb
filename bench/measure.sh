#!/usr/bin/env bash
# Runs inside scripts/dynamodb-local.sh (AWS_ENDPOINT_URL_DYNAMODB set), plain or (through
# bench/with-tls.sh) behind TLS: seeds a table for the mode, then measures the floor (a bare
# lambda_http function), every function and the Python peer on the same server.
#
#   bench/measure.sh plain|tls
set -euo pipefail
mode=${1:-plain}
bench="$BENCH_BIN/lambda-bench"
# list-companies will not start on "AWS" (the harness sets AWS_LAMBDA_FUNCTION_NAME) without it.
export CURSOR_SECRET=bench-cursor-secret
export TABLE_NAME=bench-$mode AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 PYTHONPATH=$PWD/bench/python
for event in bench/events/*.json; do "$bench" seed --event "$event" >/dev/null; done
# The functions that touch the table, then get-banks (the registry, no table).
table_functions="get-company list-companies get-company-history create-company update-company delete-company add-bank-account update-bank-account delete-bank-account"
echo "bench [$mode]: floor" >&2
"$bench" run --event bench/events/get-company.json --cold "$BENCH_COLD" --warm "$BENCH_WARM" --label "floor" \
  -- "$BENCH_BIN/floor" >"$BENCH_OUT/$mode-floor.json"
for fn in $table_functions get-banks; do
  # Warm latency of the two functions the Python peer also has; cold starts of all.
  case "$fn" in get-company|create-company) warm=$BENCH_WARM ;; *) warm=0 ;; esac
  echo "bench [$mode]: $fn" >&2
  "$bench" run --phases --event "bench/events/$fn.json" --cold "$BENCH_COLD" --warm "$warm" --label "rust $fn" \
    -- "$BENCH_BIN/$fn" >"$BENCH_OUT/$mode-rust-$fn.json"
done
for fn in get-company create-company; do
  handler=${fn//-/_}
  echo "bench [$mode]: $fn (Python)" >&2
  "$bench" run --event "bench/events/$fn.json" --cold "$BENCH_COLD" --warm "$BENCH_WARM" --label "python $fn" \
    -- "$BENCH_PYTHON" -m awslambdaric "handlers.$handler" >"$BENCH_OUT/$mode-python-$fn.json"
done
if [ "$mode" = plain ]; then
  for fn in get-company create-company; do
    "$bench" overhead --event "bench/events/$fn.json" --iterations "$BENCH_OVERHEAD" >"$BENCH_OUT/overhead-$fn.json"
  done
  grep -m1 Version: "$PWD/target/dynamodb-local.log" | awk '{print $2}' >"$BENCH_OUT/dynamodb-local-version.txt" || true
fi
