//! The company CRUD operations.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::write::{no_record, write, Deleted};
use super::{audit, page_limit, replay_if_used, twin_answer, Handled, JSON, MERGE_PATCH};
use crate::http::body::{merge_patch, JsonBody};
use crate::http::idempotency::{self, Idempotency};
use crate::http::params::{path_id, query};
use crate::http::preconditions::IfMatch;
use crate::http::{created_at, cursor, empty, json, with_header, Problem};
use companies::search::{NameQuery, Search};
use companies::{input, now, ChangeKind, Cnpj, Company, CompanyInput, FieldError};
use companies_store::{
    CompanyCreator, CompanyDeleter, CompanyLister, CompanyReader, CompanyUpdater,
    IdempotencyReader, StoreError, StoredAnswer,
};

pub(super) fn company_response(status: StatusCode, company: &Company) -> Response<Body> {
    with_header(json(status, company), header::ETAG, &company.etag())
}

/// Validates a whole document under the create rules (a numeric `declared_billing` read from
/// its exact source text); duplicate accounts are a conflict.
fn validated(body: &JsonBody) -> Result<CompanyInput, Problem> {
    let input = input::company_with(&body.doc, body.number_text("declared_billing"))
        .map_err(Problem::validation)?;
    let duplicates = input.duplicate_accounts();
    if duplicates.is_empty() {
        Ok(input)
    } else {
        Err(Problem::duplicate_accounts(duplicates))
    }
}

/// `POST /companies`
pub async fn create_company<S: CompanyCreator + IdempotencyReader>(
    store: &S,
    req: Request,
) -> Handled {
    let body = JsonBody::read(&req, JSON)?;
    let idempotency = Idempotency::from_request(&req, &body.doc)?;
    if let Some(replayed) = replay_if_used(store, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let company = Company::create(validated(&body)?, now());
    let answer = StoredAnswer {
        status: StatusCode::CREATED.as_u16(),
        location: Some(created_at(&req, company.id)),
        etag: Some(company.etag()),
        body: serde_json::to_string(&company)
            .map_err(|e| Problem::internal().caused_by(e.to_string()))?,
    };
    let record = idempotency.as_ref().map(|i| i.record(&answer));
    let entry = audit(&req, ChangeKind::Create)?.created(&company);
    if let Err(e) = store.create(&company, record.as_ref(), Some(&entry)).await {
        let key_taken = matches!(e, StoreError::IdempotencyKeyTaken);
        return twin_answer(store, idempotency.as_ref(), e.into(), key_taken).await;
    }
    tracing::info!(company_id = %company.id, accounts = company.bank_accounts.len(), "company created");
    Ok(idempotency::response(&answer))
}

/// `GET /companies/{id}`
pub async fn get_company<S: CompanyReader>(store: &S, req: Request) -> Handled {
    let id = path_id(&req, "id", "company")?;
    match store.get(id).await? {
        Some(company) => Ok(company_response(StatusCode::OK, &company)),
        None => Err(Problem::company_not_found()),
    }
}

#[derive(Serialize)]
struct ListBody<'a> {
    items: &'a [Company],
    next_cursor: Option<String>,
}

/// `GET /companies?limit=N&cursor=C` (newest first), `GET /companies?sort=name` (by folded
/// name), `GET /companies?q=TEXT` (search by name), `GET /companies?tax_id=…` and
/// `GET /companies?legacy_id=…` (the company imported from the Flask service's row).
pub async fn list_companies<S: CompanyLister + CompanyReader>(store: &S, req: Request) -> Handled {
    let params = query(
        &req,
        &["limit", "cursor", "tax_id", "legacy_id", "q", "sort"],
    )?;
    if params.contains_key("tax_id") || params.contains_key("legacy_id") {
        if params.len() > 1 {
            return Err(Problem::bad_request(
                "tax_id and legacy_id each stand alone: they cannot be combined with each other \
                 or with limit, cursor, q or sort.",
            ));
        }
        let found = match (params.get("tax_id"), params.get("legacy_id")) {
            (Some(tax_id), _) => {
                let cnpj = Cnpj::parse(tax_id)
                    .map_err(|m| Problem::validation(vec![FieldError::new("tax_id", m)]))?;
                match store.find_by_tax_id(&cnpj).await? {
                    Some(id) => store
                        .get(id)
                        .await?
                        .filter(|c| c.tax_id.as_ref() == Some(&cnpj)),
                    None => None,
                }
            }
            (None, Some(legacy_id)) => {
                match store.find_by_legacy_id(legacy_id_of(legacy_id)?).await? {
                    // A company deleted since it was imported is gone.
                    Some(id) => store.get(id).await?,
                    None => None,
                }
            }
            (None, None) => None,
        };
        let items: Vec<Company> = found.into_iter().collect();
        return Ok(json(
            StatusCode::OK,
            &ListBody {
                items: &items,
                next_cursor: None,
            },
        ));
    }
    let limit = page_limit(params.get("limit"))?;
    if let Some(by_name) = name_query(params.get("q"), params.get("sort"))? {
        let canonical = by_name.canonical();
        let after = match params.get("cursor") {
            None => None,
            Some(c) => {
                Some(cursor::decode_name(&canonical, c).ok_or_else(Problem::invalid_cursor)?)
            }
        };
        let page = store.by_name(&by_name, limit, after.as_deref()).await?;
        let body = ListBody {
            items: &page.items,
            next_cursor: page.next_after.map(|p| cursor::encode_name(&canonical, &p)),
        };
        return Ok(json(StatusCode::OK, &body));
    }
    let after = match params.get("cursor") {
        None => None,
        Some(c) => Some(cursor::decode(c).ok_or_else(Problem::invalid_cursor)?),
    };
    let page = store.list(limit, after).await?;
    let body = ListBody {
        items: &page.items,
        next_cursor: page.next_after.map(cursor::encode),
    };
    Ok(json(StatusCode::OK, &body))
}

