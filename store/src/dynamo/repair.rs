//! Making everything derived agree with the companies (`companies-reindex --repair`), after a
//! restore or whenever a table is in doubt.
//!
//! Every change of the API is one transaction, but a restored table (point-in-time recovery,
//! an AWS Backup recovery point) can hold part of a transaction that was in flight, so the
//! items derived from a company can disagree with it. The companies are the truth; a repair
//! sets right, kind by kind:
//!
//! - legacy markers (`legacy`): a marker left by an import that did not land whole is deleted;
//!   a marker of a company deleted since its import is kept;
//! - CNPJ markers (`tax_ids`): a marker no company holds is deleted, a company holding a CNPJ
//!   gets its marker, a CNPJ held twice is a conflict for a person;
//! - history (`history`): the entry of a company's current version is written from the
//!   company; entries of deleted companies stay; a company whose history outlives it without
//!   a delete, or runs ahead of it, is reported;
//! - the name index: what a reindex does (see `reindex`).
//!
//! One pass reads the whole table (a parallel Scan, `facts`); each disagreement is then read
//! again, strongly consistent, and set right in a transaction that also checks every company
//! it depends on is still at the version read (or still absent): a change the API makes
//! meanwhile cancels the fix, which is read and decided again. So a repair is safe while the
//! API serves, a run that stops half-way leaves the table no worse, and a second run finds
//! nothing left to fix. A dry run reads and decides the same way and writes nothing.
//!
//! What a repair cannot decide (a CNPJ held by two companies; a company whose history says it
//! exists while its item is gone; a company behind its own history) it reports and leaves.

mod facts;
mod history;
mod legacy;
mod reads;
#[cfg(feature = "test-support")]
pub mod rehearsal;
mod report;
mod tax_ids;

use uuid::Uuid;

pub use history::REPAIR_ACTOR;
pub use report::{
    CompanyVersion, Failure, Fixed, HistoryAhead, HistoryEntries, Kind, LegacyMarker,
    LegacyMarkers, MarkerDeleted, MarkerWritten, RepairReport, TaxIdConflict, TaxIdMarkers,
};

use super::reindex::ReindexOptions;
use super::DynamoStore;
use crate::{unix_now, StoreError};

impl DynamoStore {
    /// Sets every derived item right against the companies, kind by kind (see the module's
    /// documentation), or with `dry_run` reports what it would set right. The history entries
    /// it writes take the retention set by [`crate::set_history_retention_days`] (the stage's).
    pub async fn repair(&self, options: ReindexOptions) -> Result<RepairReport, StoreError> {
        let run = format!("repair-{}", Uuid::new_v4().simple());
        let now = unix_now();
        let facts = self.facts(options.segments, now).await?;
        let mut report = RepairReport {
            dry_run: options.dry_run,
            run: run.clone(),
            items_scanned: facts.items,
            companies: facts.companies.len() as u64,
            unreadable_items: facts.unreadable,
            ..RepairReport::default()
        };
        // Legacy markers first: a torn import is told from a deletion by the items it left,
        // which the repairs of the other kinds remove.
        self.repair_legacy(&facts, options, &mut report).await?;
        self.repair_tax_ids(&facts, options, &mut report).await?;
        self.repair_history(&facts, options, &run, now, &mut report)
            .await?;
        report.name_index = self.reindex(options).await?;
        report.tally();
        Ok(report)
    }
}
