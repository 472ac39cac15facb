//! The migration port: what `companies-import` needs of a store to move the Flask service's
//! rows in and keep them in step (a marker per imported row, re-imports, carried deletions).
//! Only the importer uses it; no function's store handle offers it.

use std::future::Future;

use uuid::Uuid;

use super::{CompanyReader, StoreError};
use companies::{Company, HistoryEntry};

/// What the marker of a Flask service row records of the row's last import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyImport {
    /// The company the row was imported as.
    pub company: Uuid,
    /// The company's version that import wrote: while the company is at it, nothing but the
    /// import has changed it.
    pub version: u64,
    /// The digest of the row as that import read it (absent on markers written before the
    /// import recorded it).
    pub source: Option<String>,
}

/// A page of legacy markers: (legacy row id, what its marker records), and where the next page
/// starts.
pub type MarkerPage<P> = (Vec<(i64, LegacyImport)>, Option<P>);

pub trait CompanyImporter: CompanyReader {
    /// Where a walk of the legacy markers continues.
    type MarkerPosition: Clone + Send + Sync;

    /// Writes a company imported from the legacy row `legacy_id` (read as `source`, its
    /// digest), the marker of that row, its name index entries and its first history entry
    /// together. [`StoreError::AlreadyExists`] when the row (or the company's id) was imported
    /// already.
    fn import(
        &self,
        company: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What the marker of the legacy row `legacy_id` records, if the row was imported.
    fn legacy_import(
        &self,
        legacy_id: i64,
    ) -> impl Future<Output = Result<Option<LegacyImport>, StoreError>> + Send;

    /// A page of the markers of imported legacy rows, in no particular order, from `from` (the
    /// first page when `None`), and where the next page starts (`None` after the last). A
    /// page may be empty and still be followed by another.
    fn legacy_imports(
        &self,
        from: Option<Self::MarkerPosition>,
    ) -> impl Future<Output = Result<MarkerPage<Self::MarkerPosition>, StoreError>> + Send;

    /// Carries a change of the legacy row `legacy_id` (now read as `source`) over to the
    /// company imported from it: replaces `current` by `next` only if the stored version is
    /// still `current.version` ([`StoreError::VersionConflict`] otherwise,
    /// [`StoreError::NotFound`] if it is gone), with the version's history entry, its name
    /// index and the row's marker (now recording `next.version` and `source`), all in one
    /// transaction.
    fn reimport(
        &self,
        current: &Company,
        next: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
