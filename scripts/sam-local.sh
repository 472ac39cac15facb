#!/usr/bin/env bash
# `sam local` on this machine: the packaged functions (what `sam build` makes for Lambda) in
# Docker, against DynamoDB Local, with every connection on 127.0.0.1.
#
#   scripts/sam-local.sh start-api                the API on http://127.0.0.1:${SAM_PORT:-3001}
#   scripts/sam-local.sh invoke FUNCTION EVENT    one event, e.g. GetBanksFunction events/get-banks.json
#   scripts/sam-local.sh test                     the SAM suite (tools/local-api/tests/sam/), then
#                                                 the smoke suite with --write through start-api
#   scripts/sam-local.sh run COMMAND...           COMMAND with all of it ready (bench/sam-local.sh)
#
# Each step is skipped when already done: Docker (Debian's docker.io; dockerd without a bridge
# or iptables rules), arm64 emulation (qemu-user-static through binfmt_misc; without it the
# functions are built for x86_64, and this says so), the functions' base image
# companies-lambda-base:<arch> (a Debian minbase root file system made by debootstrap and
# `docker import`ed: no registry is needed), `sam build`, DynamoDB Local with the table, and
# env.json. SAM runs through scripts/sam_host_network.py so that the containers share the
# host's network: see docs/decisions/0005-sam-local.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:?usage: scripts/sam-local.sh start-api | invoke FUNCTION EVENT | test | run COMMAND...}
shift
mkdir -p target/sam-local
say() { echo "sam-local: $*" >&2; }
fail() { say "$*"; exit 1; }

apt_install() {
  command -v apt-get >/dev/null || fail "$1 is missing and this is not a Debian machine: install $1"
  [ "$(id -u)" = 0 ] || fail "$1 is missing: install it as root (apt-get install -y $*)"
  say "installing $* (apt-get)"
  [ -n "$(find /var/lib/apt/lists -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 || {
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2; }
}

