//! The in-memory store: same semantics as DynamoDB (including the all-or-nothing writes of a
//! company, its CNPJ marker and an idempotency record), for the local API and tests.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use super::{
    first_page, unix_now, CompanyCreator, CompanyDeleter, CompanyImporter, CompanyLister,
    CompanyReader, CompanyUpdater, HistoryPage, HistoryReader, IdempotencyReader,
    IdempotencyRecord, LegacyImport, MarkerPage, Page, StoreError,
};
use companies::search::{self, NameQuery};
use companies::{Cnpj, Company, HistoryEntry};

#[derive(Debug, Default)]
struct Tables {
    /// Companies keyed by their time-ordered id.
    companies: BTreeMap<Uuid, Company>,
    /// CNPJ → the company holding it.
    tax_ids: HashMap<String, Uuid>,
    idempotency: HashMap<String, IdempotencyRecord>,
    /// Legacy row id → what its marker records (the company imported from it first).
    legacy_ids: BTreeMap<i64, LegacyImport>,
    /// History entries by company and version.
    history: BTreeMap<(Uuid, u64), HistoryEntry>,
}

impl Tables {
    /// Checks that `current` is still the stored version of its company.
    fn check_version(&self, current: &Company) -> Result<(), StoreError> {
        match self.companies.get(&current.id) {
            None => Err(StoreError::NotFound),
            Some(stored) if stored.version != current.version => Err(StoreError::VersionConflict),
            Some(_) => Ok(()),
        }
    }

    /// Checks that `record` may be written (no live record under its key).
    fn check_idempotency(&self, record: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
        match record.and_then(|r| self.idempotency.get(&r.key)) {
            Some(existing) if existing.is_live(unix_now()) => Err(StoreError::IdempotencyKeyTaken),
            _ => Ok(()),
        }
    }

    /// Checks that `company` may hold its CNPJ.
    fn check_tax_id(&self, company: &Company) -> Result<(), StoreError> {
        match company
            .tax_id
            .as_ref()
            .and_then(|t| self.tax_ids.get(t.as_str()))
        {
            Some(holder) if *holder != company.id => Err(StoreError::TaxIdTaken(Some(*holder))),
            _ => Ok(()),
        }
    }

    /// Checks that no entry holds the version `entry` records.
    fn check_history(&self, id: Uuid, entry: Option<&HistoryEntry>) -> Result<(), StoreError> {
        match entry {
            Some(e) if self.history.contains_key(&(id, e.version)) => {
                Err(StoreError::VersionConflict)
            }
            _ => Ok(()),
        }
    }

    fn write_history(&mut self, id: Uuid, entry: Option<&HistoryEntry>) {
        if let Some(e) = entry {
            self.history.insert((id, e.version), e.clone());
        }
    }

    /// Replaces `current` by `next` (checked already), moving its CNPJ marker.
    fn replace(&mut self, current: &Company, next: &Company, history: Option<&HistoryEntry>) {
        self.write_history(next.id, history);
        if current.tax_id != next.tax_id {
            if let Some(old) = &current.tax_id {
                self.tax_ids.remove(old.as_str());
            }
            if let Some(new) = &next.tax_id {
                self.tax_ids.insert(new.as_str().to_owned(), next.id);
            }
        }
        self.companies.insert(next.id, next.clone());
    }

    fn write_idempotency(&mut self, record: Option<&IdempotencyRecord>) {
        if let Some(r) = record {
            self.idempotency.insert(r.key.clone(), r.clone());
        }
    }
}

/// Shared state; cheap to clone. One lock makes every multi-item write atomic.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Internal("memory store lock poisoned".into()))
    }

    /// Every company, for consistency checks in tests.
    #[cfg(feature = "test-support")]
    pub fn companies(&self) -> Result<Vec<Company>, StoreError> {
        Ok(self.lock()?.companies.values().cloned().collect())
    }

    /// Every CNPJ marker as (CNPJ, company id), for consistency checks in tests.
    #[cfg(feature = "test-support")]
    pub fn tax_id_markers(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        Ok(self
            .lock()?
            .tax_ids
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect())
    }
}

impl CompanyReader for MemoryStore {
    async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
        Ok(self.lock()?.companies.get(&id).cloned())
    }
}

impl CompanyLister for MemoryStore {
    async fn list(&self, limit: usize, after: Option<Uuid>) -> Result<Page, StoreError> {
        let tables = self.lock()?;
        let iter: Box<dyn Iterator<Item = &Company>> = match after {
            Some(after) => Box::new(tables.companies.range(..after).rev().map(|(_, c)| c)),
            None => Box::new(tables.companies.values().rev()),
        };
        let items = iter.take(limit.saturating_add(1)).cloned().collect();
        let (items, next_after) = first_page(items, limit, |c: &Company| c.id);
        Ok(Page { items, next_after })
    }

