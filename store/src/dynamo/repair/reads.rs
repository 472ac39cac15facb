//! How a repair reads again and writes: several items read as of one moment, a fix written as
//! one transaction that holds only while the companies it depends on are as read, and fixes
//! run a bounded number at a time.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{Get, TransactGetItem};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::super::errors::sdk_error;
use super::super::items::{company_key, Item};
use super::super::writes::{Action, Condition, Step, StepKind};
use super::super::DynamoStore;
use crate::StoreError;

/// Times a fix is read and decided again when the API changed what it depends on meanwhile.
pub(super) const ATTEMPTS: u32 = 5;

/// The error of a fix whose subject kept changing through every attempt.
pub(super) fn kept_changing() -> StoreError {
    StoreError::Unavailable("it kept changing during its repair".into())
}

/// The step that holds a fix to company `id` as read: at `version`, or still absent (`None`).
pub(super) fn as_read(id: Uuid, version: Option<u64>) -> Step {
    Step {
        kind: StepKind::CompanyAsRead,
        action: Action::Check(company_key(id)),
        condition: Some(match version {
            Some(v) => Condition::at_version(v),
            None => Condition::absent(),
        }),
    }
}

/// A step of `kind` doing `action` under `condition`.
pub(super) fn step(kind: StepKind, action: Action, condition: Option<Condition>) -> Step {
    Step {
        kind,
        action,
        condition,
    }
}

impl DynamoStore {
    /// The items at `keys` (at most 100), in their order, read together: a transaction the
    /// API writes is seen whole or not at all, so a disagreement seen here is in the table,
    /// not a write half read.
    pub(super) async fn read_together(
        &self,
        keys: Vec<Item>,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        let gets = keys
            .into_iter()
            .map(|key| {
                let get = Get::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .build()
                    .map_err(|e| StoreError::Internal(format!("building a read: {e}")))?;
                Ok(TransactGetItem::builder().get(get).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let out = self
            .client
            .transact_get_items()
            .set_transact_items(Some(gets))
            .send()
            .await
            .map_err(|e| sdk_error("TransactGetItems", e))?;
        Ok(out
            .responses
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.item.filter(|item| !item.is_empty()))
            .collect())
    }

    /// Writes `steps` all or none, as one transaction (even a single step: the repair's one
    /// write action, like the reindex's).
    pub(super) async fn write_fix(&self, steps: Vec<Step>) -> Result<(), StoreError> {
        let token = Uuid::new_v4().simple().to_string();
        self.attempts(&steps, &token, true).await
    }
}

/// Runs `fix` on each of `work`, at most `concurrency` at once, and gathers what they return.
pub(super) async fn each<T, R, F, Fut>(
    store: &DynamoStore,
    work: Vec<T>,
    concurrency: usize,
    fix: F,
) -> Result<Vec<R>, StoreError>
where
    F: Fn(DynamoStore, T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for subject in work {
        let task = fix(store.clone(), subject);
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            task.await
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        out.push(joined.map_err(|e| StoreError::Internal(format!("a repair task failed: {e}")))?);
    }
    Ok(out)
}
