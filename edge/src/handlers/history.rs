//! `GET /companies/{id}/history`: every version of a company, newest first, readable after the
//! company is deleted until its retention ends.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{page_limit, Handled};
use crate::http::params::{path_id, query};
use crate::http::{cursor, json, Problem};
use companies::{history, HistoryEntry};
use companies_store::HistoryReader;

#[derive(Serialize)]
struct HistoryBody<'a> {
    items: &'a [HistoryEntry],
    next_cursor: Option<String>,
}

/// `GET /companies/{id}/history?limit=N&cursor=C`
pub async fn get_company_history<S: HistoryReader>(store: &S, req: Request) -> Handled {
    let id = path_id(&req, "id", "company")?;
    let params = query(&req, &["limit", "cursor"])?;
    let limit = page_limit(params.get("limit"))?;
    let before = match params.get("cursor") {
        None => None,
        Some(c) => Some(cursor::decode_history(id, c).ok_or_else(Problem::invalid_cursor)?),
    };
    let page = store.history(id, limit, before).await?;
    if page.items.is_empty() && before.is_none() {
        return Err(Problem::company_not_found());
    }
    let items = history::answered(page.items, page.next_before.is_none());
    let body = HistoryBody {
        items: &items,
        next_cursor: page.next_before.map(|v| cursor::encode_history(id, v)),
    };
    Ok(json(StatusCode::OK, &body))
}
