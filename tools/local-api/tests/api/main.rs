//! The local API's integration tests: one binary, one suite a module, all sharing the harness
//! in `tests/common` (and, in one process, its log capture: every suite's requests feed the
//! check that the logs hold no unmasked CNPJ or account number). Run one suite with
//! `cargo test -p local-api --test api e2e::`. Two suites have binaries of their own:
//! `trace_logs.rs` (it sets the process's log level) and `sam/` (Docker, run apart by
//! `scripts/sam-local.sh test`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod bank_accounts;
mod binary;
mod data_safety;
mod e2e;
mod faults;
mod history;
mod hosts;
mod iam;
mod model;
mod search;
