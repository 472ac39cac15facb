//! The in-memory store: same semantics as DynamoDB, for the local API and tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use super::{
    CompanyCreator, CompanyDeleter, CompanyLister, CompanyReader, CompanyUpdater, Page, StoreError,
};
use crate::model::Company;

/// Companies keyed by their time-ordered id; cheap to clone (shared state).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    companies: Arc<Mutex<BTreeMap<Uuid, Company>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, BTreeMap<Uuid, Company>>, StoreError> {
        self.companies
            .lock()
            .map_err(|_| StoreError::Internal("memory store lock poisoned".into()))
    }
}

impl CompanyReader for MemoryStore {
    async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
        Ok(self.lock()?.get(&id).cloned())
    }
}

impl CompanyLister for MemoryStore {
    async fn list(&self, limit: usize, after: Option<Uuid>) -> Result<Page, StoreError> {
        let map = self.lock()?;
        let mut iter: Box<dyn Iterator<Item = &Company>> = match after {
            Some(after) => Box::new(map.range(..after).rev().map(|(_, c)| c)),
            None => Box::new(map.values().rev()),
        };
        let items: Vec<Company> = iter.by_ref().take(limit).cloned().collect();
        let next_after = match iter.next() {
            Some(_) => items.last().map(|c| c.id),
            None => None,
        };
        Ok(Page { items, next_after })
    }
}

impl CompanyCreator for MemoryStore {
    async fn create(&self, company: &Company) -> Result<(), StoreError> {
        let mut map = self.lock()?;
        if map.contains_key(&company.id) {
            return Err(StoreError::AlreadyExists);
        }
        map.insert(company.id, company.clone());
        Ok(())
    }
}

impl CompanyUpdater for MemoryStore {
    async fn replace(&self, company: &Company, expected_version: u64) -> Result<(), StoreError> {
        let mut map = self.lock()?;
        match map.get_mut(&company.id) {
            None => Err(StoreError::NotFound),
            Some(stored) if stored.version != expected_version => Err(StoreError::VersionConflict),
            Some(stored) => {
                *stored = company.clone();
                Ok(())
            }
        }
    }
}

impl CompanyDeleter for MemoryStore {
    async fn delete(&self, id: Uuid, expected_version: Option<u64>) -> Result<(), StoreError> {
        let mut map = self.lock()?;
        match map.get(&id) {
            None => Err(StoreError::NotFound),
            Some(stored) if expected_version.is_some_and(|v| v != stored.version) => {
                Err(StoreError::VersionConflict)
            }
            Some(_) => {
                map.remove(&id);
                Ok(())
            }
        }
    }
}
