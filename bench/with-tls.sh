#!/usr/bin/env bash
# Runs the given command with DynamoDB behind a local TLS terminator (`lambda-bench tls-proxy`):
# inside scripts/dynamodb-local.sh (and bench/run.sh, which sets BENCH_BIN), it makes a throwaway
# CA and a certificate for localhost signed by it (openssl, P-256), points
# AWS_ENDPOINT_URL_DYNAMODB at https://localhost:PORT and SSL_CERT_FILE / AWS_CA_BUNDLE at the
# system's trust bundle plus that CA, so that Rust and Python both pay a real handshake and load
# a real root store on their first call, as on AWS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/target/bench-tls"
rm -rf "$dir"; mkdir -p "$dir"
ssl() { openssl "$@" >/dev/null 2>>"$dir/openssl.log"; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/CN=companies bench throwaway CA"
ssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost"
printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
  "keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/ext.cnf"
ssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 2 -extfile "$dir/ext.cnf" -out "$dir/server.crt"
system=
for b in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  [ -f "$b" ] && { system=$b; break; }
done
[ -n "$system" ] || { echo "tls: no system trust bundle found" >&2; exit 1; }
cat "$system" "$dir/ca.crt" >"$dir/bundle.pem"

fifo="$dir/url"; mkfifo "$fifo"
"$root/${BENCH_BIN:?BENCH_BIN names the folder of lambda-bench}/lambda-bench" tls-proxy \
  --upstream "$AWS_ENDPOINT_URL_DYNAMODB" --cert "$dir/server.crt" --key "$dir/server.key" \
  >"$fifo" 2>"$dir/proxy.log" &
proxy=$!
trap 'kill "$proxy" 2>/dev/null || true' EXIT
read -r url <"$fifo" || true
[ -n "${url:-}" ] || { echo "tls: the terminator did not start" >&2; cat "$dir/proxy.log" >&2; exit 1; }
echo "tls: DynamoDB Local behind TLS at $url (throwaway CA in $dir)" >&2
# BENCH_TLS_CA: the throwaway CA alone, for the run that measures trust without a bundle to parse.
export AWS_ENDPOINT_URL_DYNAMODB="$url" SSL_CERT_FILE="$dir/bundle.pem" AWS_CA_BUNDLE="$dir/bundle.pem" \
  BENCH_TLS_CA="$dir/ca.crt"
"$@"
