//! History entries against the companies. Every change writes its company and the entry of
//! the version it makes in one transaction, and entries are never replaced; a company's
//! entries stay after it is deleted, until their retention ends (see docs/history.md), so an
//! entry without its company is no fault when the newest entry is the delete. What a restore
//! can leave instead:
//!
//! - a company whose current version has no entry, while that entry would still be within
//!   its retention: the entry is written from the company (the merge patch from the previous
//!   entry's snapshot, or the whole company when there is none; the operation `import` when
//!   the company's legacy marker records this version, `create` for a first version, `replace`
//!   otherwise), by the actor `companies-reindex` with the run's id as its request id, on
//!   condition that the company is still at that version and the entry still absent. The
//!   caller and the true operation went with the restore; the actor says the entry was rebuilt;
//! - a company absent although its newest entry is not a delete (the company item or the
//!   delete's entry was lost): reported, since whether the company comes back (the entry holds
//!   it whole) or its delete is recorded is a person's call;
//! - a company whose history holds a version after its own (the company item of that version
//!   was lost): reported; until it is settled the API cannot write the company's next version
//!   (its entry is taken).
//!
//! Reports are read again together (one transactional read) before they are made, so a change
//! the API is making at that moment is never taken for a fault.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::items::{
    company_key, from_item, history_entry, history_item, history_key, Item, WRITE_TOKEN,
};
use super::super::reindex::ReindexOptions;
use super::super::writes::{Action, Condition, StepKind};
use super::super::DynamoStore;
use super::facts::Facts;
use super::reads::{as_read, each, kept_changing, step, ATTEMPTS};
use super::report::{CompanyVersion, Failure, HistoryAhead, Kind, RepairReport};
use crate::{history_expires_at, StoreError};
use companies::history::{merge_diff, representation};
use companies::{Audit, ChangeKind, Company, HistoryEntry};

/// The actor of the entries a repair writes.
pub const REPAIR_ACTOR: &str = "companies-reindex";

/// A legacy row and the company version its last import wrote.
type Imported = (i64, u64);

enum Task {
    /// Write the entry of the company's current version.
    Write(Uuid, Option<Imported>),
    /// Confirm that the company is absent and its newest entry, of this version, no delete.
    Missing(Uuid, u64),
    /// Confirm that the company is behind this entry of its history.
    Ahead(Uuid, u64),
}

enum Outcome {
    Written(CompanyVersion),
    Missing(CompanyVersion),
    Ahead(HistoryAhead),
}

impl DynamoStore {
    /// Sets the history right against the companies (see the module's documentation) into
    /// `report`; `run` names the entries written, `now` is the time the scan was read at.
    pub(super) async fn repair_history(
        &self,
        facts: &Facts,
        options: ReindexOptions,
        run: &str,
        now: i64,
        report: &mut RepairReport,
    ) -> Result<(), StoreError> {
        report.history.entries = facts.entries();
        let imported: HashMap<Uuid, Imported> = facts
            .legacy
            .iter()
            .map(|(row, import)| (import.company, (*row, import.version)))
            .collect();
        let mut work = Vec::new();
        for (id, held) in &facts.companies {
            let trail = facts.trail(*id);
            let newest = trail.and_then(|t| t.last_key_value()).map(|(v, _)| *v);
            match newest {
                Some(entry) if entry > held.version => work.push(Task::Ahead(*id, entry)),
                _ if trail.is_some_and(|t| t.contains_key(&held.version)) => {}
                _ if kept_until(held.updated) > now => {
                    work.push(Task::Write(*id, imported.get(id).copied()));
                }
                _ => {}
            }
        }
        for (id, trail) in &facts.trails {
            let newest = trail.last_key_value().map(|(v, _)| *v);
            if let (false, false, Some(version)) =
                (facts.companies.contains_key(id), facts.deleted(*id), newest)
            {
                work.push(Task::Missing(*id, version));
            }
        }
        let (dry_run, run) = (options.dry_run, run.to_owned());
        let outcomes = each(self, work, options.concurrency, |store, task| {
            let run = run.clone();
            async move {
                match task {
                    Task::Write(id, legacy) => {
                        (id, store.write_latest(id, legacy, &run, now, dry_run).await)
                    }
                    Task::Missing(id, version) => {
                        (id, store.confirm_missing(id, version, now).await)
                    }
                    Task::Ahead(id, entry) => (id, store.confirm_ahead(id, entry, now).await),
                }
            }
        })
        .await?;
        let history = &mut report.history;
        for (id, outcome) in outcomes {
            match outcome {
                Ok(None) => {}
                Ok(Some(Outcome::Written(w))) => history.written.push(w),
                Ok(Some(Outcome::Missing(m))) => history.companies_missing.push(m),
                Ok(Some(Outcome::Ahead(a))) => history.ahead.push(a),
                Err(e) => report.failed.push(Failure {
                    kind: Kind::History,
                    subject: id.to_string(),
                    error: e.to_string(),
                }),
            }
        }
        history.written.sort_by_key(|w| w.company);
        history.companies_missing.sort_by_key(|m| m.company);
        history.ahead.sort_by_key(|a| a.company);
        Ok(())
    }

