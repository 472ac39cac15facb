#!/bin/sh
# The parameter_overrides of samconfig.toml's environment STAGE, as one line: for a deploy by
# hand that adds a value the pipeline takes from the stage's GitHub environment (--parameter-
# overrides on the command line replaces samconfig.toml's, so both are given):
#   sam deploy --config-env prod --parameter-overrides "$(scripts/overrides.sh prod) AlarmEmail=ops@…"
set -eu
[ $# -eq 1 ] || { echo "usage: scripts/overrides.sh STAGE" >&2; exit 2; }
cd "$(dirname "$0")/.."
exec python3 - "$1" <<'PY'
import sys, tomllib
stage = sys.argv[1]
config = tomllib.load(open("samconfig.toml", "rb"))
try:
    print(config[stage]["deploy"]["parameters"]["parameter_overrides"])
except KeyError:
    sys.exit(f"scripts/overrides.sh: samconfig.toml has no [{stage}.deploy.parameters] parameter_overrides")
PY
