//! `companies-smoke` run as a user runs it: against the local API in process (reads, the write
//! round trip, the cleanup rule), against stand-ins that break the contract (it must fail,
//! naming the step), and with credentials from the environment only (a token endpoint and a
//! gateway that checks the bearer and its scopes as API Gateway's JWT authorizer does).

mod broken;
mod common;
mod credentials;
mod local;
