//! The DynamoDB store. One table with string keys `pk`/`sk`; a company is one item
//! (`pk = COMPANY#<id>`, `sk = COMPANY`), listed newest first through the `gsi1` index
//! (`gsi1pk = COMPANY`, `gsi1sk = <id>`: UUIDv7 ids sort by creation time). Beside companies the
//! table holds CNPJ markers (`pk = TAXID#<cnpj>`: which company holds a CNPJ) and idempotency
//! records (`pk = IDEMPOTENCY#<scoped key>`, expiring through the `expires_at` TTL attribute),
//! and the name index (`pk = NAME#<term>`, `sk = <folded name> <id>`: see `names`), written in
//! the same transaction as the company.
//!
//! - `setup`: the client and the table definition;
//! - `items`: items and keys;
//! - `writes`: the conditional steps of each change;
//! - `send`: one item or one transaction, retries, and recognising a write whose answer was
//!   lost;
//! - `errors`: SDK failures to store errors;
//! - `reindex`: rewriting the name index from the companies (`companies-reindex`);
//! - `repair`: making every derived item agree with the companies after a restore
//!   (`companies-reindex --repair`);
//! - `xray`: each DynamoDB call of a sampled request as an X-Ray subsegment;
//! - `audit` (feature `test-support`): full-table checks for tests.

mod connector;
mod errors;
#[cfg(feature = "test-support")]
pub mod full_table;
pub mod items;
mod names;
pub mod reindex;
pub mod repair;
mod send;
mod setup;
mod writes;
pub mod xray;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

pub use items::{EXPIRES_AT, GSI1, GSI1_PK, GSI1_SK, PK, SK};
pub use setup::{
    table_definition, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_ATTEMPTS, OPERATION_TIMEOUT,
    STARTUP_TIMEOUT,
};

use super::{
    first_page, unix_now, CompanyCreator, CompanyDeleter, CompanyImporter, CompanyLister,
    CompanyReader, CompanyUpdater, HistoryPage, HistoryReader, IdempotencyReader,
    IdempotencyRecord, LegacyImport, MarkerPage, Page, StoreError,
};
use companies::search::NameQuery;
use companies::{Cnpj, Company, HistoryEntry};
use errors::sdk_error;
use items::{company_key, from_item, marker_holder, Item, COMPANY_LIST_PK};

/// The item that holds a write's token once it has landed: the version's history entry, which
/// no later write replaces (a later writer may have replaced the company item already), or
/// `otherwise` for a write without one.
fn token_holder(id: Uuid, history: Option<&HistoryEntry>, otherwise: Item) -> Item {
    history.map_or(otherwise, |entry| items::history_key(id, entry.version))
}

/// Store handle: the SDK client (built once per Lambda instance) and the table name.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// One strongly consistent read by key.
    async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.client
            .get_item()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map(|out| out.item)
            .map_err(|e| sdk_error("GetItem", e))
    }
}

impl CompanyReader for DynamoStore {
    async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
        self.get_item(company_key(id))
            .await?
            .map(from_item)
            .transpose()
    }
}

impl CompanyLister for DynamoStore {
    async fn list(&self, limit: usize, after: Option<Uuid>) -> Result<Page, StoreError> {
        let start = after.map(|id| {
            let mut k = company_key(id);
            k.insert(GSI1_PK.into(), AttributeValue::S(COMPANY_LIST_PK.into()));
            k.insert(GSI1_SK.into(), AttributeValue::S(id.to_string()));
            k
        });
        // One extra item tells whether another page follows, so `next_cursor` is null exactly
        // on the last page.
        let fetch = i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1_PK)
            .expression_attribute_values(":pk", AttributeValue::S(COMPANY_LIST_PK.into()))
            .scan_index_forward(false)
            .limit(fetch)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let (items, next_after) = first_page(items, limit, |c| c.id);
        Ok(Page { items, next_after })
    }

    async fn by_name(
        &self,
        query: &NameQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<String>, StoreError> {
        self.list_by_name(query, limit, after).await
    }

    async fn find_by_legacy_id(&self, legacy_id: i64) -> Result<Option<Uuid>, StoreError> {
        Ok(self
            .get_item(items::legacy_key(legacy_id))
            .await?
            .as_ref()
            .and_then(marker_holder))
    }

    async fn find_by_tax_id(&self, cnpj: &Cnpj) -> Result<Option<Uuid>, StoreError> {
        Ok(self
            .get_item(items::tax_id_key(cnpj))
            .await?
            .as_ref()
            .and_then(marker_holder))
    }
}

