//! `GET /banks` and `GET /banks/{code}`: the embedded Brazilian bank registry. No store.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde::Serialize;

use super::Handled;
use crate::http::params::query;
use crate::http::{json, Problem};
use companies::banks::{self, Bank};
use companies::limits::MAX_QUERY_CHARS;

#[derive(Serialize)]
struct BankList {
    items: Vec<Bank>,
}

/// `GET /banks?q=…` (code, ISPB or part of the name, case- and accent-insensitive) and
/// `GET /banks/{code}`.
pub async fn get_banks(req: Request) -> Handled {
    let req = &req;
    if let Some(code) = req.path_parameters_ref().and_then(|p| p.first("code")) {
        query(req, &[])?;
        return banks::by_code(code)
            .map(|bank| json(StatusCode::OK, &bank))
            .ok_or_else(|| Problem::not_found("No bank with that COMPE code."));
    }
    let params = query(req, &["q"])?;
    if params
        .get("q")
        .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(Problem::validation(vec![companies::FieldError::new(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        )]));
    }
    let items = match params.get("q").map(|q| q.trim()) {
        None | Some("") => banks::all().collect(),
        Some(q) => banks::search(q),
    };
    Ok(json(StatusCode::OK, &BankList { items }))
}
