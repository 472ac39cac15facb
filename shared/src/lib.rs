//! The companies model crate: everything the Lambdas and the local API share.
//!
//! Data flows one way: HTTP event → [`http`] (parse, bound) → [`model`] (typed, valid) →
//! [`store`] (conditional write) → [`http`] (response). [`handlers`] wires one operation each;
//! [`operations`] is the registry of them that routes, IAM policies and drift tests read.

pub mod handlers;
pub mod http;
pub mod model;
pub mod operations;
pub mod routes;
pub mod runner;
pub mod store;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
