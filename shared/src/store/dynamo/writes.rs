//! Writes and transactions. Every change is a list of conditional steps (the company, the CNPJ
//! markers it takes or frees, the request's idempotency record): one step goes out as a plain
//! PutItem or DeleteItem, several as one TransactWriteItems, so all land or none does. A failed
//! condition is mapped to the step it guarded.

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

use super::errors::{sdk_error, single_item_error};
use super::items::{
    self, company_key, marker_holder, marker_item, tax_id_key, Item, EXPIRES_AT, MARKER_HOLDER, PK,
    VERSION,
};
use super::DynamoStore;
use crate::model::{Cnpj, Company};
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

/// The steps of a new company.
pub fn create(
    company: &Company,
    idempotency: Option<&IdempotencyRecord>,
) -> Result<Vec<Step>, StoreError> {
    let mut steps = vec![Step {
        part: Part::NewCompany,
        action: Action::Put(items::to_item(company)?),
        condition: Condition::new("attribute_not_exists(#pk)", &[("#pk", PK)]),
    }];
    steps.extend(tax_id_moves(None, Some(company)));
    steps.extend(record(idempotency)?);
    Ok(steps)
}

/// The steps of replacing `current` by `next`.
pub fn replace(
    current: &Company,
    next: &Company,
    idempotency: Option<&IdempotencyRecord>,
) -> Result<Vec<Step>, StoreError> {
    let mut steps = vec![Step {
        part: Part::ExistingCompany,
        action: Action::Put(items::to_item(next)?),
        condition: Condition::at_version(current.version),
    }];
    steps.extend(tax_id_moves(Some(current), Some(next)));
    steps.extend(record(idempotency)?);
    Ok(steps)
}

/// The steps of deleting `current`.
pub fn delete(current: &Company) -> Vec<Step> {
    let mut steps = vec![Step {
        part: Part::ExistingCompany,
        action: Action::Delete(company_key(current.id)),
        condition: Condition::at_version(current.version),
    }];
    steps.extend(tax_id_moves(Some(current), None));
    steps
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

impl DynamoStore {
    /// Writes `steps`: one alone needs no transaction (the same condition on a plain PutItem
    /// or DeleteItem costs half the capacity and one round of coordination less); several go
    /// in one transaction, retried a few times when DynamoDB cancels it because another
    /// transaction held one of its items.
    pub(super) async fn write(&self, mut steps: Vec<Step>) -> Result<(), StoreError> {
        if steps.len() == 1 {
            if let Some(step) = steps.pop() {
                return self.write_one(step).await;
            }
        }
        let parts: Vec<Part> = steps.iter().map(|s| s.part).collect();
        let items = steps
            .into_iter()
            .map(|s| self.transact_item(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let SdkError::ServiceError(service) = &err else {
                return Err(sdk_error("TransactWriteItems", err));
            };
            let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
            else {
                return Err(sdk_error("TransactWriteItems", err));
            };
            let reasons = cancelled.cancellation_reasons();
            let failed = |code: &str| {
                reasons
                    .iter()
                    .zip(&parts)
                    .find(|(r, _)| r.code() == Some(code))
            };
            // A taken idempotency key first: the request that holds it caused any other
            // failed condition (the CNPJ it took, the version it wrote).
            let conditions = reasons
                .iter()
                .zip(&parts)
                .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"));
            if let Some((reason, part)) = conditions.min_by_key(|(_, p)| **p != Part::Idempotency) {
                return Err(part.condition_failed(reason.item()));
            }
            let contended = failed("TransactionConflict").is_some();
            if contended && attempt < TRANSACTION_ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(jitter_ms(attempt))).await;
                continue;
            }
            return Err(StoreError::Unavailable(format!(
                "transaction cancelled: {reasons:?}"
            )));
        }
    }

    fn transact_item(&self, step: Step) -> Result<TransactWriteItem, StoreError> {
        let c = &step.condition;
        Ok(match step.action {
            Action::Put(item) => TransactWriteItem::builder()
                .put(
                    conditioned!(
                        Put::builder().table_name(&self.table).set_item(Some(item)),
                        c
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .build(),
            Action::Delete(key) => TransactWriteItem::builder()
                .delete(
                    conditioned!(
                        Delete::builder().table_name(&self.table).set_key(Some(key)),
                        c
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .build(),
        })
    }

    async fn write_one(&self, step: Step) -> Result<(), StoreError> {
        let (part, c) = (step.part, &step.condition);
        match step.action {
            Action::Put(item) => conditioned!(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item)),
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
                    .set_key(Some(key)),
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