    /// Writes the entry of company `id`'s current version from the company, if it is missing
    /// and would still be within its retention.
    async fn write_latest(
        &self,
        id: Uuid,
        legacy: Option<Imported>,
        run: &str,
        now: i64,
        dry_run: bool,
    ) -> Result<Option<Outcome>, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some(version) = self
                .get_item(company_key(id))
                .await?
                .map(from_item)
                .transpose()?
                .map(|c| c.version)
            else {
                return Ok(None);
            };
            let keys = vec![
                company_key(id),
                history_key(id, version),
                history_key(id, version.saturating_sub(1)),
            ];
            let mut read = self.read_together(keys).await?.into_iter();
            let company = read.next().flatten().map(from_item).transpose()?;
            let Some(company) = company.filter(|c| c.version == version) else {
                continue;
            };
            // An entry of this version stands (even one past retention that the TTL has not
            // removed yet): never written over.
            if read.next().flatten().is_some() {
                return Ok(None);
            }
            // The entry before, when kept and readable: the new entry is the patch from it.
            // Without it, the whole company, as the oldest entry kept would answer.
            let previous = read
                .next()
                .flatten()
                .filter(|_| version > 1)
                .and_then(|item| history_entry(&item, now).ok().flatten());
            let entry = rebuilt(&company, previous.as_ref(), legacy, run);
            if history_expires_at(&entry) <= now {
                return Ok(None);
            }
            let outcome = Outcome::Written(CompanyVersion {
                company: id,
                version,
            });
            if dry_run {
                return Ok(Some(outcome));
            }
            let mut item = history_item(id, &entry)?;
            let token = Uuid::new_v4().simple().to_string();
            item.insert(WRITE_TOKEN.into(), AttributeValue::S(token));
            let put = step(
                StepKind::History,
                Action::Put(item),
                Some(Condition::absent()),
            );
            match self.write_fix(vec![as_read(id, Some(version)), put]).await {
                Ok(()) => return Ok(Some(outcome)),
                Err(StoreError::VersionConflict) => {}
                Err(e) => return Err(e),
            }
        }
        Err(kept_changing())
    }

    /// Company `id`, if it is absent while its entry `version` is within retention, records
    /// no delete, and is its newest.
    async fn confirm_missing(
        &self,
        id: Uuid,
        version: u64,
        now: i64,
    ) -> Result<Option<Outcome>, StoreError> {
        let keys = vec![
            company_key(id),
            history_key(id, version),
            history_key(id, version.saturating_add(1)),
        ];
        let mut read = self.read_together(keys).await?.into_iter();
        let company = read.next().flatten();
        let entry = live(read.next().flatten(), now)?;
        let next = live(read.next().flatten(), now)?;
        let missing = company.is_none()
            && next.is_none()
            && entry.is_some_and(|e| e.operation != ChangeKind::Delete);
        Ok(missing.then_some(Outcome::Missing(CompanyVersion {
            company: id,
            version,
        })))
    }

    /// Company `id`, if it exists at a version before its entry `entry`, within retention.
    async fn confirm_ahead(
        &self,
        id: Uuid,
        entry: u64,
        now: i64,
    ) -> Result<Option<Outcome>, StoreError> {
        let keys = vec![company_key(id), history_key(id, entry)];
        let mut read = self.read_together(keys).await?.into_iter();
        let company = read.next().flatten().map(from_item).transpose()?;
        let recorded = live(read.next().flatten(), now)?.is_some();
        Ok(company.filter(|c| c.version < entry && recorded).map(|c| {
            Outcome::Ahead(HistoryAhead {
                company: id,
                version: c.version,
                entry,
            })
        }))
    }
}

