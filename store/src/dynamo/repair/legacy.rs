//! Legacy markers (`LEGACY#<row id>` → company) against the companies. The importer writes a
//! marker in the transaction of its company's import and keeps it when the company is deleted
//! later, so that no later import brings a deleted company back. A marker whose company is
//! absent is therefore right in most tables; what decides is the company's partition and the
//! items an import writes with it:
//!
//! - its newest history entry (within retention) records a delete: the company was deleted
//!   after its import; the marker is kept (counted);
//! - it holds history entries but no delete: the company item is what is missing; the history
//!   kind reports it (`companies_missing`), and the marker is kept;
//! - it holds no history, but name index entries or a CNPJ marker still name the company: an
//!   import that did not land whole (a delete removes those with the company). The marker is
//!   deleted, on condition that the company and its import's history entry are still absent,
//!   so that the next import brings the row in (while the marker stands, the importer takes
//!   the row for one deleted through the API and skips it for good);
//! - nothing at all names the company: exactly what a company deleted longer ago than the
//!   history retention leaves. Deleting the marker would let an import bring such a company
//!   back, so it is kept, and listed (`without_record`) for a person to look at after a
//!   restore.
//!
//! Legacy markers are repaired before the other kinds, whose repairs remove those leftovers.

use std::collections::HashSet;

use uuid::Uuid;

use super::super::items::{company_key, history_key, legacy_import, legacy_key};
use super::super::reindex::ReindexOptions;
use super::super::writes::{Action, Condition, StepKind};
use super::super::DynamoStore;
use super::facts::Facts;
use super::reads::{as_read, each, kept_changing, step, ATTEMPTS};
use super::report::{Failure, Kind, LegacyMarker, RepairReport};
use crate::{HistoryReader, LegacyImport, StoreError};

/// What to look at again about one marker whose company the scan did not see.
enum Task {
    /// Leftovers of its import name the company: delete the marker if still so.
    Delete(i64, LegacyImport),
    /// Nothing names it: confirm before listing it.
    Confirm(i64, Uuid),
}

enum Outcome {
    Deleted(LegacyMarker),
    WithoutRecord(LegacyMarker),
}

impl DynamoStore {
    /// Sets every legacy marker right (see the module's documentation) into `report`.
    pub(super) async fn repair_legacy(
        &self,
        facts: &Facts,
        options: ReindexOptions,
        report: &mut RepairReport,
    ) -> Result<(), StoreError> {
        let legacy = &mut report.legacy_markers;
        legacy.markers = facts.legacy.len() as u64;
        let holding_cnpjs: HashSet<Uuid> = facts.markers.values().flatten().copied().collect();
        let mut work = Vec::new();
        for (row, import) in &facts.legacy {
            let company = import.company;
            if facts.companies.contains_key(&company) || facts.trail(company).is_some() {
                legacy.of_deleted_companies += u64::from(facts.deleted(company));
            } else if facts.named.contains(&company) || holding_cnpjs.contains(&company) {
                work.push(Task::Delete(*row, import.clone()));
            } else {
                work.push(Task::Confirm(*row, company));
            }
        }
        let dry_run = options.dry_run;
        let outcomes = each(self, work, options.concurrency, |store, task| async move {
            match task {
                Task::Delete(row, import) => {
                    (row, store.repair_legacy_marker(row, &import, dry_run).await)
                }
                Task::Confirm(row, company) => (row, store.without_record(row, company).await),
            }
        })
        .await?;
        for (row, outcome) in outcomes {
            match outcome {
                Ok(None) => {}
                Ok(Some(Outcome::Deleted(m))) => legacy.deleted.push(m),
                Ok(Some(Outcome::WithoutRecord(m))) => legacy.without_record.push(m),
                Err(e) => report.failed.push(Failure {
                    kind: Kind::LegacyMarkers,
                    subject: row.to_string(),
                    error: e.to_string(),
                }),
            }
        }
        legacy.deleted.sort_by_key(|m| m.legacy_id);
        legacy.without_record.sort_by_key(|m| m.legacy_id);
        Ok(())
    }

    /// Deletes the marker of row `row`, imported as `import`, while its company and the
    /// import's history entry are absent and no history names the company.
    async fn repair_legacy_marker(
        &self,
        row: i64,
        import: &LegacyImport,
        dry_run: bool,
    ) -> Result<Option<Outcome>, StoreError> {
        let company = import.company;
        let entry = history_key(company, import.version);
        for _ in 0..ATTEMPTS {
            let keys = vec![legacy_key(row), company_key(company), entry.clone()];
            let mut read = self.read_together(keys).await?.into_iter();
            let marker = read
                .next()
                .flatten()
                .map(|m| legacy_import(&m))
                .transpose()?;
            let (present, recorded) = (read.next().flatten(), read.next().flatten());
            if marker.is_none_or(|m| m.company != company)
                || present.is_some()
                || recorded.is_some()
            {
                return Ok(None);
            }
            if !self.history(company, 1, None).await?.items.is_empty() {
                // History names the company after all: not a torn import.
                return Ok(None);
            }
            let outcome = Outcome::Deleted(LegacyMarker {
                legacy_id: row,
                company,
            });
            if dry_run {
                return Ok(Some(outcome));
            }
            let steps = vec![
                as_read(company, None),
                step(
                    StepKind::History,
                    Action::Check(entry.clone()),
                    Some(Condition::absent()),
                ),
                step(StepKind::LegacyId, Action::Delete(legacy_key(row)), None),
            ];
            match self.write_fix(steps).await {
                Ok(()) => return Ok(Some(outcome)),
                Err(StoreError::VersionConflict) => {}
                Err(e) => return Err(e),
            }
        }
        Err(kept_changing())
    }

    /// The marker of row `row`, if it still names `company` and nothing else does: neither
    /// the company nor any history entry of it within retention.
    async fn without_record(&self, row: i64, company: Uuid) -> Result<Option<Outcome>, StoreError> {
        let keys = vec![legacy_key(row), company_key(company)];
        let mut read = self.read_together(keys).await?.into_iter();
        let marker = read
            .next()
            .flatten()
            .map(|m| legacy_import(&m))
            .transpose()?;
        if marker.is_none_or(|m| m.company != company) || read.next().flatten().is_some() {
            return Ok(None);
        }
        let newest = self.history(company, 1, None).await?;
        Ok(newest
            .items
            .is_empty()
            .then_some(Outcome::WithoutRecord(LegacyMarker {
                legacy_id: row,
                company,
            })))
    }
}
