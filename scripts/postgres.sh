#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a free loopback port under target/, runs the given
# command with DATABASE_URL pointing at it (the `postgres` database; tests create their own),
# and stops and removes the cluster afterwards whatever happens.
#
#   scripts/postgres.sh cargo test -p companies-import
#
# Uses the machine's initdb/pg_ctl (PostgreSQL 14 or newer), installing the Debian packages
# when they are missing. PostgreSQL refuses to run as root: as root the cluster runs as the
# `postgres` user.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

find_bin() {
  command -v "$1" 2>/dev/null && return
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}
if [ -z "$(find_bin initdb)" ]; then
  echo "postgres: initdb not found; installing PostgreSQL from the OS packages" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
fi
initdb=$(find_bin initdb)
pg_ctl=$(find_bin pg_ctl)
[ -n "$initdb" ] && [ -n "$pg_ctl" ] || { echo "postgres: initdb/pg_ctl not found" >&2; exit 1; }

as_owner=()
if [ "$(id -u)" = 0 ]; then as_owner=(runuser -u postgres --); fi

mkdir -p "$root/target"
dir=$(mktemp -d "$root/target/postgres.XXXXXX")
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${as_owner[@]}" "$initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
stop() {
  "${as_owner[@]}" "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as_owner[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "postgres: PostgreSQL $("$pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
"$@"
