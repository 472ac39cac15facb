//! Writes and transactions. Every change is a list of conditional steps (the company, the CNPJ
//! markers it takes or frees, the request's idempotency record): one step goes out as a plain
//! PutItem or DeleteItem, several as one TransactWriteItems, so all land or none does. A failed
//! condition is mapped to the step it guarded.
//!
//! Every write carries a fresh token, stored on the company item (or a delete's tombstone).
//! When its outcome is unknown (a timeout, a reply lost or cut after the write committed, so
//! the SDK's retry met its own write and failed a condition), the store reads the item back:
//! holding the token means the write landed, and it is reported as done. Transactions also send
//! a ClientRequestToken, so DynamoDB itself answers a retried one that had committed.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use uuid::Uuid;

use super::errors::TRANSACTION_CONFLICT;
use super::errors::{sdk_error, single_item_error};
use super::items::{
    self, company_key, marker_holder, marker_item, tax_id_key, tombstone_item, Item, EXPIRES_AT,
    MARKER_HOLDER, PK, VERSION, WRITE_TOKEN,
};
use super::DynamoStore;
use crate::model::{Cnpj, Company, HistoryEntry};
use crate::store::{unix_now, IdempotencyRecord, StoreError};

/// Attempts of a transaction that DynamoDB cancelled because another one held an item.
const TRANSACTION_ATTEMPTS: u32 = 4;

/// What one step of a write is, to tell which condition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    NewCompany,
    ExistingCompany,
    TakeTaxId,
    FreeTaxId,
    Idempotency,
    Tombstone,
    History,
}

impl Part {
    /// The error a failed condition on this step means; `old` is the item as it was.
    pub fn condition_failed(self, old: Option<&Item>) -> StoreError {
        match self {
            Part::NewCompany => StoreError::AlreadyExists,
            Part::ExistingCompany => match old {
                Some(item) if !item.is_empty() => StoreError::VersionConflict,
                _ => StoreError::NotFound,
            },
            Part::TakeTaxId => StoreError::TaxIdTaken(old.and_then(marker_holder)),
            // The marker changed hands since the company was read: the company changed too.
            Part::FreeTaxId => StoreError::VersionConflict,
            Part::Idempotency => StoreError::IdempotencyKeyTaken,
            // The company was deleted already: its version check failed too.
            Part::Tombstone => StoreError::NotFound,
            // Another writer recorded this version: it wrote the company too.
            Part::History => StoreError::VersionConflict,
        }
    }
}

