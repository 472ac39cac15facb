//! A company's bank accounts, one at a time. Each change is a new version of the company,
//! written with the same conditional read-modify-write as a company update.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::companies::replay_if_used;
use super::{modify_company, respond};
use crate::http::idempotency::{Idempotency, StoredAnswer};
use crate::http::request::{json_object, merge_patch, path_id, IfMatch};
use crate::http::{empty, json, with_header, Problem};
use crate::model::input::{self, MAX_BANK_ACCOUNTS};
use crate::model::{now, AccountChangeError, BankAccount, BankAccountInput, Company, FieldError};
use crate::store::{CompanyReader, CompanyUpdater, IdempotencyReader};

const JSON: &[&str] = &["application/json"];
const MERGE_PATCH: &[&str] = &["application/merge-patch+json", "application/json"];

impl From<AccountChangeError> for Problem {
    fn from(err: AccountChangeError) -> Self {
        match err {
            AccountChangeError::NotFound => {
                Problem::not_found("No bank account with that id on this company.")
            }
            AccountChangeError::Duplicate(existing) => Problem::duplicate_account(existing),
            AccountChangeError::TooMany => Problem::too_many_accounts(MAX_BANK_ACCOUNTS),
        }
    }
}

fn validated(doc: Map<String, Value>) -> Result<BankAccountInput, Problem> {
    let mut errors = Vec::new();
    match input::bank_account(&Value::Object(doc), "", &mut errors) {
        Some(account) if errors.is_empty() => Ok(account),
        _ => Err(Problem::validation(errors)),
    }
}

fn account_response<T: serde::Serialize>(
    status: StatusCode,
    company: &Company,
    body: &T,
) -> Response<Body> {
    with_header(json(status, body), header::ETAG, &company.etag())
}

struct Target {
    company: Uuid,
    account: Uuid,
    if_match: Option<IfMatch>,
}

fn target(req: &Request) -> Result<Target, Problem> {
    Ok(Target {
        company: path_id(req, "id", "company")?,
        account: path_id(req, "account_id", "bank account")?,
        if_match: IfMatch::from_headers(req.headers())?,
    })
}

/// `POST /companies/{id}/bank-accounts`
pub async fn add_bank_account<S: CompanyReader + CompanyUpdater + IdempotencyReader>(
    store: &S,
    req: Request,
) -> Response<Body> {
    respond(add(store, &req).await)
}

async fn add<S: CompanyReader + CompanyUpdater + IdempotencyReader>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let id = path_id(req, "id", "company")?;
    let if_match = IfMatch::from_headers(req.headers())?;
    let doc = json_object(req, JSON)?;
    let idempotency = Idempotency::from_request(req, &doc)?;
    if let Some(replayed) = replay_if_used(store, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let account = validated(doc)?;
    let answer = |company: &Company, added: &BankAccount| StoredAnswer {
        status: StatusCode::CREATED.as_u16(),
        location: Some(format!("/companies/{id}/bank-accounts/{}", added.id)),
        etag: Some(company.etag()),
        body: serde_json::to_string(added).unwrap_or_default(),
    };
    let result = modify_company(
        store,
        id,
        if_match.as_ref(),
        |current| Ok(current.with_account_added(&account, now())?),
        |company, added| {
            idempotency
                .as_ref()
                .map(|i| i.record(&answer(company, added)))
        },
    )
    .await;
    let (company, added) = match result {
        Ok(done) => done,
        Err(p) if p.kind == Problem::idempotency_in_flight().kind => {
            // A concurrent request with the same key won: answer as it did.
            return replay_if_used(store, idempotency.as_ref()).await?.ok_or(p);
        }
        Err(p) => return Err(p),
    };
    tracing::info!(company_id = %id, account_id = %added.id, account = %added.account_number.masked(), "bank account added");
    Ok(answer(&company, &added).response())
}

/// `PATCH /companies/{id}/bank-accounts/{account_id}` (JSON Merge Patch of the account fields)
pub async fn update_bank_account<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: Request,
) -> Response<Body> {
    respond(update(store, &req).await)
}

async fn update<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let t = target(req)?;
    let patch = json_object(req, MERGE_PATCH)?;
    // Names are checked before merging: `{"x": null}` would otherwise vanish in the merge.
    let unknown: Vec<FieldError> = patch
        .keys()
        .filter(|k| !input::ACCOUNT_FIELDS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k.chars().take(64).collect::<String>(),
                "is not a field of a bank account",
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::validation(unknown));
    }
    let (company, changed) = modify_company(
        store,
        t.company,
        t.if_match.as_ref(),
        |current| {
            let doc = merge_patch(current.account(t.account)?.to_document(), &patch);
            Ok(current.with_account_replaced(t.account, &validated(doc)?, now())?)
        },
        |_, _| None,
    )
    .await?;
    Ok(account_response(StatusCode::OK, &company, &changed))
}

/// `DELETE /companies/{id}/bank-accounts/{account_id}`
pub async fn delete_bank_account<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: Request,
) -> Response<Body> {
    respond(delete(store, &req).await)
}

async fn delete<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: &Request,
) -> Result<Response<Body>, Problem> {
    let t = target(req)?;
    let (company, ()) = modify_company(
        store,
        t.company,
        t.if_match.as_ref(),
        |current| Ok((current.without_account(t.account, now())?, ())),
        |_, _| None,
    )
    .await?;
    Ok(with_header(
        empty(StatusCode::NO_CONTENT),
        header::ETAG,
        &company.etag(),
    ))
}
