//! The steps of each change. Every change is a list of conditional steps (the company, the
//! CNPJ markers it takes or frees, the version's history entry, the request's idempotency
//! record, a delete's tombstone), written all or none by [`super::send`]; a failed condition is
//! mapped to the step it guarded. Every step of a company carries the write's token (see
//! [`super::send`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::items::{
    self, company_key, marker_holder, marker_item, tax_id_key, tombstone_item, Item, EXPIRES_AT,
    MARKER_HOLDER, PK, VERSION, WRITE_TOKEN,
};
use crate::{unix_now, IdempotencyRecord, StoreError};
use companies::{search, Cnpj, Company, HistoryEntry};

/// What one step of a write writes, to tell which condition failed when one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    NewCompany,
    ExistingCompany,
    TakeTaxId,
    FreeTaxId,
    Idempotency,
    Tombstone,
    History,
    /// The marker of the legacy row a company was imported from.
    LegacyId,
    /// An entry of the name index (written without a condition: its key holds the company's
    /// id and name, so no other company's write touches it).
    NameIndex,
    /// The company as a reindex read it (see `reindex`): it changed since.
    CompanyAsRead,
}

impl StepKind {
    /// The error a failed condition on this step means; `old` is the item as it was.
    pub fn condition_failed(self, old: Option<&Item>) -> StoreError {
        match self {
            StepKind::NewCompany | StepKind::LegacyId => StoreError::AlreadyExists,
            StepKind::ExistingCompany => match old {
                Some(item) if !item.is_empty() => StoreError::VersionConflict,
                _ => StoreError::NotFound,
            },
            StepKind::TakeTaxId => StoreError::TaxIdTaken(old.and_then(marker_holder)),
            // The marker changed hands since the company was read: the company changed too.
            StepKind::FreeTaxId => StoreError::VersionConflict,
            StepKind::Idempotency => StoreError::IdempotencyKeyTaken,
            // The company was deleted already: its version check failed too.
            StepKind::Tombstone => StoreError::NotFound,
            // Another writer recorded this version: it wrote the company too.
            StepKind::History | StepKind::NameIndex | StepKind::CompanyAsRead => {
                StoreError::VersionConflict
            }
        }
    }
}

/// A condition expression with its placeholders.
#[derive(Clone)]
pub(super) struct Condition {
    pub(super) expression: &'static str,
    pub(super) names: HashMap<String, String>,
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
    pub(super) fn at_version(version: u64) -> Self {
        Condition::new("#v = :v", &[("#v", VERSION)])
            .value(":v", AttributeValue::N(version.to_string()))
    }

