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
# throwaway CA. Every role signs in with SCRAM (scram-sha-256), over the Unix socket (in a 0700
# folder) as well, but one: `cleartext_reader`, whose pg_hba.conf line asks for the password in
# cleartext (the importer's test that it never sends it where it can be read). Besides
# `postgres` (the cluster's owner: the tests create their databases as it), the importer's
# connection tests sign in as `password_reader` (plain or TLS), `tls_reader` (TLS only) and
# `cleartext_reader`, none a superuser: members of pg_read_all_data, which is what a reader
# needs. Exported: DATABASE_URL (postgres's, no password in it), PGPASSWORD (postgres's, new
# each run), PGSSLROOTCERT (the CA, so a client verifying the server trusts it), PG_TEST_CA
# (the same), PG_TEST_OTHER_CA (another CA's certificate, which issued nothing here) and
# PG_TEST_PASSWORD (the three test roles' password, new each run).
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
stop() {
  "${as_owner[@]}" "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
new_password() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
owner_password=$(new_password)
password=$(new_password)
# The socket's folder: the cluster owner's alone.
mkdir -m 700 "$dir/socket"
[ "$(id -u)" = 0 ] && chown postgres "$dir/socket"

# The owner's password goes to initdb in a file of its own (never on a command line).
(umask 077 && printf '%s\n' "$owner_password" >"$dir/pwfile")
[ "$(id -u)" = 0 ] && chown postgres "$dir/pwfile"
"${as_owner[@]}" "$initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pwfile" \
  --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pwfile"
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
local     all  all                             scram-sha-256
hostnossl all  tls_reader        127.0.0.1/32  reject
hostssl   all  tls_reader        127.0.0.1/32  scram-sha-256
host      all  cleartext_reader  127.0.0.1/32  password
host      all  all               127.0.0.1/32  scram-sha-256
HBA
[ "$(id -u)" = 0 ] && chown postgres "$dir/data/pg_hba.conf"

"${as_owner[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/socket -c fsync=off -c full_page_writes=off -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "postgres: PostgreSQL $("$pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

# The test roles, their password on psql's standard input (not its command line).
export PGPASSWORD="$owner_password"
{
  for role in password_reader tls_reader cleartext_reader; do
    echo "CREATE ROLE $role LOGIN PASSWORD '$password'; GRANT pg_read_all_data TO $role;"
  done
} | "${as_owner[@]}" psql -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$port" -U postgres -d postgres >/dev/null

export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export PGSSLROOTCERT="$tls/ca.crt"
export PG_TEST_CA="$tls/ca.crt" PG_TEST_OTHER_CA="$tls/other-ca.crt" PG_TEST_PASSWORD="$password"
"$@"
