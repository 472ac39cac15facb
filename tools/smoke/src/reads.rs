//! The read-only checks, safe against any stage: the bank registry, a page of companies, the
//! problem answers for a company that does not exist (and its history), the reference where
//! it is served.

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use uuid::Uuid;

use crate::access::AUDIT;
use crate::http::{field_array, field_str, next_cursor, Answer, Api};
use crate::report::{Failure, Report, Step};
use crate::token::Access;

pub async fn run(api: &Api, report: &mut Report, access: &Access) -> Result<(), Failure> {
    report.step("list banks", "GET /banks", banks(api)).await?;
    report
        .step("list companies", "GET /companies?limit=1", first_page(api))
        .await?;
    let unknown = Uuid::new_v4();
    report
        .step(
            "get an unknown company",
            "GET /companies/{random id}",
            missing_company(api, unknown),
        )
        .await?;
    report
        .step(
            "history of an unknown company",
            "GET /companies/{random id}/history",
            missing_history(api, unknown, access),
        )
        .await?;
    report
        .step("the API reference", "GET /openapi.json", reference(api))
        .await?;
    Ok(())
}

async fn banks(api: &Api) -> Result<Step<()>> {
    let answer = api.get("/banks").send().await?;
    answer.expect(200)?;
    let body = answer.json()?;
    let banks = field_array(&body, "items")?;
    let first = banks.first().context("the bank registry is empty")?;
    for field in ["code", "ispb", "name", "short_name"] {
        field_str(first, field).context("the first bank")?;
    }
    Ok(Step::ok((), answer.status).note(format!("{} banks", banks.len())))
}

async fn first_page(api: &Api) -> Result<Step<()>> {
    let answer = api.get("/companies?limit=1").send().await?;
    answer.expect(200)?;
    // Answers may hold bank details: no cache may keep them.
    answer.expect_header("cache-control", "no-store")?;
    let page = answer.json()?;
    let items = field_array(&page, "items")?;
    ensure!(items.len() <= 1, "limit=1 gave {} companies", items.len());
    let more = next_cursor(&page)?.is_some();
    if let Some(company) = items.first() {
        check_company(company).context("the company listed")?;
    }
    let note = match (items.len(), more) {
        (0, _) => "no company yet",
        (_, true) => "a company, and a cursor to more",
        (_, false) => "the only company",
    };
    Ok(Step::ok((), answer.status).note(note))
}

async fn missing_company(api: &Api, id: Uuid) -> Result<Step<()>> {
    let answer = api.get(&format!("/companies/{id}")).send().await?;
    answer.problem(404)?;
    Ok(Step::ok((), answer.status))
}

/// A random company's history: 404 where the caller may read histories; where the token
/// lacks `companies/audit`, API Gateway's authorizer must refuse it (403) before any function
/// runs, and answering anything else is a failure (a history would be readable without the
/// scope). A token whose scopes cannot be read: a 403 is shown as skipped.
async fn missing_history(api: &Api, id: Uuid, access: &Access) -> Result<Step<()>> {
    let answer = api.get(&format!("/companies/{id}/history")).send().await?;
    history_refused_or(answer, access, |answer| {
        answer.problem(404)?;
        Ok(())
    })
}

/// The answer to a history request, judged by `access`: `check` when the caller holds
/// `companies/audit` (or may), 403 from the authorizer when it does not.
pub fn history_refused_or<T: Default>(
    answer: Answer,
    access: &Access,
    check: impl FnOnce(&Answer) -> Result<T>,
) -> Result<Step<T>> {
    match access.allows(AUDIT) {
        Some(false) => {
            answer
                .expect(403)
                .context("a token without companies/audit must be refused by the authorizer")?;
            Ok(Step::ok(T::default(), answer.status)
                .note("refused without companies/audit, as it must be"))
        }
        None if answer.status == 403 => Ok(Step::skipped(
            T::default(),
            answer.status,
            "refused (403): the token's scopes are unknown, companies/audit may be missing",
        )),
        _ => Ok(Step::ok(check(&answer)?, answer.status)),
    }
}

/// The contract, where the API serves it (the local API does; API Gateway has no such route
/// and answers 404, `sam local` 403).
async fn reference(api: &Api) -> Result<Step<()>> {
    let answer = api.get("/openapi.json").send().await?;
    if matches!(answer.status, 403 | 404) {
        return Ok(Step::skipped(
            (),
            answer.status,
            "not served here (the local API serves it)",
        ));
    }
    answer.expect(200)?;
    let contract = answer.json()?;
    let version = field_str(&contract, "openapi")?;
    ensure!(
        version.starts_with("3."),
        "openapi {version:?}: expected 3.x"
    );
    ensure!(
        contract.pointer("/paths/~1companies").is_some(),
        "the contract has no /companies path"
    );
    Ok(Step::ok((), answer.status))
}

/// Fails unless `company` has every member of the contract's `Company`, of its type.
pub fn check_company(company: &Value) -> Result<()> {
    for field in [
        "id",
        "company_name",
        "phone",
        "declared_billing",
        "created",
        "updated",
    ] {
        field_str(company, field)?;
    }
    field_array(company, "bank_accounts")?;
    for nullable in ["tax_id", "address"] {
        ensure!(
            company.get(nullable).is_some(),
            "no \"{nullable}\" in the company"
        );
    }
    company
        .get("version")
        .and_then(Value::as_u64)
        .context("no number \"version\" in the company")?;
    Ok(())
}
