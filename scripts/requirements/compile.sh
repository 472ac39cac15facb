#!/usr/bin/env bash
# Regenerates the locked requirements of scripts/tools.sh: SET.txt from SET.in, every
# transitive dependency pinned with the sha256 of each of its files on PyPI.
#
#   scripts/requirements/compile.sh              every set
#   scripts/requirements/compile.sh lint bench   some
#
# To change a tool's version: edit SET.in, run this, commit both files. Run it on the Python
# the tools run on (3.11, Linux x86_64, as in CI): the resolution follows the environment's
# markers. The next `scripts/tools.sh SET ...` reinstalls the set (its stamp is the file's hash);
# scripts/locked-installs.py (make lint) checks that every line stays pinned and hashed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- sam lint schemathesis bench
scratch=$(mktemp -d /tmp/pip-tools.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet --disable-pip-version-check "pip-tools==7.7.0"
for set_name in "$@"; do
  echo "compile.sh: $set_name.in -> $set_name.txt" >&2
  # Only PyPI: no local wheel folders or other indexes from the caller's pip configuration
  # end up in the file or its hashes.
  (cd "$here" && env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
    CUSTOM_COMPILE_COMMAND="scripts/requirements/compile.sh $set_name" \
    "$scratch/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
      --no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple \
      --output-file "$set_name.txt" "$set_name.in")
done
