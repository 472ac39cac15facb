//! Storage ports, one trait per capability, so each Lambda's handle offers only what its IAM
//! policy grants. Two adapters implement them with identical behaviour: [`dynamo::DynamoStore`]
//! and [`memory::MemoryStore`]; one contract suite (`store/tests/store/`) runs on both.
//!
//! Every write is all-or-nothing: a company, the marker that reserves its CNPJ, the history
//! entry of the version and the idempotency record of the request that wrote it are written in
//! one transaction.

mod backoff;
pub mod dynamo;
pub mod memory;
pub mod migration;
#[cfg(feature = "test-support")]
pub mod testing;

use std::future::Future;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use companies::search::NameQuery;
use companies::{Cnpj, Company, HistoryEntry};

pub use backoff::Backoff;
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;
pub use migration::{CompanyImporter, LegacyImport, MarkerPage};

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
    /// Another company holds this CNPJ (its id, when the store could tell).
    #[error("tax id already registered")]
    TaxIdTaken(Option<Uuid>),
    /// A live idempotency record with this key already exists.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    /// The database is unreachable, throttling or timing out: the client may retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; details are logged, never returned to clients.
    #[error("store failure: {0}")]
    Internal(String),
}

/// A JSON answer as it was sent, kept to be replayed (see `http::idempotency`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub body: String,
}

/// The stored outcome of a request made with an `Idempotency-Key`, replayed on a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The key scoped to the caller (a digest of subject and key; see `http::idempotency`).
    pub key: String,
    /// Digest of the request (method, path, body) the key was first used with.
    pub fingerprint: String,
    pub answer: StoredAnswer,
    /// Unix time (seconds) after which the record is void; the table's TTL deletes it.
    pub expires_at: i64,
}

impl IdempotencyRecord {
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// One page of companies: newest first (continued after an id), or by name (continued after a
/// position, see `model::search`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<K = Uuid> {
    pub items: Vec<Company>,
    /// Set when more companies may follow: where to continue after. A page by name may hold
    /// fewer than asked for and still be followed by another (see [`CompanyLister::by_name`]).
    pub next_after: Option<K>,
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

    /// Up to `limit` companies in the order of their folded name, then id, that `query`
    /// accepts, starting after the position `after` (exclusive). A store may stop early, after
    /// reading a bounded number of index entries, and return a shorter page whose
    /// `next_after` continues the reading.
    fn by_name(
        &self,
        query: &NameQuery,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<String>, StoreError>> + Send;

    /// The id of the company imported from the Flask service's row `legacy_id`, through its
    /// marker (it may have been deleted since).
    fn find_by_legacy_id(
        &self,
        legacy_id: i64,
    ) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;

    /// The id of the company holding `cnpj`, through its marker.
    fn find_by_tax_id(
        &self,
        cnpj: &Cnpj,
    ) -> impl Future<Output = Result<Option<Uuid>, StoreError>> + Send;
}

pub trait CompanyCreator: Send + Sync {
    /// Writes a new company, its CNPJ marker, its first history entry and the request's
    /// idempotency record together. [`StoreError::AlreadyExists`], [`StoreError::TaxIdTaken`]
    /// or [`StoreError::IdempotencyKeyTaken`] when one of them is taken.
    fn create(
        &self,
        company: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait CompanyUpdater: Send + Sync {
    /// Replaces `current` by `next` only if the stored version is still `current.version`
    /// ([`StoreError::VersionConflict`] otherwise, [`StoreError::NotFound`] if it is gone),
    /// moving or removing the CNPJ marker when the tax id changes, and writing the version's
    /// history entry and the request's idempotency record, all in one transaction.
    fn replace(
        &self,
        current: &Company,
        next: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

pub trait CompanyDeleter: Send + Sync {
    /// Deletes `current` and its CNPJ marker, only at `current.version`, writing the delete's
    /// history entry with them.
    fn delete(
        &self,
        current: &Company,
        history: Option<&HistoryEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One page of a company's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub items: Vec<HistoryEntry>,
    /// Set when older entries follow: the version to continue below.
    pub next_before: Option<u64>,
}

pub trait HistoryReader: Send + Sync {
    /// Up to `limit` entries of company `id` (deleted or not), newest first, below version
    /// `before` (exclusive) if given. Entries past their retention are absent.
    fn history(
        &self,
        id: Uuid,
        limit: usize,
        before: Option<u64>,
    ) -> impl Future<Output = Result<HistoryPage, StoreError>> + Send;
}

pub trait IdempotencyReader: Send + Sync {
    /// The live record stored under `key` (expired ones count as absent).
    fn idempotency_record(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<IdempotencyRecord>, StoreError>> + Send;
}

/// Every capability: what the local API, serving all routes at once, needs.
pub trait Store:
    CompanyReader
    + CompanyLister
    + CompanyCreator
    + CompanyUpdater
    + CompanyDeleter
    + IdempotencyReader
    + HistoryReader
{
}
impl<T> Store for T where
    T: CompanyReader
        + CompanyLister
        + CompanyCreator
        + CompanyUpdater
        + CompanyDeleter
        + IdempotencyReader
        + HistoryReader
{
}

/// The first `limit` of `items`, read with one more than a page so that it tells whether
/// another page follows, and then the key of the last one returned, to continue after it.
pub(crate) fn first_page<T, K>(
    mut items: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<K>) {
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(key) } else { None };
    (items, next)
}

/// Current Unix time in seconds.
/// Days a history entry is kept: what [`set_history_retention_days`] set, else
/// `HISTORY_RETENTION_DAYS` (the stack sets the stage's), else five years, the Brazilian
/// limitation period for tax records. The table's TTL removes an entry then.
static HISTORY_RETENTION_DAYS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

fn history_retention_days() -> i64 {
    *HISTORY_RETENTION_DAYS.get_or_init(|| {
        std::env::var("HISTORY_RETENTION_DAYS")
            .ok()
            .and_then(|d| d.parse().ok())
            .filter(|d| *d > 0)
            .unwrap_or(1827)
    })
}

/// Sets the retention of every history entry this process writes, before the first one
/// (a tool that writes to a stage's table takes the stage's setting). False if already set.
pub fn set_history_retention_days(days: u32) -> bool {
    HISTORY_RETENTION_DAYS.set(i64::from(days)).is_ok()
}

/// When `entry`'s retention ends (Unix seconds): its time plus the retention. Both stores treat
/// an entry past it as gone.
pub fn history_expires_at(entry: &HistoryEntry) -> i64 {
    entry.at.unix_timestamp() + history_retention_days() * 24 * 60 * 60
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