/// A condition expression with its placeholders.
struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    fn new(expression: &'static str, names: &[(&str, &str)]) -> Self {
        Condition {
            expression,
            names: names
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            values: HashMap::new(),
        }
    }

    fn value(mut self, name: &str, value: AttributeValue) -> Self {
        self.values.insert(name.to_owned(), value);
        self
    }

    /// Only at this version of the company.
    fn at_version(version: u64) -> Self {
        Condition::new("#v = :v", &[("#v", VERSION)])
            .value(":v", AttributeValue::N(version.to_string()))
    }

    /// Only if no company holds the marker, or `company` does.
    fn free_or_held_by(company: Uuid) -> Self {
        Condition::new("attribute_not_exists(#pk) OR #holder = :id", &[("#pk", PK)])
            .with_name("#holder", MARKER_HOLDER)
            .value(":id", AttributeValue::S(company.to_string()))
    }

    fn with_name(mut self, name: &str, attribute: &str) -> Self {
        self.names.insert(name.to_owned(), attribute.to_owned());
        self
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Puts or deletes an item.
enum Action {
    Put(Item),
    Delete(Item),
}

/// One conditional step of a write.
pub struct Step {
    part: Part,
    action: Action,
    condition: Condition,
}

/// Sets the condition of any of the SDK's put and delete builders (they share no trait).
macro_rules! conditioned {
    ($builder:expr, $condition:expr) => {
        $builder
            .condition_expression($condition.expression)
            .set_expression_attribute_names(Some($condition.names.clone()))
            .set_expression_attribute_values($condition.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    };
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(format!("building a transaction: {e}"))
}

/// The company item, carrying the write's token.
fn company_item(company: &Company, token: &str) -> Result<Item, StoreError> {
    let mut item = items::to_item(company)?;
    item.insert(WRITE_TOKEN.into(), AttributeValue::S(token.to_owned()));
    Ok(item)
}

/// The step that records a version in the company's history (never over another entry).
fn history(id: Uuid, entry: Option<&HistoryEntry>) -> Result<Option<Step>, StoreError> {
    let Some(entry) = entry else {
        return Ok(None);
    };
    Ok(Some(Step {
        part: Part::History,
        action: Action::Put(items::history_item(id, entry)?),
        condition: Condition::new("attribute_not_exists(#pk)", &[("#pk", PK)]),
    }))
}

/// The steps of a new company.
pub fn create(
    company: &Company,
    idempotency: Option<&IdempotencyRecord>,
    history_entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<Vec<Step>, StoreError> {
    let mut steps = vec![Step {
        part: Part::NewCompany,
        action: Action::Put(company_item(company, token)?),
        condition: Condition::new("attribute_not_exists(#pk)", &[("#pk", PK)]),
    }];
    steps.extend(tax_id_moves(None, Some(company)));
    steps.extend(history(company.id, history_entry)?);
    steps.extend(record(idempotency)?);
    Ok(steps)
}

/// The steps of replacing `current` by `next`.
pub fn replace(
    current: &Company,
    next: &Company,
    idempotency: Option<&IdempotencyRecord>,
    history_entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<Vec<Step>, StoreError> {
    let mut steps = vec![Step {
        part: Part::ExistingCompany,
        action: Action::Put(company_item(next, token)?),
        condition: Condition::at_version(current.version),
    }];
    steps.extend(tax_id_moves(Some(current), Some(next)));
    steps.extend(history(next.id, history_entry)?);
    steps.extend(record(idempotency)?);
    Ok(steps)
}

/// The steps of deleting `current`: the company goes, a tombstone holding the token stays.
pub fn delete(
    current: &Company,
    history_entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<Vec<Step>, StoreError> {
    let mut steps = vec![
        Step {
            part: Part::ExistingCompany,
            action: Action::Delete(company_key(current.id)),
            condition: Condition::at_version(current.version),
        },
        Step {
            part: Part::Tombstone,
            action: Action::Put(tombstone_item(current.id, token)),
            condition: Condition::new("attribute_not_exists(#pk)", &[("#pk", PK)]),
        },
    ];
    steps.extend(tax_id_moves(Some(current), None));
    steps.extend(history(current.id, history_entry)?);
    Ok(steps)
}

/// The steps that move a company's CNPJ marker from `current` to `next`.
fn tax_id_moves(current: Option<&Company>, next: Option<&Company>) -> Vec<Step> {
    let held = |c: Option<&Company>| c.and_then(|c| c.tax_id.clone().map(|t| (t, c.id)));
    let (old, new): (Option<(Cnpj, Uuid)>, _) = (held(current), held(next));
    if old.as_ref().map(|o| &o.0) == new.as_ref().map(|n| &n.0) {
        return Vec::new();
    }
    let free = old.map(|(cnpj, id)| Step {
        part: Part::FreeTaxId,
        action: Action::Delete(tax_id_key(&cnpj)),
        condition: Condition::free_or_held_by(id),
    });
    let take = new.map(|(cnpj, id)| Step {
        part: Part::TakeTaxId,
        action: Action::Put(marker_item(&cnpj, id)),
        condition: Condition::free_or_held_by(id),
    });
    free.into_iter().chain(take).collect()
}

/// The step that writes an idempotency record unless a live one holds its key.
fn record(idempotency: Option<&IdempotencyRecord>) -> Result<Option<Step>, StoreError> {
    let Some(r) = idempotency else {
        return Ok(None);
    };
    Ok(Some(Step {
        part: Part::Idempotency,
        action: Action::Put(items::idempotency_item(r)?),
        condition: Condition::new(
            "attribute_not_exists(#pk) OR #exp <= :now",
            &[("#pk", PK), ("#exp", EXPIRES_AT)],
        )
        .value(":now", AttributeValue::N(unix_now().to_string())),
    }))
}

/// How one attempt at a write ended.
enum Attempt {
    Done,
    /// Another transaction held one of the items: worth a short retry.
    Contended(String),
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
    /// Writes `steps` with the write token `token`; `proof` is the key of the item that holds
    /// the token once the write has landed. One step needs no transaction (the same condition
    /// on a plain PutItem or DeleteItem costs half the capacity and one round of coordination
    /// less); several go in one transaction. Contention is retried a few times.
    pub(super) async fn write(
        &self,
        steps: Vec<Step>,
        token: &str,
        proof: Item,
    ) -> Result<(), StoreError> {
        tracing::debug!(items = steps.len(), "writing");
        let err = match self.attempts(&steps, token).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if may_have_landed(&err) && self.holds_token(proof, token).await.unwrap_or(false) {
            tracing::warn!(error = %err, "the write had landed although its answer was lost");
            return Ok(());
        }
        Err(err)
    }

    async fn attempts(&self, steps: &[Step], token: &str) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match steps {
                [step] => self.write_one(step).await,
                // 32 hex characters and the attempt: within the 36 DynamoDB allows.
                _ => self.transact(steps, &format!("{token}-{attempt}")).await,
            };
            match outcome {
                Attempt::Done => return Ok(()),
                Attempt::Failed(e) => return Err(e),
                Attempt::Contended(_) if attempt < TRANSACTION_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(jitter_ms(attempt))).await;
                }
                Attempt::Contended(detail) => {
                    return Err(StoreError::Unavailable(format!("contended: {detail}")))
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
            .zip(steps.iter().map(|s| s.part))
            .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"));
        if let Some((reason, part)) = conditions.min_by_key(|(_, p)| *p != Part::Idempotency) {
            return Attempt::Failed(part.condition_failed(reason.item()));
        }
        let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
        if codes.contains(&"TransactionConflict") {
            return Attempt::Contended(format!("transaction cancelled: {codes:?}"));
        }
        Attempt::Failed(StoreError::Unavailable(format!(
            "transaction cancelled: {codes:?}"
        )))
    }

    fn transact_item(&self, step: &Step) -> Result<TransactWriteItem, StoreError> {
        let c = &step.condition;
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
        })
    }

    async fn write_one(&self, step: &Step) -> Attempt {
        let (part, c) = (step.part, &step.condition);
        let result = match &step.action {
            Action::Put(item) => conditioned!(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item.clone())),
                c
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                single_item_error("PutItem", part, e, |e| match e {
                    PutItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                })
            }),
            Action::Delete(key) => conditioned!(
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key.clone())),
                c
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                single_item_error("DeleteItem", part, e, |e| match e {
                    DeleteItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                })
            }),
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

/// A short randomised back-off (grows with the attempt) so contending transactions spread out.
fn jitter_ms(attempt: u32) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos % 20 + 5) * u64::from(attempt)
}
