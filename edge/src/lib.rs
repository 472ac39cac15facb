//! The HTTP/Lambda edge of the companies API: what turns an API Gateway event into a call on
//! the store and back.
//!
//! Data flows one way: HTTP event → [`http`] (parse, bound) → the model (`companies`: typed,
//! valid) → the store (`companies_store`: conditional write) → [`http`] (response).
//! [`handlers`] wires one operation each; [`operations`] is the registry of them that
//! [`routes`], the IAM policies and the template tests read; [`runner`] serves a handler on
//! Lambda (and, through the same middleware, in the local API).

pub mod deploy_hook;
pub mod handlers;
pub mod http;
pub mod operations;
pub mod routes;
pub mod runner;
