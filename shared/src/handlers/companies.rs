//! The company CRUD operations.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::write::{no_record, write, Deleted};
use super::{audit, page_limit, replay_if_used, twin_answer, Handled, JSON, MERGE_PATCH};
use crate::http::idempotency::{self, Idempotency};
use crate::http::request::{merge_patch, path_id, query, IfMatch, JsonBody};
use crate::http::{cursor, empty, json, with_header, Problem};
use crate::model::{input, now, ChangeKind, Cnpj, Company, CompanyInput, FieldError};
use crate::store::{
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
        location: Some(format!("/companies/{}", company.id)),
        etag: Some(company.etag()),
        body: serde_json::to_string(&company)
            .map_err(|e| Problem::internal().caused_by(e.to_string()))?,
    };
    let record = idempotency.as_ref().map(|i| i.record(&answer));
    let entry = audit(&req, ChangeKind::Create).created(&company);
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

/// `GET /companies?limit=N&cursor=C` and `GET /companies?tax_id=…`
pub async fn list_companies<S: CompanyLister + CompanyReader>(store: &S, req: Request) -> Handled {
    let params = query(&req, &["limit", "cursor", "tax_id"])?;
    if let Some(tax_id) = params.get("tax_id") {
        if params.len() > 1 {
            return Err(Problem::bad_request(
                "tax_id cannot be combined with limit or cursor.",
            ));
        }
        let cnpj = Cnpj::parse(tax_id)
            .map_err(|m| Problem::validation(vec![FieldError::new("tax_id", m)]))?;
        let found = match store.find_by_tax_id(&cnpj).await? {
            Some(id) => store
                .get(id)
                .await?
                .filter(|c| c.tax_id.as_ref() == Some(&cnpj)),
            None => None,
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

enum Change {
    /// A merge patch (with the exact text of a numeric `declared_billing` in it).
    Patch(JsonBody),
    Replace(Box<CompanyInput>),
}

impl Change {
    fn apply(&self, current: &Company) -> Result<CompanyInput, Problem> {
        match self {
            Change::Replace(input) => Ok(input.as_ref().clone()),
            Change::Patch(patch) => {
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
        Change::Patch(patch)
    } else {
        Change::Replace(Box::new(validated(&JsonBody::read(&req, JSON)?)?))
    };
    let (next, ()) = write(
        store,
        id,
        if_match.as_ref(),
        &audit(&req, kind),
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
        &audit(&req, ChangeKind::Delete),
        |_| Ok((Deleted, ())),
        no_record,
    )
    .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
