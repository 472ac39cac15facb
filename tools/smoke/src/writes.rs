//! `--write`: one company's life, as a client lives it: create with an `Idempotency-Key`,
//! the same request again (replayed, not created twice), read with its `ETag`, found by name,
//! changed under `If-Match`, its history, a stale delete refused, the delete, and gone. Before
//! it, the leftovers of earlier runs are removed ([`crate::cleanup`]); after a failure, this
//! run's company is deleted if it can be.

use anyhow::{ensure, Context, Result};
use reqwest::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cleanup::{self, PREFIX};
use crate::http::{field_array, field_str, next_cursor, query_value, Answer, Api};
use crate::reads::{check_company, history_refused_or};
use crate::report::{Failure, Report, Step};
use crate::token::Access;

const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";
/// Pages of the name search read at most while looking for this run's company.
const SEARCH_PAGES: usize = 10;

/// This run: its id (in the company's name and its idempotency key), its company's name and
/// CNPJ.
struct Run {
    id: String,
    name: String,
    cnpj: String,
    key: String,
}

impl Run {
    fn new(now: OffsetDateTime) -> Run {
        let id: String = Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .take(8)
            .collect();
        let at = now
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        Run {
            name: format!("{PREFIX}{id} {at}"),
            cnpj: crate::cnpj::generate(),
            key: format!("smoke-{id}-create"),
            id,
        }
    }

    fn document(&self) -> Value {
        json!({
            "company_name": self.name, "phone": "11978235674", "tax_id": self.cnpj,
            "declared_billing": "1234.50",
            "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}],
        })
    }
}

/// The company as created: its id, body and `Location`.
struct Created {
    id: String,
    body: Value,
    location: String,
}

pub async fn run(
    api: &Api,
    report: &mut Report,
    access: &Access,
    now: OffsetDateTime,
) -> Result<(), Failure> {
    report
        .step(
            "clean up leftovers of earlier runs",
            "GET /companies?q=smoke test, DELETE",
            cleanup::leftovers(api, now),
        )
        .await?;
    let run = Run::new(now);
    let created = report
        .step(
            "create",
            "POST /companies (Idempotency-Key)",
            create(api, &run),
        )
        .await?;
    let outcome = after_create(api, report, access, &run, &created).await;
    if outcome.is_err() {
        remove_after_failure(api, &created.id).await;
    }
    outcome
}

async fn after_create(
    api: &Api,
    report: &mut Report,
    access: &Access,
    run: &Run,
    created: &Created,
) -> Result<(), Failure> {
    let id = &created.id;
    let path = format!("/companies/{id}");
    report
        .step(
            "replay the create",
            "POST /companies (same key)",
            replay(api, run, created),
        )
        .await?;
    report
        .step("get", "GET /companies/{id}", get(api, &path, created))
        .await?;
    report
        .step(
            "search by name",
            "GET /companies?q=smoke test {run}",
            search(api, run, id),
        )
        .await?;
    report
        .step(
            "patch with If-Match",
            "PATCH /companies/{id} (If-Match \"1\")",
            patch(api, &path),
        )
        .await?;
    report
        .step(
            "history",
            "GET /companies/{id}/history",
            history(api, &path, access),
        )
        .await?;
    report
        .step(
            "delete with a stale If-Match",
            "DELETE /companies/{id} (If-Match \"1\")",
            delete(api, &path, 1, 412),
        )
        .await?;
    report
        .step(
            "delete with If-Match",
            "DELETE /companies/{id} (If-Match \"2\")",
            delete(api, &path, 2, 204),
        )
        .await?;
    report
        .step("get after delete", "GET /companies/{id}", gone(api, &path))
        .await?;
    Ok(())
}

async fn create(api: &Api, run: &Run) -> Result<Step<Created>> {
    let answer = post(api, run).await?;
    answer.expect(201)?;
    let body = answer.json()?;
    let id = field_str(&body, "id")?.to_owned();
    // A company was made: whatever is wrong with the answer, the run removes it.
    match created(api, run, &answer, body, id.clone()) {
        Ok(created) => {
            let note = format!("company {id}, {}", run.name);
            Ok(Step::ok(created, answer.status).note(note))
        }
        Err(e) => {
            remove_after_failure(api, &id).await;
            Err(e)
        }
    }
}

/// The company `answer` says was created, checked against what the run sent.
fn created(api: &Api, run: &Run, answer: &Answer, body: Value, id: String) -> Result<Created> {
    check_company(&body)?;
    ensure!(
        field_str(&body, "company_name")? == run.name,
        "the company's name is not the one sent"
    );
    ensure!(
        body.get("tax_id").and_then(Value::as_str) == Some(run.cnpj.as_str()),
        "the company's tax_id is not the CNPJ sent"
    );
    answer.expect_header("etag", "\"1\"")?;
    let location = answer.header("location").context("no Location header")?;
    // Followed as a client follows it: under a custom domain's base path, a Location without
    // it leads out of the API.
    let leads_to = api.resolve(location)?;
    let company = api.url(&format!("/companies/{id}"));
    ensure!(
        leads_to.as_str() == company,
        "Location {location:?} leads to {leads_to}, not to the company at {company}"
    );
    Ok(Created {
        location: location.to_owned(),
        body,
        id,
    })
}

