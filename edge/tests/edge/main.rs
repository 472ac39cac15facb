//! The edge crate's integration tests, one binary: the template test (`template.yaml`, the
//! registry, the binaries, the events and `openapi.yaml` kept in step) and the history an API
//! caller reads past its retention. `metrics.rs` is a binary of its own: it installs the
//! process-wide metrics recorder, which any other test's requests would write to.

mod addresses;
mod deploy_hook;
mod history_retention;
mod pipeline;
mod rehearsal;
mod template;
