#!/usr/bin/env bash
# Runs a command with the project's Python-based tools on PATH, installing them on first use
# into .tools/ (pinned versions, one virtualenv per tool set so their dependencies never clash):
#
#   scripts/tools.sh sam  sam build            AWS SAM CLI + cargo-lambda (brings zig) + arm64 target
#   scripts/tools.sh lint checkov -f template.yaml   cfn-lint with the serverless rules + checkov
#   scripts/tools.sh schemathesis st run ...   schemathesis
#   scripts/tools.sh bench python ...          the Python peer of the benchmarks (boto3, awslambdaric)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
set_name=${1:?usage: scripts/tools.sh sam|lint command...}
shift

case "$set_name" in
  sam) packages=("aws-sam-cli==1.170.0" "cargo-lambda==1.9.2") ;;
  lint) packages=("cfn-lint==1.58.0" "cfn-lint-serverless==0.3.6" "checkov==3.3.30") ;;
  schemathesis) packages=("schemathesis==4.32.5") ;;
  bench) packages=("boto3==1.44.8" "awslambdaric==4.2.2") ;;
  *) echo "tools.sh: unknown tool set $set_name (sam, lint, schemathesis or bench)" >&2; exit 2 ;;
esac

venv="$root/.tools/$set_name-venv"
stamp="$venv/.installed-$(echo "${packages[*]}" | tr ' =' '_-')"
if [ ! -f "$stamp" ]; then
  echo "tools.sh: installing ${packages[*]} into .tools/$set_name-venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
  touch "$stamp"
fi
if [ "$set_name" = sam ]; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
fi

export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
exec "$@"