async fn post(api: &Api, run: &Run) -> Result<Answer> {
    api.request(Method::POST, "/companies")
        .header("idempotency-key", run.key.clone())
        .body(JSON, &run.document())
        .send()
        .await
}

async fn replay(api: &Api, run: &Run, created: &Created) -> Result<Step<()>> {
    let answer = post(api, run).await?;
    answer.expect(201)?;
    answer.expect_header("idempotent-replayed", "true")?;
    answer.expect_header("etag", "\"1\"")?;
    answer.expect_header("location", &created.location)?;
    ensure!(
        answer.json()? == created.body,
        "the replayed body differs from the first answer's"
    );
    Ok(Step::ok((), answer.status).note("replayed, not created again"))
}

async fn get(api: &Api, path: &str, created: &Created) -> Result<Step<()>> {
    let answer = api.get(path).send().await?;
    answer.expect(200)?;
    answer.expect_header("etag", "\"1\"")?;
    answer.expect_header("cache-control", "no-store")?;
    ensure!(
        answer.json()? == created.body,
        "the company read differs from the one created"
    );
    Ok(Step::ok((), answer.status).note("ETag \"1\""))
}

/// The run's company among the results of a search for its name's words, following
/// `next_cursor` (a page of a multi-word search may be short and still be followed).
async fn search(api: &Api, run: &Run, id: &str) -> Result<Step<()>> {
    let query = query_value(&format!("smoke test {}", run.id));
    let mut cursor: Option<String> = None;
    for _ in 0..SEARCH_PAGES {
        let more = cursor
            .as_deref()
            .map(|c| format!("&cursor={}", query_value(c)))
            .unwrap_or_default();
        let answer = api
            .get(&format!("/companies?q={query}&limit=100{more}"))
            .send()
            .await?;
        answer.expect(200)?;
        let page = answer.json()?;
        let items = field_array(&page, "items")?;
        if items
            .iter()
            .any(|c| c.get("id").and_then(Value::as_str) == Some(id))
        {
            return Ok(Step::ok((), answer.status));
        }
        cursor = next_cursor(&page)?;
        if cursor.is_none() {
            break;
        }
    }
    anyhow::bail!(
        "the company is not among the results of q=smoke test {}",
        run.id
    )
}

async fn patch(api: &Api, path: &str) -> Result<Step<()>> {
    let answer = api
        .request(Method::PATCH, path)
        .header("if-match", "\"1\"")
        .body(MERGE_PATCH, &json!({"declared_billing": "2500.00"}))
        .send()
        .await?;
    answer.expect(200)?;
    answer.expect_header("etag", "\"2\"")?;
    let body = answer.json()?;
    check_company(&body)?;
    ensure!(
        body.get("version").and_then(Value::as_u64) == Some(2),
        "version: expected 2, got {}",
        body.get("version").unwrap_or(&Value::Null)
    );
    ensure!(
        body.get("declared_billing").and_then(Value::as_str) == Some("2500.00"),
        "declared_billing: expected \"2500.00\" after the patch"
    );
    Ok(Step::ok((), answer.status).note("ETag \"2\""))
}

/// The history: the update over the create, newest first.
async fn history(api: &Api, path: &str, access: &Access) -> Result<Step<()>> {
    let answer = api.get(&format!("{path}/history")).send().await?;
    history_refused_or(answer, access, |answer| {
        answer.expect(200)?;
        let page = answer.json()?;
        let entries: Vec<(u64, &str)> = field_array(&page, "items")?
            .iter()
            .map(|e| {
                (
                    e.get("version").and_then(Value::as_u64).unwrap_or(0),
                    e.get("operation").and_then(Value::as_str).unwrap_or(""),
                )
            })
            .collect();
        ensure!(
            entries == [(2, "update"), (1, "create")],
            "expected versions 2 (update) and 1 (create), got {entries:?}"
        );
        Ok(())
    })
    .map(|step| step.note("versions 2 (update), 1 (create)"))
}

/// A delete under `If-Match: "<version>"`, expecting `status` (204, or 412 for a stale one).
async fn delete(api: &Api, path: &str, version: u64, status: u16) -> Result<Step<()>> {
    let answer = api
        .request(Method::DELETE, path)
        .header("if-match", format!("\"{version}\""))
        .send()
        .await?;
    if status == 204 {
        answer.expect(204)?;
        Ok(Step::ok((), answer.status))
    } else {
        answer.problem(status)?;
        Ok(Step::ok((), answer.status).note("refused, nothing written"))
    }
}

async fn gone(api: &Api, path: &str) -> Result<Step<()>> {
    let answer = api.get(path).send().await?;
    answer.problem(404)?;
    Ok(Step::ok((), answer.status))
}

/// After a failed step, deletes this run's company (whatever its version) so that the run
/// leaves nothing behind; says what happened either way.
async fn remove_after_failure(api: &Api, id: &str) {
    let answer = api
        .request(Method::DELETE, &format!("/companies/{id}"))
        .send()
        .await;
    let said = match answer.map(|a| a.status) {
        Ok(204) => format!("smoke: deleted this run's company {id} after the failure"),
        Ok(404) => return,
        Ok(status) => format!(
            "smoke: could not delete this run's company {id} (got {status}); the next --write \
             run removes it once it is {} minutes old",
            cleanup::MAX_AGE.whole_minutes()
        ),
        Err(e) => format!("smoke: could not delete this run's company {id}: {e:#}"),
    };
    eprintln!("{said}");
}
