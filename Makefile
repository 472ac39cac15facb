# The companies API. The two commands a newcomer needs:
#   make run    the API on http://127.0.0.1:${PORT:-3000}, in-memory store, no Docker, no AWS
#   make test   every test, including the DynamoDB Local-backed suites (started and stopped here)
.PHONY: run run-dynamodb test lint unit sam-validate sam-build ci clean

run:
	cargo run --quiet -p local-api

# The local API on DynamoDB Local instead of the in-memory store.
run-dynamodb:
	scripts/dynamodb-local.sh cargo run --quiet -p local-api

test: lint
	REQUIRE_DYNAMODB=1 scripts/dynamodb-local.sh cargo test --workspace --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

# Tests without DynamoDB Local (the DynamoDB runs are skipped).
unit:
	cargo test --workspace --all-targets

sam-validate:
	scripts/sam-tools.sh sam validate --lint

sam-build:
	scripts/sam-tools.sh sam build

ci: test sam-validate sam-build

clean:
	cargo clean
	rm -rf .aws-sam