/// The `legacy_id` parameter: the id of a row of the Flask service's `client_company` table
/// (a PostgreSQL `SERIAL`, 1 to 2³¹ − 1).
fn legacy_id_of(text: &str) -> Result<i64, Problem> {
    match text.parse::<i32>() {
        Ok(id) if id > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(i64::from(id)),
        _ => Err(Problem::validation(vec![FieldError::new(
            "legacy_id",
            format!("must be a whole number from 1 to {}", i32::MAX),
        )])),
    }
}

/// The listing by name that `q` and `sort` ask for, if any: a search (ordered by name), or
/// every company by name (`sort=name`). Without either, companies are listed newest first.
fn name_query(q: Option<&String>, sort: Option<&String>) -> Result<Option<NameQuery>, Problem> {
    let field =
        |name: &str, message: String| Problem::validation(vec![FieldError::new(name, message)]);
    match sort.map(String::as_str) {
        None | Some("name") => {}
        Some(_) => {
            return Err(field(
                "sort",
                "must be name (without sort, companies are listed newest first)".into(),
            ))
        }
    }
    match q {
        Some(q) => Search::parse(q)
            .map(|s| Some(NameQuery::Matching(s)))
            .map_err(|m| field("q", m)),
        None if sort.is_some() => Ok(Some(NameQuery::All)),
        None => Ok(None),
    }
}

enum Edit {
    /// A merge patch (with the exact text of a numeric `declared_billing` in it).
    Patch(JsonBody),
    Replace(Box<CompanyInput>),
}

impl Edit {
    fn apply(&self, current: &Company) -> Result<CompanyInput, Problem> {
        match self {
            Edit::Replace(input) => Ok(input.as_ref().clone()),
            Edit::Patch(patch) => {
                validated(&patch.with_doc(merge_patch(current.to_document(), &patch.doc)))
            }
        }
    }
}

/// `PATCH /companies/{id}` (JSON Merge Patch) and `PUT /companies/{id}` (full replacement).
pub async fn update_company<S: CompanyReader + CompanyUpdater>(store: &S, req: Request) -> Handled {
    let id = path_id(&req, "id", "company")?;
    let if_match = IfMatch::from_headers(req.headers())?;
    let kind = if req.method() == Method::PATCH {
        ChangeKind::Update
    } else {
        ChangeKind::Replace
    };
    let change = if req.method() == Method::PATCH {
        let patch = JsonBody::read(&req, MERGE_PATCH)?;
        let mut errors = Vec::new();
        input::check_top_level_fields(&patch.doc, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        Edit::Patch(patch)
    } else {
        Edit::Replace(Box::new(validated(&JsonBody::read(&req, JSON)?)?))
    };
    let (next, ()) = write(
        store,
        id,
        if_match.as_ref(),
        &audit(&req, kind)?,
        |current| Ok((current.replaced_by(change.apply(current)?, now()), ())),
        no_record,
    )
    .await?;
    Ok(company_response(StatusCode::OK, &next))
}

/// `DELETE /companies/{id}`
pub async fn delete_company<S: CompanyReader + CompanyDeleter>(store: &S, req: Request) -> Handled {
    let id = path_id(&req, "id", "company")?;
    let if_match = IfMatch::from_headers(req.headers())?;
    write(
        store,
        id,
        if_match.as_ref(),
        &audit(&req, ChangeKind::Delete)?,
        |_| Ok((Deleted, ())),
        no_record,
    )
    .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
