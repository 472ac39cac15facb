//! A company's bank accounts, one at a time. Each change is a new version of the company,
//! written through the same write path as a company update.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use uuid::Uuid;

use super::write::{no_record, write, WriteError};
use super::{audit, replay_if_used, twin_answer, Handled, JSON, MERGE_PATCH};
use crate::http::body::{merge_patch, JsonBody};
use crate::http::idempotency::{self, Idempotency};
use crate::http::params::path_id;
use crate::http::preconditions::IfMatch;
use crate::http::{created_at, empty, json, with_header, Problem};
use companies::{input, now, BankAccount, BankAccountInput, ChangeKind, Company, FieldError};
use companies_store::{CompanyReader, CompanyUpdater, IdempotencyReader, StoreError, StoredAnswer};

fn validated(doc: serde_json::Map<String, Value>) -> Result<BankAccountInput, Problem> {
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
) -> Handled {
    let id = path_id(&req, "id", "company")?;
    let if_match = IfMatch::from_headers(req.headers())?;
    let body = JsonBody::read(&req, JSON)?;
    let idempotency = Idempotency::from_request(&req, &body.doc)?;
    if let Some(replayed) = replay_if_used(store, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let account = validated(body.doc)?;
    let answer = |company: &Company, added: &BankAccount| StoredAnswer {
        status: StatusCode::CREATED.as_u16(),
        location: Some(created_at(&req, added.id)),
        etag: Some(company.etag()),
        body: serde_json::to_string(added).unwrap_or_default(),
    };
    let written = write(
        store,
        id,
        if_match.as_ref(),
        &audit(&req, ChangeKind::AddBankAccount)?,
        |current| Ok(current.with_account_added(&account, now())?),
        |company, added| {
            idempotency
                .as_ref()
                .map(|i| i.record(&answer(company, added)))
        },
    )
    .await;
    let (company, added) = match written {
        Ok(done) => done,
        // A twin with the same key that got there first added this very account.
        Err(e) => {
            let key_taken = matches!(e, WriteError::Store(StoreError::IdempotencyKeyTaken));
            return twin_answer(store, idempotency.as_ref(), e.into(), key_taken).await;
        }
    };
    tracing::info!(company_id = %id, account_id = %added.id, account = %added.account_number.masked(), "bank account added");
    Ok(idempotency::response(&answer(&company, &added)))
}

/// `PATCH /companies/{id}/bank-accounts/{account_id}` (JSON Merge Patch of the account fields)
pub async fn update_bank_account<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: Request,
) -> Handled {
    let t = target(&req)?;
    let patch = JsonBody::read(&req, MERGE_PATCH)?.doc;
    // Names are checked before merging: `{"x": null}` would otherwise vanish in the merge.
    let unknown: Vec<FieldError> = patch
        .keys()
        .filter(|k| !input::ACCOUNT_FIELDS.contains(&k.as_str()))
        .map(|k| FieldError::new(input::field_name(k), "is not a field of a bank account"))
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::validation(unknown));
    }
    let (company, changed) = write(
        store,
        t.company,
        t.if_match.as_ref(),
        &audit(&req, ChangeKind::UpdateBankAccount)?,
        |current| {
            let doc = merge_patch(current.account(t.account)?.to_document(), &patch);
            Ok(current.with_account_replaced(t.account, &validated(doc)?, now())?)
        },
        no_record,
    )
    .await?;
    Ok(account_response(StatusCode::OK, &company, &changed))
}

/// `DELETE /companies/{id}/bank-accounts/{account_id}`
pub async fn delete_bank_account<S: CompanyReader + CompanyUpdater>(
    store: &S,
    req: Request,
) -> Handled {
    let t = target(&req)?;
    let (company, ()) = write(
        store,
        t.company,
        t.if_match.as_ref(),
        &audit(&req, ChangeKind::DeleteBankAccount)?,
        |current| Ok((current.without_account(t.account, now())?, ())),
        no_record,
    )
    .await?;
    Ok(with_header(
        empty(StatusCode::NO_CONTENT),
        header::ETAG,
        &company.etag(),
    ))
}