    async fn by_name(
        &self,
        query: &NameQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<String>, StoreError> {
        let tables = self.lock()?;
        let mut found: Vec<(String, &Company)> = tables
            .companies
            .values()
            .filter_map(|c| {
                let key = search::name_key(&c.company_name);
                query
                    .accepts(&key)
                    .then(|| (search::position(&key, c.id), c))
            })
            .filter(|(position, _)| after.is_none_or(|a| position.as_str() > a))
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        found.truncate(limit.saturating_add(1));
        let (page, next_after) = first_page(found, limit, |(position, _)| position.clone());
        Ok(Page {
            items: page.into_iter().map(|(_, c)| c.clone()).collect(),
            next_after,
        })
    }

    async fn find_by_legacy_id(&self, legacy_id: i64) -> Result<Option<Uuid>, StoreError> {
        Ok(self.lock()?.legacy_ids.get(&legacy_id).map(|m| m.company))
    }

    async fn find_by_tax_id(&self, cnpj: &Cnpj) -> Result<Option<Uuid>, StoreError> {
        Ok(self.lock()?.tax_ids.get(cnpj.as_str()).copied())
    }
}

impl CompanyCreator for MemoryStore {
    async fn create(
        &self,
        company: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        // A taken key first: the request that holds it caused any other conflict.
        t.check_idempotency(idempotency)?;
        if t.companies.contains_key(&company.id) {
            return Err(StoreError::AlreadyExists);
        }
        t.check_tax_id(company)?;
        t.write_history(company.id, history);
        if let Some(cnpj) = &company.tax_id {
            t.tax_ids.insert(cnpj.as_str().to_owned(), company.id);
        }
        t.companies.insert(company.id, company.clone());
        t.write_idempotency(idempotency);
        Ok(())
    }
}

impl CompanyImporter for MemoryStore {
    /// The legacy row id a page continues after.
    type MarkerPosition = i64;

    async fn legacy_imports(&self, from: Option<i64>) -> Result<MarkerPage<i64>, StoreError> {
        const PAGE: usize = 100;
        let lower = from.map_or(Bound::Unbounded, Bound::Excluded);
        let markers: Vec<(i64, LegacyImport)> = self
            .lock()?
            .legacy_ids
            .range((lower, Bound::Unbounded))
            .take(PAGE + 1)
            .map(|(id, marker)| (*id, marker.clone()))
            .collect();
        Ok(first_page(markers, PAGE, |(id, _)| *id))
    }

    async fn import(
        &self,
        company: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        if t.legacy_ids.contains_key(&legacy_id) || t.companies.contains_key(&company.id) {
            return Err(StoreError::AlreadyExists);
        }
        t.check_tax_id(company)?;
        t.check_history(company.id, Some(history))?;
        t.write_history(company.id, Some(history));
        if let Some(cnpj) = &company.tax_id {
            t.tax_ids.insert(cnpj.as_str().to_owned(), company.id);
        }
        t.legacy_ids.insert(
            legacy_id,
            LegacyImport {
                company: company.id,
                version: company.version,
                source: Some(source.to_owned()),
            },
        );
        t.companies.insert(company.id, company.clone());
        Ok(())
    }

    async fn legacy_import(&self, legacy_id: i64) -> Result<Option<LegacyImport>, StoreError> {
        Ok(self.lock()?.legacy_ids.get(&legacy_id).cloned())
    }

    async fn reimport(
        &self,
        current: &Company,
        next: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        t.check_version(current)?;
        t.check_tax_id(next)?;
        t.check_history(next.id, Some(history))?;
        t.replace(current, next, Some(history));
        t.legacy_ids.insert(
            legacy_id,
            LegacyImport {
                company: next.id,
                version: next.version,
                source: Some(source.to_owned()),
            },
        );
        Ok(())
    }
}

impl CompanyUpdater for MemoryStore {
    async fn replace(
        &self,
        current: &Company,
        next: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        t.check_idempotency(idempotency)?;
        t.check_version(current)?;
        t.check_tax_id(next)?;
        t.check_history(next.id, history)?;
        t.replace(current, next, history);
        t.write_idempotency(idempotency);
        Ok(())
    }
}

impl CompanyDeleter for MemoryStore {
    async fn delete(
        &self,
        current: &Company,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let mut t = self.lock()?;
        t.check_version(current)?;
        t.check_history(current.id, history)?;
        t.write_history(current.id, history);
        t.companies.remove(&current.id);
        if let Some(cnpj) = &current.tax_id {
            if t.tax_ids.get(cnpj.as_str()) == Some(&current.id) {
                t.tax_ids.remove(cnpj.as_str());
            }
        }
        Ok(())
    }
}

impl HistoryReader for MemoryStore {
    async fn history(
        &self,
        id: Uuid,
        limit: usize,
        before: Option<u64>,
    ) -> Result<HistoryPage, StoreError> {
        let tables = self.lock()?;
        let upper = before.unwrap_or(u64::MAX);
        let now = unix_now();
        let items = tables
            .history
            .range((id, 0)..(id, upper))
            .rev()
            .filter(|(_, e)| super::history_expires_at(e) > now)
            .map(|(_, e)| e.clone())
            .take(limit.saturating_add(1))
            .collect();
        let (items, next_before) = first_page(items, limit, |e: &HistoryEntry| e.version);
        Ok(HistoryPage { items, next_before })
    }
}

impl IdempotencyReader for MemoryStore {
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .lock()?
            .idempotency
            .get(key)
            .filter(|r| r.is_live(unix_now()))
            .cloned())
    }
}
