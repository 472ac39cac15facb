//! The company CRUD operations.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{company_not_found, modify_company, respond, MAX_WRITE_ATTEMPTS};
use crate::http::idempotency::{Idempotency, StoredAnswer};
use crate::http::request::{json_object, merge_patch, number_text, path_id, query, IfMatch};
use crate::http::{cursor, empty, json, with_header, Problem};
use crate::model::{input, now, Cnpj, Company, CompanyInput, FieldError};
use crate::store::{
    CompanyCreator, CompanyDeleter, CompanyLister, CompanyReader, CompanyUpdater,
    IdempotencyReader, StoreError,
};

const JSON: &[&str] = &["application/json"];
const MERGE_PATCH: &[&str] = &["application/merge-patch+json", "application/json"];
/// Page size bounds for listing.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub(super) fn company_response(status: StatusCode, company: &Company) -> Response<Body> {
    with_header(json(status, company), header::ETAG, &company.etag())
}

/// Validates a whole document under the create rules (a numeric `declared_billing` read from
/// `billing_text`, its exact source); duplicates are a conflict.
fn validated(
    doc: &Map<String, Value>,
    billing_text: Option<&str>,
) -> Result<CompanyInput, Problem> {
    let input = input::company_with(doc, billing_text).map_err(Problem::validation)?;
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
) -> Response<Body> {
    respond(create(store, &req).await)
}

/// Replays the stored answer for a key already used, if there is one.
pub(super) async fn replay_if_used<S: IdempotencyReader>(
    store: &S,
    idempotency: Option<&Idempotency>,
) -> Result<Option<Response<Body>>, Problem> {
    let Some(idem) = idempotency else {
        return Ok(None);
    };
    match store.idempotency_record(idem.key()).await? {
        Some(record) => idem.replay(&record).map(Some),
        None => Ok(None),
    }
}

async fn create<S: CompanyCreator + IdempotencyReader>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let doc = json_object(req, JSON)?;
    let idempotency = Idempotency::from_request(req, &doc)?;
    if let Some(replayed) = replay_if_used(store, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let billing = number_text(req, "declared_billing");
    let company = Company::create(validated(&doc, billing.as_deref())?, now());
    let answer = StoredAnswer {
        status: StatusCode::CREATED.as_u16(),
        location: Some(format!("/companies/{}", company.id)),
        etag: Some(company.etag()),
        body: serde_json::to_string(&company).map_err(|_| Problem::internal())?,
    };
    let record = idempotency.as_ref().map(|i| i.record(&answer));
    match store.create(&company, record.as_ref()).await {
        Ok(()) => {}
        Err(StoreError::IdempotencyKeyTaken) => {
            // A concurrent request with the same key won: answer as it did.
            return replay_if_used(store, idempotency.as_ref())
                .await?
                .ok_or_else(Problem::idempotency_in_flight);
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(company_id = %company.id, accounts = company.bank_accounts.len(), "company created");
    Ok(answer.response())
}

/// `GET /companies/{id}`
pub async fn get_company<S: CompanyReader>(store: &S, req: Request) -> Response<Body> {
    respond(get(store, &req).await)
}

async fn get<S: CompanyReader>(store: &S, req: &Request) -> Result<Response<Body>, Problem> {
    let id = path_id(req, "id", "company")?;
    match store.get(id).await? {
        Some(company) => Ok(company_response(StatusCode::OK, &company)),
        None => Err(company_not_found()),
    }
}

#[derive(Serialize)]
struct ListBody<'a> {
    items: &'a [Company],
    next_cursor: Option<String>,
}

/// `GET /companies?limit=N&cursor=C` and `GET /companies?tax_id=…`
pub async fn list_companies<S: CompanyLister + CompanyReader>(
    store: &S,
    req: Request,
) -> Response<Body> {
    respond(list(store, &req).await)
}

async fn list<S: CompanyLister + CompanyReader>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let params = query(req, &["limit", "cursor", "tax_id"])?;
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
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(Problem::validation(vec![FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )]))
            }
        },
    };
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

/// `PATCH /companies/{id}` (JSON Merge Patch) and `PUT /companies/{id}` (full replacement).
pub async fn update_company<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: Request,
) -> Response<Body> {
    respond(update(store, &req).await)
}

enum Change {
    /// A merge patch, with the exact text of a numeric `declared_billing` in it.
    Patch(Map<String, Value>, Option<String>),
    Replace(Box<CompanyInput>),
}

impl Change {
    fn apply(&self, current: &Company) -> Result<CompanyInput, Problem> {
        match self {
            Change::Replace(input) => Ok(input.as_ref().clone()),
            Change::Patch(patch, billing) => validated(
                &merge_patch(current.to_document(), patch),
                billing.as_deref(),
            ),
        }
    }
}

async fn update<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let id = path_id(req, "id", "company")?;
    let if_match = IfMatch::from_headers(req.headers())?;
    let change = if req.method() == Method::PATCH {
        let patch = json_object(req, MERGE_PATCH)?;
        let mut errors = Vec::new();
        input::check_top_level_fields(&patch, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        Change::Patch(patch, number_text(req, "declared_billing"))
    } else {
        let doc = json_object(req, JSON)?;
        Change::Replace(Box::new(validated(
            &doc,
            number_text(req, "declared_billing").as_deref(),
        )?))
    };
    let (next, ()) = modify_company(
        store,
        id,
        if_match.as_ref(),
        |current| Ok((current.replaced_by(change.apply(current)?, now()), ())),
        |_, _| None,
    )
    .await?;
    Ok(company_response(StatusCode::OK, &next))
}

/// `DELETE /companies/{id}`
pub async fn delete_company<S: CompanyReader + CompanyDeleter>(
    store: &S,
    req: Request,
) -> Response<Body> {
    respond(delete(store, &req).await)
}

async fn delete<S: CompanyReader + CompanyDeleter>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let id = path_id(req, "id", "company")?;
    let if_match = IfMatch::from_headers(req.headers())?;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = store.get(id).await?.ok_or_else(company_not_found)?;
        if if_match
            .as_ref()
            .is_some_and(|m| !m.matches(current.version))
        {
            return Err(Problem::precondition_failed());
        }
        match store.delete(&current).await {
            Ok(()) => {
                tracing::info!(company_id = %id, "company deleted");
                return Ok(empty(StatusCode::NO_CONTENT));
            }
            Err(StoreError::VersionConflict)
                if if_match.as_ref().is_some_and(IfMatch::is_pinned) =>
            {
                return Err(Problem::precondition_failed())
            }
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Problem::edit_conflict())
}
