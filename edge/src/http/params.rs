//! Reading the request target: path parameters and query parameters.

use std::collections::HashMap;

use lambda_http::{Request, RequestExt};
use uuid::Uuid;

use super::Problem;

/// The `{id}` path parameter. An id that is not a UUID names no company: 404.
pub fn path_id(req: &Request, name: &str, what: &str) -> Result<Uuid, Problem> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| Problem::not_found(format!("No {what} with that id.")))
}

/// Query parameters, each at most once, none outside `allowed`.
pub fn query(req: &Request, allowed: &[&str]) -> Result<HashMap<String, String>, Problem> {
    let mut out = HashMap::new();
    let Some(params) = req.query_string_parameters_ref() else {
        return Ok(out);
    };
    for (name, _) in params.iter() {
        if !allowed.contains(&name) {
            let shown: String = name.chars().take(64).collect();
            return Err(Problem::bad_request(format!(
                "Unknown query parameter {shown:?}; accepted: {}.",
                allowed.join(", ")
            )));
        }
        let values = params.all(name).unwrap_or_default();
        if values.len() > 1 {
            return Err(Problem::bad_request(format!(
                "Query parameter {name:?} may appear only once."
            )));
        }
        if let Some(v) = values.first() {
            out.insert(name.to_owned(), (*v).to_owned());
        }
    }
    Ok(out)
}
