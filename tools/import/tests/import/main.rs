//! `companies-import` against a real PostgreSQL (the cluster `scripts/postgres.sh` starts) and
//! DynamoDB Local, read back through the API: exact mapping, every legacy quirk refused or mapped
//! as documented, re-runs that write nothing, a SIGKILL mid-run resumed to the same result as a
//! clean run, runs through the local API's fault proxy (throttling, conflicts, lost replies)
//! ending as a clean run, a denied write stopping the run, and `legacy_id` lookups; how it
//! connects (TLS, the password, require_auth, channel binding), the change guard, no secret on
//! a command line, and the rejects file.

mod auth;
mod catch_up;
mod cluster;
mod connection;
mod deletions;
mod faults;
mod guard;
mod helpers;
mod mapping;
mod rejects;
mod relay;
mod reruns;
mod secrets;
mod tls;

// The fault proxy of the local API's tests, and the pass-through proxy it is built on (as
// `super::recorder`, hence both at the crate root).
#[allow(dead_code)] // the local API's fault tests use kinds and signals these tests do not
#[path = "../../../local-api/tests/common/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)] // the local API's tests also record calls; these only pass them through
#[path = "../../../local-api/tests/common/recorder.rs"]
mod recorder;