    /// Only if the item does not exist.
    pub(super) fn absent() -> Self {
        Condition::new("attribute_not_exists(#pk)", &[("#pk", PK)])
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

    pub(super) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Puts or deletes an item, or (in a transaction) checks the condition on one.
#[derive(Clone)]
pub(super) enum Action {
    Put(Item),
    Delete(Item),
    Check(Item),
}

/// One conditional step of a write.
#[derive(Clone)]
pub struct Step {
    pub(super) kind: StepKind,
    pub(super) action: Action,
    pub(super) condition: Option<Condition>,
}

/// The most items DynamoDB writes in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// A change: the steps written all or none, and the keys of stale name index entries to delete
/// right after them when a rename's transaction cannot hold them all (searches skip a stale
/// entry: its name is no longer the company's).
pub struct WriteSet {
    pub steps: Vec<Step>,
    pub afterwards: Vec<Item>,
}

impl WriteSet {
    /// Adds the name index entries of a company going from the name `old` to `new`: the new
    /// entries always go in the transaction (a company is findable by its name once it is
    /// written), the old ones as far as room is left.
    fn with_name_index(mut self, id: Uuid, old: Option<&str>, new: Option<&str>) -> Self {
        let key = |name: Option<&str>| name.map(search::name_key);
        let (old_key, new_key) = (key(old), key(new));
        if old_key == new_key {
            return self;
        }
        if let (Some(name), Some(name_key)) = (new, &new_key) {
            self.steps
                .extend(search::index_terms(name).iter().map(|term| Step {
                    kind: StepKind::NameIndex,
                    action: Action::Put(items::name_entry_item(term, name_key, id)),
                    condition: None,
                }));
        }
        if let (Some(name), Some(name_key)) = (old, &old_key) {
            for term in search::index_terms(name) {
                let entry = items::name_entry_key(&term, name_key, id);
                if self.steps.len() < MAX_TRANSACTION_ITEMS {
                    self.steps.push(Step {
                        kind: StepKind::NameIndex,
                        action: Action::Delete(entry),
                        condition: None,
                    });
                } else {
                    self.afterwards.push(entry);
                }
            }
        }
        self
    }
}

/// The company item, carrying the write's token.
fn company_item(company: &Company, token: &str) -> Result<Item, StoreError> {
    let mut item = items::to_item(company)?;
    item.insert(WRITE_TOKEN.into(), AttributeValue::S(token.to_owned()));
    Ok(item)
}

/// The step that records a version in the company's history (never over another entry).
fn history(
    id: Uuid,
    entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<Option<Step>, StoreError> {
    let Some(entry) = entry else {
        return Ok(None);
    };
    let mut item = items::history_item(id, entry)?;
    item.insert(WRITE_TOKEN.into(), AttributeValue::S(token.to_owned()));
    Ok(Some(Step {
        kind: StepKind::History,
        action: Action::Put(item),
        condition: Some(Condition::absent()),
    }))
}

/// The steps of a new company.
pub fn create(
    company: &Company,
    idempotency: Option<&IdempotencyRecord>,
    history_entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<WriteSet, StoreError> {
    let mut steps = vec![Step {
        kind: StepKind::NewCompany,
        action: Action::Put(company_item(company, token)?),
        condition: Some(Condition::absent()),
    }];
    steps.extend(tax_id_moves(None, Some(company)));
    steps.extend(history(company.id, history_entry, token)?);
    steps.extend(record(idempotency)?);
    let change = WriteSet {
        steps,
        afterwards: Vec::new(),
    };
    Ok(change.with_name_index(company.id, None, Some(&company.company_name)))
}

/// The steps of a company imported from the legacy row `legacy_id`: those of a new company,
/// and the marker of its row, which no other import may take (it stays when the company is
/// deleted, so a deleted company is not imported again).
pub fn import(
    company: &Company,
    legacy_id: i64,
    source: &str,
    history_entry: &HistoryEntry,
    token: &str,
) -> Result<WriteSet, StoreError> {
    let mut change = create(company, None, Some(history_entry), token)?;
    change.steps.insert(
        1,
        Step {
            kind: StepKind::LegacyId,
            action: Action::Put(items::legacy_item(
                legacy_id,
                company.id,
                company.version,
                source,
            )),
            condition: Some(Condition::absent()),
        },
    );
    Ok(change)
}

/// The steps of carrying a change of the legacy row `legacy_id` over to the company imported
/// from it: those of replacing `current` by `next`, and the row's marker recording the new
/// version and the row's digest (the company's version condition guards both).
pub fn reimport(
    current: &Company,
    next: &Company,
    legacy_id: i64,
    source: &str,
    history_entry: &HistoryEntry,
    token: &str,
) -> Result<WriteSet, StoreError> {
    let marker = Step {
        kind: StepKind::LegacyId,
        action: Action::Put(items::legacy_item(legacy_id, next.id, next.version, source)),
        condition: None,
    };
    replacing(
        current,
        next,
        None,
        Some(history_entry),
        token,
        Some(marker),
    )
}

/// The steps of replacing `current` by `next`.
pub fn replace(
    current: &Company,
    next: &Company,
    idempotency: Option<&IdempotencyRecord>,
    history_entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<WriteSet, StoreError> {
    replacing(current, next, idempotency, history_entry, token, None)
}

/// The steps of replacing `current` by `next`, with `also` among them (before the name index,
/// which takes what room is left).
fn replacing(
    current: &Company,
    next: &Company,
    idempotency: Option<&IdempotencyRecord>,
    history_entry: Option<&HistoryEntry>,
    token: &str,
    also: Option<Step>,
) -> Result<WriteSet, StoreError> {
    let mut steps = vec![Step {
        kind: StepKind::ExistingCompany,
        action: Action::Put(company_item(next, token)?),
        condition: Some(Condition::at_version(current.version)),
    }];
    steps.extend(also);
    steps.extend(tax_id_moves(Some(current), Some(next)));
    steps.extend(history(next.id, history_entry, token)?);
    steps.extend(record(idempotency)?);
    let change = WriteSet {
        steps,
        afterwards: Vec::new(),
    };
    Ok(change.with_name_index(
        next.id,
        Some(&current.company_name),
        Some(&next.company_name),
    ))
}

/// The steps of deleting `current`: the company goes; its history entry holds the write's token,
/// or, for a delete without one, a tombstone does.
pub fn delete(
    current: &Company,
    history_entry: Option<&HistoryEntry>,
    token: &str,
) -> Result<WriteSet, StoreError> {
    let mut steps = vec![Step {
        kind: StepKind::ExistingCompany,
        action: Action::Delete(company_key(current.id)),
        condition: Some(Condition::at_version(current.version)),
    }];
    steps.extend(tax_id_moves(Some(current), None));
    match history(current.id, history_entry, token)? {
        // The delete's history entry holds its token.
        Some(entry) => steps.push(entry),
        None => steps.push(Step {
            kind: StepKind::Tombstone,
            action: Action::Put(tombstone_item(current.id, token)),
            condition: Some(Condition::absent()),
        }),
    }
    let change = WriteSet {
        steps,
        afterwards: Vec::new(),
    };
    Ok(change.with_name_index(current.id, Some(&current.company_name), None))
}

/// The steps that move a company's CNPJ marker from `current` to `next`.
fn tax_id_moves(current: Option<&Company>, next: Option<&Company>) -> Vec<Step> {
    let held = |c: Option<&Company>| c.and_then(|c| c.tax_id.clone().map(|t| (t, c.id)));
    let (old, new): (Option<(Cnpj, Uuid)>, _) = (held(current), held(next));
    if old.as_ref().map(|o| &o.0) == new.as_ref().map(|n| &n.0) {
        return Vec::new();
    }
    let free = old.map(|(cnpj, id)| Step {
        kind: StepKind::FreeTaxId,
        action: Action::Delete(tax_id_key(&cnpj)),
        condition: Some(Condition::free_or_held_by(id)),
    });
    let take = new.map(|(cnpj, id)| Step {
        kind: StepKind::TakeTaxId,
        action: Action::Put(marker_item(&cnpj, id)),
        condition: Some(Condition::free_or_held_by(id)),
    });
    free.into_iter().chain(take).collect()
}

/// The step that writes an idempotency record unless a live one holds its key.
fn record(idempotency: Option<&IdempotencyRecord>) -> Result<Option<Step>, StoreError> {
    let Some(r) = idempotency else {
        return Ok(None);
    };
    Ok(Some(Step {
        kind: StepKind::Idempotency,
        action: Action::Put(items::idempotency_item(r)?),
        condition: Some(
            Condition::new(
                "attribute_not_exists(#pk) OR #exp <= :now",
                &[("#pk", PK), ("#exp", EXPIRES_AT)],
            )
            .value(":now", AttributeValue::N(unix_now().to_string())),
        ),
    }))
}
