#!/usr/bin/env bash
# Runs the given command with DynamoDB behind a local TLS terminator (bench/tls-proxy.py): inside
# scripts/dynamodb-local.sh, it points AWS_ENDPOINT_URL_DYNAMODB at https://localhost:PORT and
# SSL_CERT_FILE / AWS_CA_BUNDLE at the system trust bundle plus the run's throwaway CA.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/target/bench-tls"
rm -rf "$dir"; mkdir -p "$dir"
fifo="$dir/url"; mkfifo "$fifo"
python3 "$root/bench/tls-proxy.py" "$AWS_ENDPOINT_URL_DYNAMODB" "$dir" >"$fifo" 2>"$dir/proxy.log" &
proxy=$!
trap 'kill "$proxy" 2>/dev/null || true' EXIT
read -r url <"$fifo"
[ -n "$url" ] || { echo "tls: the proxy did not start" >&2; cat "$dir/proxy.log" >&2; exit 1; }
echo "tls: DynamoDB Local behind TLS at $url (throwaway CA in $dir)" >&2
# BENCH_TLS_CA: the throwaway CA alone, for the run that measures trust without a bundle to parse.
export AWS_ENDPOINT_URL_DYNAMODB="$url" SSL_CERT_FILE="$dir/bundle.pem" AWS_CA_BUNDLE="$dir/bundle.pem" \
  BENCH_TLS_CA="$dir/ca.crt"
"$@"
