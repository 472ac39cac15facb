//! The API's routes, from the operation registry: which function serves which method and path.
//! `template.yaml` declares the same table for API Gateway (a test keeps the two equal), and the
//! local API serves it.

use std::collections::HashMap;

pub use crate::operations::dispatch;
use crate::operations::{Handler, OPERATIONS};

/// One route of the HTTP API and the function that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The function (`functions/src/bin/<function>.rs`, and `events/<function>*.json`).
    pub function: &'static str,
    pub handler: Handler,
    pub method: &'static str,
    /// API Gateway path template, e.g. `/companies/{id}`.
    pub path: &'static str,
}

/// Every route of every operation of the registry.
pub fn routes() -> impl Iterator<Item = Route> {
    OPERATIONS.iter().flat_map(|op| {
        op.routes.iter().map(|r| Route {
            function: op.name,
            handler: op.handler,
            method: r.method,
            path: r.path,
        })
    })
}

/// What a method and path resolve to.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    Found(Route, HashMap<String, String>),
    /// The path exists; these methods (comma-separated, sorted) are allowed on it.
    MethodNotAllowed(String),
    NotFound,
}

fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut given = path.trim_end_matches('/').split('/');
    for part in template.split('/') {
        let actual = given.next()?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => {
                params.insert(name.to_owned(), actual.to_owned());
            }
            Some(_) => return None,
            None if part == actual => {}
            None => return None,
        }
    }
    given.next().is_none().then_some(params)
}

/// Finds the route for a request line.
pub fn resolve(method: &str, path: &str) -> Resolved {
    let mut allowed = Vec::new();
    for route in routes() {
        if let Some(params) = match_path(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Resolved::Found(route, params);
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        return Resolved::NotFound;
    }
    allowed.sort_unstable();
    Resolved::MethodNotAllowed(allowed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_templates_and_methods() {
        match resolve("GET", "/companies/abc") {
            Resolved::Found(r, p) => {
                assert_eq!(r.function, "get-company");
                assert_eq!(p["id"], "abc");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(resolve("post", "/companies/"), Resolved::Found(r, _) if r.function == "create-company")
        );
        assert_eq!(
            resolve("DELETE", "/companies"),
            Resolved::MethodNotAllowed("GET, POST".into())
        );
        assert_eq!(
            resolve("POST", "/companies/x"),
            Resolved::MethodNotAllowed("DELETE, GET, PATCH, PUT".into())
        );
        assert_eq!(resolve("GET", "/companies/x/y"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/companiesx"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/"), Resolved::NotFound);
        let listing = routes().nth(1).unwrap();
        assert_eq!(
            resolve("GET", "/companies//"),
            Resolved::Found(listing, HashMap::new())
        );
    }
}
