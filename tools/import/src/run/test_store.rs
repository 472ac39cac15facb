//! What the unit tests of the run write with: an in-memory store that fails and races as
//! DynamoDB can, and rows to write into it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use companies::{Audit, ChangeKind, Company, HistoryEntry};
use companies_store::{
    CompanyImporter, CompanyReader, CompanyUpdater, LegacyImport, MarkerPage, MemoryStore,
    StoreError,
};
use time::macros::datetime;
use uuid::Uuid;

use crate::legacy::{map_company, LegacyCompany, MappedCompany, MissingCreated};

/// The in-memory store, whose walk of the legacy markers fails once at every position, as
/// a Scan throttled past the SDK's retries does (it records the positions asked for), and
/// which can make a change through the API land just before a re-import's write.
#[derive(Default)]
pub(super) struct FlakyStore {
    inner: MemoryStore,
    failed: Mutex<BTreeSet<Option<i64>>>,
    pub(super) asked: Mutex<Vec<Option<i64>>>,
    /// The version an API write makes of the company before the next re-import's write.
    pub(super) racing: Mutex<Option<Company>>,
}

impl CompanyReader for FlakyStore {
    async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
        self.inner.get(id).await
    }
}

impl CompanyImporter for FlakyStore {
    type MarkerPosition = i64;

    async fn legacy_imports(&self, from: Option<i64>) -> Result<MarkerPage<i64>, StoreError> {
        self.asked.lock().unwrap().push(from);
        if self.failed.lock().unwrap().insert(from) {
            return Err(StoreError::Unavailable("throttled".into()));
        }
        self.inner.legacy_imports(from).await
    }

    async fn import(
        &self,
        company: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> Result<(), StoreError> {
        self.inner.import(company, legacy_id, source, history).await
    }

    async fn legacy_import(&self, legacy_id: i64) -> Result<Option<LegacyImport>, StoreError> {
        self.inner.legacy_import(legacy_id).await
    }

    async fn reimport(
        &self,
        current: &Company,
        next: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let racing = self.racing.lock().unwrap().take();
        if let Some(api) = racing {
            self.inner.replace(current, &api, None, None).await?;
        }
        self.inner
            .reimport(current, next, legacy_id, source, history)
            .await
    }
}

pub(super) fn audit() -> Audit {
    Audit {
        operation: ChangeKind::Import,
        actor: "test".into(),
        request_id: "run".into(),
        lambda_request_id: None,
    }
}

pub(super) fn row(id: i32) -> LegacyCompany {
    LegacyCompany {
        id,
        company_name: format!("Padaria {id}"),
        phone: "11954879564".into(),
        created: Some(datetime!(2019-03-04 10:11:12)),
        declared_billing: "10.00".into(),
        accounts: Vec::new(),
    }
}

pub(super) fn mapped(row: &LegacyCompany) -> MappedCompany {
    let now = datetime!(2026-11-27 12:00 UTC);
    map_company(row, MissingCreated::Refuse, now)
        .company
        .unwrap()
}
