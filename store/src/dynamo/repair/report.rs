//! What a repair reports: per kind of derived item, what it set right (or would, in a dry run),
//! what it left for a person to decide, and what it could not finish. CNPJs appear masked, as
//! in every log: the company's id finds the rest.

use serde::Serialize;
use uuid::Uuid;

use super::super::reindex::ReindexReport;

/// What a repair found and did.
#[derive(Debug, Default, Serialize)]
pub struct RepairReport {
    pub dry_run: bool,
    /// The run's id: the `request_id` of the history entries it writes.
    pub run: String,
    pub items_scanned: u64,
    pub companies: u64,
    /// Items whose key names a kind but whose content cannot be read as one (a company item
    /// that is not a valid company, a history entry that is not JSON): counted, left alone.
    pub unreadable_items: u64,
    /// How many items of each kind were set right (or would be, in a dry run).
    pub fixed: Fixed,
    /// How many disagreements need a person (conflicts, a company whose history outlives it
    /// without a delete, history ahead of its company): listed under their kinds.
    pub unresolved: u64,
    pub name_index: ReindexReport,
    pub tax_id_markers: TaxIdMarkers,
    pub legacy_markers: LegacyMarkers,
    pub history: HistoryEntries,
    /// What could not be finished (the API changed it throughout, DynamoDB failed): run again.
    pub failed: Vec<Failure>,
}

impl RepairReport {
    /// Fills in [`RepairReport::fixed`] and [`RepairReport::unresolved`] from the lists.
    pub(super) fn tally(&mut self) {
        self.fixed = Fixed {
            name_index: self.name_index.companies_repaired,
            tax_id_markers: count(self.tax_id_markers.deleted.len())
                + count(self.tax_id_markers.written.len()),
            legacy_markers: count(self.legacy_markers.deleted.len()),
            history: count(self.history.written.len()),
        };
        self.unresolved = count(self.tax_id_markers.conflicts.len())
            + count(self.history.companies_missing.len())
            + count(self.history.ahead.len());
    }

    /// Whether everything found was set right: nothing failed, nothing is left to a person.
    pub fn complete(&self) -> bool {
        self.failed.is_empty() && self.name_index.failed.is_empty() && self.unresolved == 0
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Items set right, by kind (for the name index: companies whose entries were).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fixed {
    pub name_index: u64,
    pub tax_id_markers: u64,
    pub legacy_markers: u64,
    pub history: u64,
}

impl Fixed {
    pub fn total(&self) -> u64 {
        self.name_index + self.tax_id_markers + self.legacy_markers + self.history
    }
}

/// CNPJ markers (`TAXID#<cnpj>`).
#[derive(Debug, Default, Serialize)]
pub struct TaxIdMarkers {
    pub markers: u64,
    /// Markers deleted: no company holds their CNPJ any more.
    pub deleted: Vec<MarkerDeleted>,
    /// Markers written for the one company that holds their CNPJ.
    pub written: Vec<MarkerWritten>,
    /// CNPJs held by more than one company: nothing written, a person decides.
    pub conflicts: Vec<TaxIdConflict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarkerDeleted {
    pub cnpj: String,
    /// The company the marker named (absent when it named none that can be read).
    pub held_by: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarkerWritten {
    pub cnpj: String,
    pub company: Uuid,
    /// The company a stale marker named before, which no longer holds the CNPJ.
    pub replaced: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaxIdConflict {
    pub cnpj: String,
    /// The company the marker names, if any.
    pub marker: Option<Uuid>,
    /// Every company whose item holds the CNPJ.
    pub holders: Vec<Uuid>,
}

/// Markers of rows imported from the Flask service's database (`LEGACY#<id>`).
#[derive(Debug, Default, Serialize)]
pub struct LegacyMarkers {
    pub markers: u64,
    /// Markers of an import that did not land whole: deleted, so the next import brings the
    /// row in.
    pub deleted: Vec<LegacyMarker>,
    /// Markers of companies deleted since their import (the delete is in their history):
    /// kept, so no import brings them back.
    pub of_deleted_companies: u64,
    /// Markers whose company is absent and left no record at all: what a company deleted
    /// longer ago than the history retention leaves. Kept; listed for a person to look at
    /// after a restore.
    pub without_record: Vec<LegacyMarker>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegacyMarker {
    pub legacy_id: i64,
    pub company: Uuid,
}

/// History entries (`COMPANY#<id>`, `HISTORY#<version>`) against their companies.
#[derive(Debug, Default, Serialize)]
pub struct HistoryEntries {
    /// Entries within their retention.
    pub entries: u64,
    /// The entry of a company's current version, written from the company.
    pub written: Vec<CompanyVersion>,
    /// Companies absent although their newest entry is not a delete: a person decides whether
    /// the company comes back (the entry holds it) or its delete is recorded.
    pub companies_missing: Vec<CompanyVersion>,
    /// Companies whose history holds a version after theirs: the API cannot write their next
    /// version until a person decides which side stands.
    pub ahead: Vec<HistoryAhead>,
}

/// A company and a version of it.
#[derive(Debug, Clone, Serialize)]
pub struct CompanyVersion {
    pub company: Uuid,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryAhead {
    pub company: Uuid,
    /// The company's version.
    pub version: u64,
    /// The newest version its history records.
    pub entry: u64,
}

/// What a repair could not finish.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub kind: Kind,
    /// The masked CNPJ, the legacy row id or the company id.
    pub subject: String,
    pub error: String,
}

/// A kind of derived item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    TaxIdMarkers,
    LegacyMarkers,
    History,
}