# Docker: a daemon without a bridge network or iptables rules, so containers only ever use
# the host's network (loopback).
ensure_docker() {
  command -v dockerd >/dev/null || apt_install docker.io
  if docker info >/dev/null 2>&1; then return; fi
  [ "$(id -u)" = 0 ] || fail "Docker is not running and only root can start it here"
  say "starting dockerd (--bridge=none --iptables=false; log: target/sam-local/dockerd.log)"
  (setsid dockerd --bridge=none --iptables=false --ip-masq=false >target/sam-local/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  tail -n 20 target/sam-local/dockerd.log >&2 || true
  fail "Docker did not start (log above): sam local cannot run here"
}

# The functions' architecture: the template's (arm64) where this machine runs arm64 code,
# natively or through qemu; x86_64 otherwise.
choose_arch() {
  if [ "$(uname -m)" = aarch64 ]; then arch=arm64; return; fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    [ -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || apt_install qemu-user-static || true
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    if [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] && [ -x /lib/systemd/systemd-binfmt ]; then
      /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf 2>/dev/null || true
    fi
  fi
  if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    arch=arm64
  else
    arch=x86_64
    say "NOTE: no arm64 emulation on this machine (qemu-user-static through binfmt_misc);"
    say "      the functions are built and run for x86_64 here, not for arm64 as deployed"
  fi
}

# companies-lambda-base:<arch>: Debian bookworm minbase, enough for a provided.al2023-style
# bootstrap (glibc) and for SAM's image build (sh, mv, chmod).
ensure_base_image() {
  image="companies-lambda-base:$arch"
  if docker image inspect "$image" >/dev/null 2>&1; then return; fi
  command -v debootstrap >/dev/null || apt_install debootstrap
  # The packages are checked against Debian's archive keys: debootstrap verifies the Release
  # file's signature with this keyring (--force-check-gpg: it stops rather than go on
  # unchecked), then each package against the hashes the signed files list. Over https as
  # well, so that what is fetched is not visible on the way (with an https mirror debootstrap
  # puts ca-certificates in the image too). scripts/locked-installs.py checks these flags.
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || apt_install debian-archive-keyring
  local debarch rootfs
  debarch=$([ "$arch" = arm64 ] && echo arm64 || echo amd64)
  rootfs=$(mktemp -d /tmp/companies-rootfs.XXXXXX)
  say "building $image: debootstrap --variant=minbase --arch=$debarch bookworm (a few minutes, once)"
  debootstrap --variant=minbase --arch="$debarch" --keyring="$keyring" --force-check-gpg \
    bookworm "$rootfs" https://deb.debian.org/debian \
    >target/sam-local/debootstrap.log 2>&1 || { tail -n 20 target/sam-local/debootstrap.log >&2; fail "debootstrap failed"; }
  rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*
  tar -C "$rootfs" -c . | docker import --platform "linux/$arch" - "$image" >/dev/null
  rm -rf "$rootfs"
  say "built $image"
}

# SAM itself runs without AWS credentials: given some, it asks STS who the caller is (to
# resolve AWS::AccountId), a call to AWS that has no business here. The functions get theirs
# from env.json.
sam() {
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
    scripts/tools.sh sam python3 scripts/sam_host_network.py "$@"
}

# sam build of every function for $arch. Unless SAM_RELEASE=1 it uses a quick release
# profile (no fat LTO, more codegen units): size and cold start are measured with the real one
# (make bench), and on two cores the real one takes most of a test run.
build() {
  if [ "${SAM_RELEASE:-0}" != 1 ]; then
    export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1
  fi
  say "sam build (Architecture=$arch)"
  sam build --parameter-overrides "Architecture=$arch" >target/sam-local/build.log 2>&1 || {
    tail -n 40 target/sam-local/build.log >&2; fail "sam build failed"; }
}

# env.json: every function of the template pointed at DynamoDB Local's table, with a local
# cursor key (the deployed stack resolves its own from Secrets Manager). SAM passes a function
# only the variables its template declares; its AWS credentials are SAM's placeholders.
write_env() {
  python3 - "$AWS_ENDPOINT_URL_DYNAMODB" "$TABLE_NAME" >target/sam-local/env.json <<'PY'
import json, re, sys
endpoint, table = sys.argv[1], sys.argv[2]
ids = re.findall(r"^  (\w+Function):\n    Type: AWS::Serverless::Function", open("template.yaml").read(), re.M)
env = {"TABLE_NAME": table, "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
       "CURSOR_SECRET": "sam-local development cursor key", "STAGE": "local"}
print(json.dumps({f: env for f in ids}, indent=2))
PY
}

prepare() {
  ensure_docker
  choose_arch
  ensure_base_image
  build
  export SAM_ARCH=$arch SAM_IMAGE=$image
}

# The common arguments of `sam local invoke` and `sam local start-api` here.
local_args=(--docker-network host --skip-pull-image --env-vars target/sam-local/env.json)

# Runs COMMAND with everything ready: the functions built, DynamoDB Local with the table (and
# the company the events name), env.json.
with_table() {
  prepare
  export TABLE_NAME=${TABLE_NAME:-companies-local}
  exec scripts/dynamodb-local.sh sh -c '
    cargo run --quiet -p local-api -- create-table && scripts/sam-local.sh _ready "$@"' sh "$@"
}

case "$mode" in
  start-api) with_table scripts/sam-local.sh _start-api ;;
  invoke)
    fn=${1:?usage: scripts/sam-local.sh invoke FUNCTION EVENT}
    event=${2:?usage: scripts/sam-local.sh invoke FUNCTION EVENT}
    with_table scripts/sam-local.sh _invoke "$fn" "$event"
    ;;
  run) with_table "$@" ;;
  _ready)
    write_env
    exec "$@"
    ;;
  _start-api)
    say "the packaged functions ($SAM_ARCH) on http://127.0.0.1:${SAM_PORT:-3001}, DynamoDB Local table $TABLE_NAME"
    sam local start-api "${local_args[@]}" --invoke-image "$SAM_IMAGE" \
      --host 127.0.0.1 --port "${SAM_PORT:-3001}" --warm-containers LAZY
    ;;
  _invoke) sam local invoke "${local_args[@]}" --invoke-image "$SAM_IMAGE" "$1" -e "$2" ;;
  test)
    prepare
    REQUIRE_SAM=1 REQUIRE_DYNAMODB=1 exec scripts/dynamodb-local.sh sh -c '
      cargo test --workspace --test sam && export TABLE_NAME="${TABLE_NAME:-companies-local}" &&
        cargo run --quiet -p local-api -- create-table && scripts/sam-local.sh _ready scripts/sam-local.sh _smoke'
    ;;
  # The smoke suite (tools/smoke) with --write against `sam local start-api` on a free port. No
  # credentials: sam local has no authorizer, and the functions take anonymous writes there
  # (AWS_SAM_LOCAL with env.json's STAGE=local); any SMOKE_ variable of the caller's is dropped.
  _smoke)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=target/sam-local/smoke-start-api.log
    # In a session of its own, SIGINT reset (a script's background job starts with it
    # ignored), so that SIGINT to the group stops SAM and its warm containers as Ctrl-C would.
    (trap - INT; SAM_PORT=$port exec setsid scripts/sam-local.sh _start-api) >"$log" 2>&1 &
    api=$!
    trap 'kill -INT -- "-$api" 2>/dev/null || true; wait "$api" 2>/dev/null || true' EXIT
    trap 'exit 130' INT TERM
    for _ in $(seq 1 240); do
      curl -s -o /dev/null "http://127.0.0.1:$port/banks/336" && break
      kill -0 "$api" 2>/dev/null || { tail -n 20 "$log" >&2; fail "sam local start-api exited (log: $log)"; }
      sleep 0.5
    done
    curl -s -o /dev/null "http://127.0.0.1:$port/banks/336" || fail "sam local start-api did not answer in 120 s (log: $log)"
    say "the smoke suite (companies-smoke --write) through sam local start-api on http://127.0.0.1:$port"
    env -u SMOKE_TOKEN -u SMOKE_CLIENT_ID -u SMOKE_CLIENT_SECRET -u SMOKE_TOKEN_URL -u SMOKE_SCOPES \
      cargo run --quiet -p companies-smoke -- --url "http://127.0.0.1:$port" --write --timeout 120
    ;;
  *) fail "unknown mode $mode (start-api, invoke FUNCTION EVENT, test, run COMMAND...)" ;;
esac