/// The entry a history item holds, if any and within retention.
fn live(item: Option<Item>, now: i64) -> Result<Option<HistoryEntry>, StoreError> {
    item.map_or(Ok(None), |item| history_entry(&item, now))
}

/// When the retention of an entry made at `at` ends.
fn kept_until(at: OffsetDateTime) -> i64 {
    let probe = repair_audit(ChangeKind::Replace, "").entry(0, at, Value::Null, None);
    history_expires_at(&probe)
}

fn repair_audit(operation: ChangeKind, run: &str) -> Audit {
    Audit {
        operation,
        actor: REPAIR_ACTOR.into(),
        request_id: run.into(),
        lambda_request_id: None,
    }
}

/// The entry of `company`'s current version, rebuilt after `previous` (the entry before it,
/// if still kept); `legacy`: the row the company was imported from and the version that
/// import wrote.
fn rebuilt(
    company: &Company,
    previous: Option<&HistoryEntry>,
    legacy: Option<Imported>,
    run: &str,
) -> HistoryEntry {
    let (operation, legacy_id) = match legacy {
        Some((row, version)) if version == company.version => (ChangeKind::Import, Some(row)),
        _ if company.version == 1 => (ChangeKind::Create, None),
        _ => (ChangeKind::Replace, None),
    };
    let state = representation(company);
    let changes = match previous.and_then(|p| p.snapshot.as_ref()) {
        Some(Value::Object(before)) => merge_diff(before, &state),
        _ => state,
    };
    let audit = repair_audit(operation, run);
    let mut entry = audit.entry(
        company.version,
        company.updated,
        Value::Object(changes),
        Some(company),
    );
    entry.legacy_id = legacy_id;
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{renamed, sample_company, test_audit};

    #[test]
    fn a_rebuilt_entry_is_the_one_the_change_would_have_written() {
        let first = sample_company("Padaria Aurora");
        let second = renamed(&first, "Padaria Aurora Nova");
        let audit = test_audit(ChangeKind::Update);
        let before = audit.created(&first);
        let entry = rebuilt(&second, Some(&before), None, "run-1");
        let wanted = audit.changed(&first, &second);
        assert_eq!(entry.changes, wanted.changes);
        assert_eq!(entry.snapshot, wanted.snapshot);
        assert_eq!((entry.version, entry.at), (2, second.updated));
        assert_eq!(
            (entry.operation, entry.actor.as_str()),
            (ChangeKind::Replace, REPAIR_ACTOR)
        );
        assert_eq!(entry.request_id, "run-1");
        // With the entry before it gone, the whole company.
        let alone = rebuilt(&second, None, None, "run-1");
        assert_eq!(alone.changes, Value::Object(representation(&second)));
        // A first version: a create, or the import its legacy marker records.
        let created = rebuilt(&first, None, None, "run-1");
        assert_eq!(created.operation, ChangeKind::Create);
        assert_eq!(created.changes, audit.created(&first).changes);
        let imported = rebuilt(&first, None, Some((42, 1)), "run-1");
        assert_eq!(
            (imported.operation, imported.legacy_id),
            (ChangeKind::Import, Some(42))
        );
        let later = rebuilt(&second, Some(&before), Some((42, 1)), "run-1");
        assert_eq!(
            (later.operation, later.legacy_id),
            (ChangeKind::Replace, None)
        );
    }
}
