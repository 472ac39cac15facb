//! Sending a change: one step alone goes out as a plain PutItem or DeleteItem, several as one
//! TransactWriteItems, so all land or none does; contention and throttling are retried a few
//! times.
//!
//! Every write carries a fresh token, stored on the version's history entry (and on the company
//! item; a delete without a history entry leaves a tombstone holding it). When its outcome is unknown (a timeout, a reply lost or cut
//! after the write committed, so the SDK's retry met its own write and failed a condition), the
//! store reads the entry back: holding the token means the write landed, and it is reported as
//! done. (The entry of a version is never replaced, so a later writer cannot hide it.) Transactions also send
//! a ClientRequestToken, so DynamoDB itself answers a retried one that had committed.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};

use super::errors::{sdk_error, single_item_error, TRANSACTION_CONFLICT};
use super::items::{Item, WRITE_TOKEN};
use super::writes::{Action, Step, StepKind, WriteSet};
use super::DynamoStore;
use crate::{Backoff, StoreError};

/// Attempts of a transaction that DynamoDB cancelled because another one held an item, or for
/// throttling.
const TRANSACTION_ATTEMPTS: u32 = 4;
/// Between attempts of a transaction cancelled for contention: short, so that contending
/// writers spread out without holding the request long.
const CONTENTION: Backoff = Backoff::new(25, 100);
/// Between attempts of a transaction cancelled for throttling; the request's deadline bounds
/// the whole.
const THROTTLING: Backoff = Backoff::new(100, 1_600);

/// Cancellation reasons that mean a partition was throttled: the transaction wrote nothing and
/// is worth another try after a back-off. The SDK retries a throttled call, but not a
/// transaction cancelled for it (that is a `TransactionCanceledException`).
const THROTTLED: [&str; 2] = ["ThrottlingError", "ProvisionedThroughputExceeded"];

/// Sets the condition, if any, of any of the SDK's put and delete builders (they share no
/// trait).
macro_rules! conditioned {
    ($builder:expr, $condition:expr) => {{
        let builder = $builder;
        match $condition {
            Some(c) => builder
                .condition_expression(c.expression)
                .set_expression_attribute_names(Some(c.names.clone()))
                .set_expression_attribute_values(c.values())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                ),
            None => builder,
        }
    }};
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(format!("building a transaction: {e}"))
}

/// How one attempt at a write ended.
enum Attempt {
    Done,
    /// Another transaction held one of the items: worth a short retry.
    Contended(String),
    /// DynamoDB throttled one of the items' partitions: worth a retry after a back-off.
    Throttled(String),
    Failed(StoreError),
}

/// Whether a write that failed so may still have landed: its outcome was unknown, or a
/// condition failed that the write's own earlier attempt would have made fail.
fn may_have_landed(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::Unavailable(_)
            | StoreError::AlreadyExists
            | StoreError::VersionConflict
            | StoreError::NotFound
            | StoreError::IdempotencyKeyTaken
    )
}

impl DynamoStore {
    /// Writes the steps of `change` with the write token `token`; `proof` is the key of the
    /// item that holds the token once the write has landed. One step needs no transaction (the
    /// same condition on a plain PutItem or DeleteItem costs half the capacity and one round of
    /// coordination less); several go in one transaction. Contention is retried a few times.
    /// Then the stale name index entries that did not fit are deleted.
    pub(super) async fn write(
        &self,
        change: WriteSet,
        token: &str,
        proof: Item,
    ) -> Result<(), StoreError> {
        tracing::debug!(items = change.steps.len(), "writing");
        let landed = match self.attempts(&change.steps, token, false).await {
            Ok(()) => Ok(()),
            Err(err)
                if may_have_landed(&err)
                    && self.holds_token(proof, token).await.unwrap_or(false) =>
            {
                tracing::warn!(error = %err, "the write had landed although its answer was lost");
                Ok(())
            }
            Err(err) => Err(err),
        };
        if landed.is_ok() && !change.afterwards.is_empty() {
            self.delete_stale_entries(change.afterwards, token).await;
        }
        landed
    }

    /// Deletes name index entries a rename left behind (in transactions: the one write action
    /// the writing functions are granted). A failure leaves them for searches to skip.
    async fn delete_stale_entries(&self, keys: Vec<Item>, token: &str) {
        let steps: Vec<Step> = keys
            .into_iter()
            .map(|key| Step {
                kind: StepKind::NameIndex,
                action: Action::Delete(key),
                condition: None,
            })
            .collect();
        for (n, chunk) in steps
            .chunks(super::writes::MAX_TRANSACTION_ITEMS)
            .enumerate()
        {
            // A token of its own (within the 36 characters allowed), not the change's.
            let chunk_token = format!("{}x{n}", token.get(..30).unwrap_or(token));
            if let Err(e) = self.attempts(chunk, &chunk_token, true).await {
                tracing::error!(
                    error = %e,
                    entries = chunk.len(),
                    "stale name index entries were not deleted; searches skip them"
                );
            }
        }
    }

