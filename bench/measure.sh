#!/usr/bin/env bash
# Runs inside scripts/dynamodb-local.sh (AWS_ENDPOINT_URL_DYNAMODB set), plain or (through
# bench/with-tls.sh) behind TLS: seeds a table for the mode, then measures the floor (a bare
# lambda_http function; in plain mode also the floor plus get-company's GetItem), every function
# and its Python peer on the same server.
#
#   bench/measure.sh plain|tls
set -euo pipefail
mode=${1:-plain}
bench="$BENCH_BIN/lambda-bench"
# list-companies will not start on "AWS" (the harness sets AWS_LAMBDA_FUNCTION_NAME) without it.
export CURSOR_SECRET=bench-cursor-secret
export TABLE_NAME=bench-$mode AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 PYTHONPATH=$PWD/bench/python
for event in bench/events/*.json; do "$bench" seed --event "$event" >/dev/null; done
# The functions that touch the table, then get-banks (the registry, no table). `FN:EVENT` runs
# FN on bench/events/EVENT.json: update-company is measured on a rename (its event; the name
# index moves: some 40 items in its transaction) and on an update that keeps the name (the
# company and its history entry).
# The writes to an existing company act on a fresh one in each cold start (`--fresh`).
fresh() { case "$1" in update-company|delete-company|*-bank-account) echo --fresh ;; esac; }
table_functions="get-company list-companies get-company-history create-company update-company update-company:update-company-keep-name delete-company add-bank-account update-bank-account delete-bank-account"
# Warm DynamoDB Local (its JIT) before measuring anything, so that whichever runs first does not
# pay for the others: BENCH_WARMUP reads and creates, then a few cold starts of every function
# on its own event (a delete's or a rename's transaction takes paths a create does not).
# DynamoDB Local keeps getting faster over its first few thousand requests (its JIT), so the
# warm-up is long enough for the cold starts measured after it to stay level. Nothing of it is
# recorded.
echo "bench [$mode]: warming DynamoDB Local" >&2
for fn in get-company create-company; do
  "$bench" run --event "bench/events/$fn.json" --cold 2 --warm "$BENCH_WARMUP" --label warm-up -- "$BENCH_BIN/$fn" >/dev/null
done
warmup_cold=$(( BENCH_COLD / 4 > 0 ? BENCH_COLD / 4 : 1 ))
for run in $table_functions; do
  fn=${run%%:*} event=${run#*:}
  "$bench" run $(fresh "$fn") --event "bench/events/$event.json" --cold "$warmup_cold" --warm 0 --label warm-up \
    -- "$BENCH_BIN/$fn" >/dev/null
done
echo "bench [$mode]: floor" >&2
"$bench" run --event bench/events/get-company.json --cold "$BENCH_COLD" --warm "$BENCH_WARM" --label "floor" \
  -- "$BENCH_BIN/floor" >"$BENCH_OUT/$mode-floor.json"
if [ "$mode" = plain ]; then
  # The floor plus get-company's GetItem, without the SDK (plain HTTP only).
  echo "bench [$mode]: floor-call" >&2
  "$bench" run --event bench/events/get-company.json --cold "$BENCH_COLD" --warm "$BENCH_WARM" --label "floor-call" \
    -- "$BENCH_BIN/floor-call" >"$BENCH_OUT/$mode-floor-call.json"
  # get-company against it, their starts alternating (as against the floor below).
  "$bench" run --baseline "$BENCH_BIN/floor-call" --event bench/events/get-company.json --cold "$BENCH_COLD" \
    --warm 0 --label "rust get-company beside floor-call" -- "$BENCH_BIN/get-company" \
    >"$BENCH_OUT/$mode-rust-get-company-vs-call.json"
fi
for run in $table_functions get-banks; do
  fn=${run%%:*} event=${run#*:}
  # Warm latency of get-company and create-company; cold starts of all, each round made of a
  # start of the same handler in Python (`--peer`, bench/python/handlers.py), one of the floor
  # (`--baseline`) and one of the function, so that each ratio pairs starts made under the same
  # load (this machine's speed drifts by a third within a run).
  # A fresh company for the function, and one for its peer.
  case "$fn" in get-company|create-company) warm=$BENCH_WARM ;; *) warm=0 ;; esac
  echo "bench [$mode]: $event" >&2
  "$bench" run --phases $(fresh "$fn") --baseline "$BENCH_BIN/floor" \
    --peer "$BENCH_PYTHON -m awslambdaric handlers.${fn//-/_}" --event "bench/events/$event.json" \
    --cold "$BENCH_COLD" --warm "$warm" --label "rust $event" -- "$BENCH_BIN/$fn" >"$BENCH_OUT/$mode-rust-$event.json"
done
if [ "$mode" = tls ]; then
  # Trust from a one-certificate bundle: what the functions' compiled-in roots cost on AWS,
  # where no bundle is named (nothing to read or parse), against the system bundle above.
  echo "bench [$mode]: get-company, CA alone" >&2
  AWS_CA_BUNDLE="$BENCH_TLS_CA" SSL_CERT_FILE="$BENCH_TLS_CA" "$bench" run --phases --event bench/events/get-company.json \
    --cold "$BENCH_COLD" --warm 0 --label "rust get-company (CA alone)" \
    -- "$BENCH_BIN/get-company" >"$BENCH_OUT/$mode-rust-get-company-ca-only.json"
fi
# The Python peer's warm latency and peak memory (its cold starts are the `--peer` ones above).
for fn in get-company create-company; do
  handler=${fn//-/_}
  echo "bench [$mode]: $fn (Python, warm)" >&2
  "$bench" run --event "bench/events/$fn.json" --cold 1 --warm "$BENCH_WARM" --label "python $fn" \
    -- "$BENCH_PYTHON" -m awslambdaric "handlers.$handler" >"$BENCH_OUT/$mode-python-$fn.json"
done
if [ "$mode" = plain ]; then
  for fn in get-company create-company; do
    "$bench" overhead --event "bench/events/$fn.json" --iterations "$BENCH_OVERHEAD" >"$BENCH_OUT/overhead-$fn.json"
  done
  grep -m1 Version: "$PWD/target/dynamodb-local.log" | awk '{print $2}' >"$BENCH_OUT/dynamodb-local-version.txt" || true
fi
