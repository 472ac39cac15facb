#!/usr/bin/env bash
# Fails when a tool that never runs on Lambda (the importer, the reindexer, the smoke suite)
# links the Lambda runtime: its normal and build dependencies, as `cargo tree` resolves them, hold
# no lambda_http and no lambda_runtime. What the first two share with the functions is the model
# and the store crates; the smoke suite is an HTTP client only (its tests start the local API,
# a dev-dependency, which this does not look at).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for package in companies-import companies-reindex companies-smoke; do
    linked=$(cargo tree --quiet -p "$package" -e normal,build --prefix none \
        | awk '$1 ~ /^lambda_(http|runtime)$/ {print $1}' | sort -u)
    if [ -n "$linked" ]; then
        echo "no-lambda-in-tools: $package links $(echo "$linked" | tr '\n' ' ')" >&2
        status=1
    fi
done
[ "$status" = 0 ] && echo "no-lambda-in-tools: companies-import, companies-reindex and companies-smoke link no Lambda runtime"
exit "$status"