impl CompanyCreator for DynamoStore {
    async fn create(
        &self,
        company: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let token = Uuid::new_v4().simple().to_string();
        let change = writes::create(company, idempotency, history, &token)?;
        let token_holder = token_holder(company.id, history, company_key(company.id));
        self.write(change, &token, token_holder).await
    }
}

impl CompanyImporter for DynamoStore {
    /// The key a Scan continues after.
    type MarkerPosition = Item;

    async fn legacy_imports(&self, from: Option<Item>) -> Result<MarkerPage<Item>, StoreError> {
        let (filter, legacy) = items::legacy_filter();
        let page = self
            .client
            .scan()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .table_name(&self.table)
            .filter_expression(filter)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":legacy", legacy)
            .set_exclusive_start_key(from)
            .send()
            .await
            .map_err(|e| sdk_error("Scan", e))?;
        let markers = page
            .items()
            .iter()
            .filter_map(|item| Some((items::legacy_id(item)?, item)))
            .map(|(id, item)| Ok((id, items::legacy_import(item)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((markers, page.last_evaluated_key))
    }

    async fn import(
        &self,
        company: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let token = Uuid::new_v4().simple().to_string();
        let change = writes::import(company, legacy_id, source, history, &token)?;
        let token_holder = token_holder(company.id, Some(history), company_key(company.id));
        self.write(change, &token, token_holder).await
    }

    async fn legacy_import(&self, legacy_id: i64) -> Result<Option<LegacyImport>, StoreError> {
        self.get_item(items::legacy_key(legacy_id))
            .await?
            .map(|marker| items::legacy_import(&marker))
            .transpose()
    }

    async fn reimport(
        &self,
        current: &Company,
        next: &Company,
        legacy_id: i64,
        source: &str,
        history: &HistoryEntry,
    ) -> Result<(), StoreError> {
        let token = Uuid::new_v4().simple().to_string();
        let change = writes::reimport(current, next, legacy_id, source, history, &token)?;
        let token_holder = token_holder(next.id, Some(history), company_key(next.id));
        self.write(change, &token, token_holder).await
    }
}

impl CompanyUpdater for DynamoStore {
    async fn replace(
        &self,
        current: &Company,
        next: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let token = Uuid::new_v4().simple().to_string();
        let change = writes::replace(current, next, idempotency, history, &token)?;
        let token_holder = token_holder(next.id, history, company_key(next.id));
        self.write(change, &token, token_holder).await
    }
}

impl CompanyDeleter for DynamoStore {
    async fn delete(
        &self,
        current: &Company,
        history: Option<&HistoryEntry>,
    ) -> Result<(), StoreError> {
        let token = Uuid::new_v4().simple().to_string();
        let change = writes::delete(current, history, &token)?;
        let token_holder = token_holder(current.id, history, items::tombstone_key(current.id));
        self.write(change, &token, token_holder).await
    }
}

impl HistoryReader for DynamoStore {
    async fn history(
        &self,
        id: Uuid,
        limit: usize,
        before: Option<u64>,
    ) -> Result<HistoryPage, StoreError> {
        // Versions below `before` (exclusive), newest first; one more than the page tells
        // whether another follows.
        let upper = match before {
            Some(v) => format!("{}{:020}", items::HISTORY_PREFIX, v.saturating_sub(1)),
            None => format!("{}{}", items::HISTORY_PREFIX, "9".repeat(20)),
        };
        let fetch = i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", items::company_partition(id))
            .expression_attribute_values(
                ":lo",
                AttributeValue::S(format!("{}{:020}", items::HISTORY_PREFIX, 0)),
            )
            .expression_attribute_values(":hi", AttributeValue::S(upper))
            .scan_index_forward(false)
            .limit(fetch)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let now = unix_now();
        let mut entries = Vec::new();
        for item in out.items.unwrap_or_default() {
            entries.extend(items::history_entry(&item, now)?);
        }
        let (items, next_before) = first_page(entries, limit, |e| e.version);
        Ok(HistoryPage { items, next_before })
    }
}

impl IdempotencyReader for DynamoStore {
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(item) = self.get_item(items::idempotency_key(key)).await? else {
            return Ok(None);
        };
        let record = items::idempotency_record(key, item)?;
        Ok(record.is_live(unix_now()).then_some(record))
    }
}
