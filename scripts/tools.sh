#!/usr/bin/env bash
# Runs a command with the project's Python-based tools on PATH, installing them on first use
# into .tools/ (one virtualenv per tool set so their dependencies never clash):
#
#   scripts/tools.sh sam  sam build            AWS SAM CLI + cargo-lambda (brings zig) + arm64 target
#   scripts/tools.sh lint checkov -f template.yaml   cfn-lint with the serverless rules + checkov
#   scripts/tools.sh schemathesis st run ...   schemathesis
#   scripts/tools.sh bench python ...          the Python peer of the benchmarks (boto3, awslambdaric)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
set_name=${1:?usage: scripts/tools.sh sam|lint command...}
shift

# Each set is locked in scripts/requirements/SET.txt, made from SET.in by
# scripts/requirements/compile.sh: every package, direct or transitive, pinned to one version
# with the sha256 of each of its files on PyPI. `pip install --require-hashes` refuses any file
# whose hash is not listed and any requirement without a hash or an exact pin; --no-deps: it
# installs the file's list and nothing else (the list is complete: pip-compile resolved it;
# `pip check` then fails on any dependency missing or at a wrong version); --only-binary:
# wheels only, so installing runs no package's build script (setup.py).
# scripts/locked-installs.py (make lint) keeps it that way.
case "$set_name" in
  sam | lint | schemathesis | bench) ;;
  *) echo "tools.sh: unknown tool set $set_name (sam, lint, schemathesis or bench)" >&2; exit 2 ;;
esac
requirements="$root/scripts/requirements/$set_name.txt"

venv="$root/.tools/$set_name-venv"
# Keyed on the requirements' content: any change to the file reinstalls the set from scratch.
stamp="$venv/.installed-$(sha256sum "$requirements" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "tools.sh: installing scripts/requirements/$set_name.txt into .tools/$set_name-venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
    --require-hashes --no-deps --only-binary=:all: -r "$requirements"
  "$venv/bin/pip" check --disable-pip-version-check >&2
  touch "$stamp"
fi
if [ "$set_name" = sam ]; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >&2
fi

export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
exec "$@"
