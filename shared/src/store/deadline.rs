//! The budget of one request: every store call it makes (and the retries inside them) must end
//! by one deadline, derived from the Lambda's own (or a fixed budget locally), so the function
//! answers 503 + Retry-After itself instead of being cut off by its timeout, which API Gateway
//! turns into a bare 500.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::{
    CompanyCreator, CompanyDeleter, CompanyLister, CompanyReader, CompanyUpdater, HistoryPage,
    HistoryReader, IdempotencyReader, IdempotencyRecord, Page, StoreError,
};
use crate::model::search::NameQuery;
use crate::model::{Cnpj, Company, HistoryEntry};

/// Kept free before the Lambda's deadline: time to answer and log after the last store call.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(1500);
/// The budget of a request on the local API (no Lambda deadline there).
pub const LOCAL_BUDGET: Duration = Duration::from_secs(8);

/// A store whose calls fail with [`StoreError::Unavailable`] once `deadline` has passed.
#[derive(Debug, Clone, Copy)]
pub struct Deadlined<'a, S> {
    inner: &'a S,
    deadline: Instant,
}

impl<'a, S> Deadlined<'a, S> {
    pub fn new(inner: &'a S, deadline: Instant) -> Self {
        Deadlined { inner, deadline }
    }

    /// The deadline of a Lambda invocation whose own deadline is `deadline_ms` (milliseconds
    /// since the Unix epoch, as the runtime gives it), less [`ANSWER_MARGIN`].
    pub fn for_lambda(inner: &'a S, deadline_ms: u64) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        Self::new(inner, Instant::now() + left.saturating_sub(ANSWER_MARGIN))
    }

    async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let spent = || StoreError::Unavailable("the request's time budget ran out".into());
        if Instant::now() >= self.deadline {
            return Err(spent());
        }
        tokio::time::timeout_at(self.deadline, call)
            .await
            .unwrap_or_else(|_| Err(spent()))
    }
}

impl<S: CompanyReader> CompanyReader for Deadlined<'_, S> {
    async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
        self.run(self.inner.get(id)).await
    }
}

impl<S: CompanyLister> CompanyLister for Deadlined<'_, S> {
    async fn list(&self, limit: usize, after: Option<Uuid>) -> Result<Page, StoreError> {
        self.run(self.inner.list(limit, after)).await
    }

    async fn by_name(
        &self,
        query: &NameQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<String>, StoreError> {
        self.run(self.inner.by_name(query, limit, after)).await
    }

    async fn find_by_legacy_id(&self, legacy_id: i64) -> Result<Option<Uuid>, StoreError> {
        self.run(self.inner.find_by_legacy_id(legacy_id)).await
    }

    async fn find_by_tax_id(&self, cnpj: &Cnpj) -> Result<Option<Uuid>, StoreError> {
        self.run(self.inner.find_by_tax_id(cnpj)).await
    }
}

impl<S: CompanyCreator> CompanyCreator for Deadlined<'_, S> {
    async fn create(
        &self,
        company: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        self.run(self.inner.create(company, idempotency, history))
            .await
    }
}

impl<S: CompanyUpdater> CompanyUpdater for Deadlined<'_, S> {
    async fn replace(
        &self,
        current: &Company,
        next: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        self.run(self.inner.replace(current, next, idempotency, history))
            .await
    }
}

impl<S: CompanyDeleter> CompanyDeleter for Deadlined<'_, S> {
    async fn delete(
        &self,
        current: &Company,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        self.run(self.inner.delete(current, history)).await
    }
}

impl<S: HistoryReader> HistoryReader for Deadlined<'_, S> {
    async fn history(
        &self,
        id: Uuid,
        limit: usize,
        before: Option<u64>,
    ) -> Result<HistoryPage, StoreError> {
        self.run(self.inner.history(id, limit, before)).await
    }
}

impl<S: IdempotencyReader> IdempotencyReader for Deadlined<'_, S> {
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.run(self.inner.idempotency_record(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn calls_fail_unavailable_after_the_deadline() {
        let store = MemoryStore::new();
        let live = Deadlined::new(&store, Instant::now() + Duration::from_secs(5));
        assert!(matches!(live.get(Uuid::now_v7()).await, Ok(None)));
        let spent = Deadlined::new(&store, Instant::now());
        assert!(matches!(
            spent.get(Uuid::now_v7()).await,
            Err(StoreError::Unavailable(_))
        ));
        // A Lambda deadline already (nearly) reached leaves no budget.
        let lambda = Deadlined::for_lambda(&store, 0);
        assert!(matches!(
            lambda.list(1, None).await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
