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
#
# The cluster speaks TLS (ssl=on) with a certificate for localhost and 127.0.0.1 issued by a
# throwaway CA, and has two roles besides `postgres` (trusted, plain or TLS) for the importer's
# connection tests: `password_reader` (password only) and `tls_reader` (password, TLS only).
# Exported: PG_TEST_CA (the CA's certificate), PG_TEST_OTHER_CA (another CA's, which issued
# nothing here) and PG_TEST_PASSWORD (both roles' password, new each run).
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
# The throwaway CA, the server's certificate, and a CA that has nothing to do with them.
tls="$dir/tls"
mkdir -p "$tls"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
{
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=companies test CA" -keyout "$tls/ca.key" -out "$tls/ca.crt"
  openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=unrelated test CA" -keyout "$tls/other.key" -out "$tls/other-ca.crt"
  openssl req "${ec[@]}" -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$tls/server.ext" -out "$tls/server.crt"
} >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
chmod 600 "$tls/server.key"
[ "$(id -u)" = 0 ] && chown -R postgres "$tls"
chmod 755 "$tls"
chmod 644 "$tls/ca.crt" "$tls/other-ca.crt"
cat >"$dir/data/pg_hba.conf" <<'HBA'
local     all  all              trust
hostnossl all  tls_reader       127.0.0.1/32  reject
hostssl   all  tls_reader       127.0.0.1/32  scram-sha-256
host      all  password_reader  127.0.0.1/32  scram-sha-256
host      all  all              127.0.0.1/32  trust
HBA
[ "$(id -u)" = 0 ] && chown postgres "$dir/data/pg_hba.conf"

stop() {
  "${as_owner[@]}" "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as_owner[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "postgres: PostgreSQL $("$pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
for role in password_reader tls_reader; do
  "${as_owner[@]}" psql -q -h "$dir" -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE $role LOGIN SUPERUSER PASSWORD '$password'" >/dev/null
done

export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export PG_TEST_CA="$tls/ca.crt" PG_TEST_OTHER_CA="$tls/other-ca.crt" PG_TEST_PASSWORD="$password"
"$@"
