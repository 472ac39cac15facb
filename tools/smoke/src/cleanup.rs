//! Leftovers of earlier `--write` runs (a run stopped between its create and its delete):
//! companies whose name starts with [`PREFIX`] and that were created more than [`MAX_AGE`]
//! ago. A run lasts seconds, so a company that young belongs to a run still going (another
//! one, started at the same time): it is never touched, and two runs never delete each
//! other's. Nothing else is deleted: the name and the age must both match.

use anyhow::{Context, Result};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::http::{field_array, field_str, next_cursor, query_value, Api};
use crate::report::Step;

/// How every smoke company's name starts: `smoke-test <run id> <timestamp>`.
pub const PREFIX: &str = "smoke-test ";
/// The age past which a smoke company is a leftover.
pub const MAX_AGE: time::Duration = time::Duration::minutes(10);
/// Pages of the search read at most (100 companies each), so a run always ends.
const MAX_PAGES: usize = 20;
/// Leftovers named in the note; more are counted.
const NAMED: usize = 5;

/// A leftover found: its id, name and version (deleted at that version only).
struct Leftover {
    id: String,
    name: String,
    version: u64,
}

/// Finds this suite's leftovers through the name search (`q=smoke test`, every page) and
/// deletes each at the version it was found at. One changed since (412) or gone already (404,
/// another run's cleanup) is left alone.
pub async fn leftovers(api: &Api, now: OffsetDateTime) -> Result<Step<()>> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    let mut status = 200;
    for _ in 0..MAX_PAGES {
        let more = cursor
            .as_deref()
            .map(|c| format!("&cursor={}", query_value(c)))
            .unwrap_or_default();
        let answer = api
            .get(&format!("/companies?q=smoke%20test&limit=100{more}"))
            .send()
            .await?;
        answer.expect(200).context("searching for leftovers")?;
        status = answer.status;
        let page = answer.json()?;
        for company in field_array(&page, "items")? {
            if let Some(leftover) = leftover(company, now)? {
                found.push(leftover);
            }
        }
        cursor = next_cursor(&page)?;
        if cursor.is_none() {
            break;
        }
    }
    if found.is_empty() {
        return Ok(Step::ok((), status).note(format!(
            "no leftover older than {} minutes",
            MAX_AGE.whole_minutes()
        )));
    }
    let (mut removed, mut left) = (Vec::new(), 0);
    for leftover in found {
        let answer = api
            .request(
                reqwest::Method::DELETE,
                &format!("/companies/{}", leftover.id),
            )
            .header("if-match", format!("\"{}\"", leftover.version))
            .send()
            .await?;
        status = answer.status;
        match answer.status {
            204 => removed.push(format!("{} ({})", leftover.name, leftover.id)),
            404 | 412 => left += 1,
            _ => answer
                .expect(204)
                .with_context(|| format!("deleting the leftover {}", leftover.id))?,
        }
    }
    let mut note = format!("removed {}", removed.len());
    if !removed.is_empty() {
        let named: Vec<&str> = removed.iter().take(NAMED).map(String::as_str).collect();
        note.push_str(&format!(": {}", named.join(", ")));
        if removed.len() > NAMED {
            note.push_str(&format!(" and {} more", removed.len() - NAMED));
        }
    }
    if left > 0 {
        note.push_str(&format!(
            "; {left} changed or deleted meanwhile, left alone"
        ));
    }
    Ok(Step::ok((), status).note(note))
}

/// `company` as a leftover, if it is one: named by this suite and older than [`MAX_AGE`]. A
/// creation time that does not parse is not old enough to delete.
fn leftover(company: &Value, now: OffsetDateTime) -> Result<Option<Leftover>> {
    let name = field_str(company, "company_name")?;
    if !name.starts_with(PREFIX) {
        return Ok(None);
    }
    let old = field_str(company, "created")
        .ok()
        .and_then(|created| OffsetDateTime::parse(created, &Rfc3339).ok())
        .is_some_and(|created| now - created > MAX_AGE);
    if !old {
        return Ok(None);
    }
    Ok(Some(Leftover {
        id: field_str(company, "id")?.to_owned(),
        name: name.to_owned(),
        version: company
            .get("version")
            .and_then(Value::as_u64)
            .context("a leftover without a version")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn only_old_companies_named_by_the_suite_are_leftovers() {
        let now = datetime!(2025-06-01 12:00 UTC);
        let company = |name: &str, created: &str| json!({"id": "i", "company_name": name, "created": created, "version": 3});
        let old = "2025-06-01T11:49:59.000Z";
        let young = "2025-06-01T11:50:01.000Z";
        let found = leftover(&company("smoke-test ab12 x", old), now)
            .unwrap()
            .unwrap();
        assert_eq!((found.id.as_str(), found.version), ("i", 3));
        for (name, created) in [
            ("smoke-test ab12 x", young),
            ("Smoke Test Ltda", old),
            ("smoke-testing", old),
            ("smoke-test ab12 x", "yesterday"),
        ] {
            assert!(
                leftover(&company(name, created), now).unwrap().is_none(),
                "{name} {created}"
            );
        }
    }
}
