//! Storage ports, one trait per capability, so each Lambda's handle offers only what its IAM
//! policy grants. Two adapters implement them with identical behaviour: [`dynamo::DynamoStore`]
//! and [`memory::MemoryStore`]; one contract suite (`shared/tests/store_contract.rs`) runs on both.

pub mod dynamo;
pub mod memory;

use std::future::Future;

use uuid::Uuid;

use crate::model::Company;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

/// Why a store operation did not happen. Nothing was written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("company not found")]
    NotFound,
    /// The stored version is not the one the write was conditioned on.
    #[error("version conflict")]
    VersionConflict,
    #[error("company already exists")]
    AlreadyExists,
    /// The database is unreachable, throttling or timing out: the client may retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; details are logged, never returned to clients.
    #[error("store failure: {0}")]
    Internal(String),
}

/// One page of companies, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Company>,
    /// Set when more companies follow: the id to continue after.
    pub next_after: Option<Uuid>,
}

pub trait CompanyReader: Send + Sync {
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<Company>, StoreError>> + Send;
}

pub trait CompanyLister: Send + Sync {
    /// Up to `limit` companies, newest first, starting after the company `after` (exclusive).
    fn list(
        &self,
        limit: usize,
        after: Option<Uuid>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

pub trait CompanyCreator: Send + Sync {
    /// Writes a new company; [`StoreError::AlreadyExists`] if its id is taken.
    fn create(&self, company: &Company) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait CompanyUpdater: Send + Sync {
    /// Replaces a company only if its stored version is still `expected_version`
    /// ([`StoreError::VersionConflict`] otherwise, [`StoreError::NotFound`] if it is gone).
    fn replace(
        &self,
        company: &Company,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait CompanyDeleter: Send + Sync {
    /// Deletes a company, only at `expected_version` when one is given.
    fn delete(
        &self,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Every capability: what the local API, serving all routes at once, needs.
pub trait Store:
    CompanyReader + CompanyLister + CompanyCreator + CompanyUpdater + CompanyDeleter
{
}
impl<T: CompanyReader + CompanyLister + CompanyCreator + CompanyUpdater + CompanyDeleter> Store
    for T
{
}
