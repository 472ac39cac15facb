#!/usr/bin/env bash
# Installs (once) the AWS SAM CLI and cargo-lambda (which brings zig for arm64 cross builds) into
# .tools/venv, and the arm64 Rust target, then runs the given command with them on PATH.
#
#   scripts/sam-tools.sh sam build
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
stamp="$venv/.installed-sam-1.170.0-cargo-lambda-1.9.2"

if [ ! -f "$stamp" ]; then
  echo "sam-tools: installing aws-sam-cli and cargo-lambda into .tools/venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==1.170.0" "cargo-lambda==1.9.2"
  touch "$stamp"
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2

export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
"$@"