    /// Sends `steps`, retrying contention; `transactional` sends even one step as a transaction.
    pub(super) async fn attempts(
        &self,
        steps: &[Step],
        token: &str,
        transactional: bool,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match steps {
                [step] if !transactional => self.write_one(step).await,
                // 32 hex characters and the attempt: within the 36 DynamoDB allows.
                _ => self.transact(steps, &format!("{token}-{attempt}")).await,
            };
            match outcome {
                Attempt::Done => return Ok(()),
                Attempt::Failed(e) => return Err(e),
                Attempt::Contended(_) if attempt < TRANSACTION_ATTEMPTS => {
                    CONTENTION.sleep(attempt).await;
                }
                Attempt::Throttled(_) if attempt < TRANSACTION_ATTEMPTS => {
                    THROTTLING.sleep(attempt).await;
                }
                Attempt::Contended(detail) | Attempt::Throttled(detail) => {
                    return Err(StoreError::Unavailable(format!(
                        "after {attempt} attempts: {detail}"
                    )))
                }
            }
        }
    }

    /// Whether the item at `key` holds the write token `token` (strongly consistent read).
    async fn holds_token(&self, key: Item, token: &str) -> Result<bool, StoreError> {
        Ok(self.get_item(key).await?.is_some_and(|item| {
            item.get(WRITE_TOKEN)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|t| t == token)
        }))
    }

    async fn transact(&self, steps: &[Step], request_token: &str) -> Attempt {
        let items = match steps
            .iter()
            .map(|s| self.transact_item(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(items) => items,
            Err(e) => return Attempt::Failed(e),
        };
        let result = self
            .client
            .transact_write_items()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_transact_items(Some(items))
            .client_request_token(request_token)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Attempt::Done,
            Err(e) => e,
        };
        let SdkError::ServiceError(service) = &err else {
            return Attempt::Failed(sdk_error("TransactWriteItems", err));
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else {
            return Attempt::Failed(sdk_error("TransactWriteItems", err));
        };
        let reasons = cancelled.cancellation_reasons();
        // A taken idempotency key first: the request that holds it caused any other failed
        // condition (the CNPJ it took, the version it wrote).
        let conditions = reasons
            .iter()
            .zip(steps.iter().map(|s| s.kind))
            .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"));
        if let Some((reason, kind)) = conditions.min_by_key(|(_, p)| *p != StepKind::Idempotency) {
            return Attempt::Failed(kind.condition_failed(reason.item()));
        }
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
        if codes.iter().any(|c| THROTTLED.contains(c)) {
            return Attempt::Throttled(format!("transaction cancelled: {codes:?}"));
        }
        if codes.contains(&"TransactionConflict") {
            return Attempt::Contended(format!("transaction cancelled: {codes:?}"));
        }
        Attempt::Failed(StoreError::Unavailable(format!(
            "transaction cancelled: {codes:?}"
        )))
    }

    fn transact_item(&self, step: &Step) -> Result<TransactWriteItem, StoreError> {
        let c = step.condition.as_ref();
        Ok(match &step.action {
            Action::Put(item) => TransactWriteItem::builder()
                .put(
                    conditioned!(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item.clone())),
                        c
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .build(),
            Action::Delete(key) => TransactWriteItem::builder()
                .delete(
                    conditioned!(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key.clone())),
                        c
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .build(),
            Action::Check(key) => TransactWriteItem::builder()
                .condition_check(
                    conditioned!(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(key.clone())),
                        c
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .build(),
        })
    }

    async fn write_one(&self, step: &Step) -> Attempt {
        let (kind, c) = (step.kind, step.condition.as_ref());
        let result = match &step.action {
            Action::Put(item) => conditioned!(
                self.client
                    .put_item()
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .table_name(&self.table)
                    .set_item(Some(item.clone())),
                c
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                single_item_error("PutItem", kind, e, |e| match e {
                    PutItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                })
            }),
            Action::Delete(key) => conditioned!(
                self.client
                    .delete_item()
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .table_name(&self.table)
                    .set_key(Some(key.clone())),
                c
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                single_item_error("DeleteItem", kind, e, |e| match e {
                    DeleteItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                })
            }),
            Action::Check(_) => Err(StoreError::Internal(
                "a condition check is written in a transaction".into(),
            )),
        };
        match result {
            Ok(()) => Attempt::Done,
            Err(StoreError::Unavailable(detail)) if detail.contains(TRANSACTION_CONFLICT) => {
                Attempt::Contended(detail)
            }
            Err(e) => Attempt::Failed(e),
        }
    }
}
