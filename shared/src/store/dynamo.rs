//! The DynamoDB store. One table with string keys `pk`/`sk`; a company is one item
//! (`pk = COMPANY#<id>`, `sk = COMPANY`), listed newest first through the `gsi1` index
//! (`gsi1pk = COMPANY`, `gsi1sk = <id>`: UUIDv7 ids sort by creation time). Items are mapped with
//! serde_dynamo; money is a DynamoDB number written from its exact decimal text.
//!
//! Beside companies the table holds CNPJ markers (`pk = TAXID#<cnpj>`: which company holds a
//! CNPJ) and idempotency records (`pk = IDEMPOTENCY#<scoped key>`, expiring through the
//! `expires_at` TTL attribute). Every write is one `TransactWriteItems` over the company, the
//! markers it takes or frees and the request's idempotency record.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    unix_now, CompanyCreator, CompanyDeleter, CompanyLister, CompanyReader, CompanyUpdater,
    IdempotencyReader, IdempotencyRecord, Page, StoreError,
};
use crate::model::{
    AccountNumber, Address, Agency, BankAccount, BankCode, Cnpj, Company, Money, Phone,
};

/// Partition and sort key attribute names.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The listing index and its key attributes.
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

const COMPANY_SK: &str = "COMPANY";
const COMPANY_LIST_PK: &str = "COMPANY";
const BILLING: &str = "declared_billing";

const TAX_ID_SK: &str = "TAXID";
/// The attribute of a CNPJ marker naming the company that holds the CNPJ.
const MARKER_HOLDER: &str = "company_id";
const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
/// The TTL attribute of the table.
pub const EXPIRES_AT: &str = "expires_at";
/// Attempts of a transaction that DynamoDB cancelled because another one held an item.
const TRANSACTION_ATTEMPTS: u32 = 4;

fn company_pk(id: Uuid) -> String {
    format!("COMPANY#{id}")
}

fn tax_id_key(cnpj: &Cnpj) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(format!("TAXID#{cnpj}"))),
        (SK.to_owned(), AttributeValue::S(TAX_ID_SK.into())),
    ])
}

fn idempotency_key(key: &str) -> Item {
    HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(format!("IDEMPOTENCY#{key}")),
        ),
        (SK.to_owned(), AttributeValue::S(IDEMPOTENCY_SK.into())),
    ])
}

#[derive(Serialize, Deserialize)]
struct IdempotencyItem {
    fingerprint: String,
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    body: String,
    expires_at: i64,
}

/// Store handle: the SDK client (built once per Lambda instance) and the table name.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

#[derive(Serialize, Deserialize)]
struct AccountItem {
    id: Uuid,
    bank_code: BankCode,
    agency: Agency,
    account_number: AccountNumber,
}

/// The item shape, apart from the money attribute, which is written as an exact `N` by hand.
#[derive(Serialize, Deserialize)]
struct CompanyItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    id: Uuid,
    company_name: String,
    phone: Phone,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tax_id: Option<Cnpj>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
    bank_accounts: Vec<AccountItem>,
    #[serde(with = "crate::model::timestamp")]
    created: OffsetDateTime,
    #[serde(with = "crate::model::timestamp")]
    updated: OffsetDateTime,
    version: u64,
}

type Item = HashMap<String, AttributeValue>;

fn to_item(c: &Company) -> Result<Item, StoreError> {
    let item = CompanyItem {
        pk: company_pk(c.id),
        sk: COMPANY_SK.into(),
        gsi1pk: COMPANY_LIST_PK.into(),
        gsi1sk: c.id.to_string(),
        id: c.id,
        company_name: c.company_name.clone(),
        phone: c.phone.clone(),
        tax_id: c.tax_id.clone(),
        address: c.address.clone(),
        bank_accounts: c
            .bank_accounts
            .iter()
            .map(|a| AccountItem {
                id: a.id,
                bank_code: a.bank_code.clone(),
                agency: a.agency.clone(),
                account_number: a.account_number.clone(),
            })
            .collect(),
        created: c.created,
        updated: c.updated,
        version: c.version,
    };
    let mut map: Item = serde_dynamo::to_item(item)
        .map_err(|e| StoreError::Internal(format!("encode item: {e}")))?;
    map.insert(
        BILLING.into(),
        AttributeValue::N(c.declared_billing.to_string()),
    );
    Ok(map)
}

fn from_item(mut map: Item) -> Result<Company, StoreError> {
    let corrupt = |what: String| StoreError::Internal(format!("corrupt company item: {what}"));
    let billing = match map.remove(BILLING) {
        Some(AttributeValue::N(n)) => n
            .parse::<Decimal>()
            .map_err(|e| corrupt(format!("billing {e}")))
            .and_then(|d| Money::try_from(d).map_err(corrupt))?,
        _ => return Err(corrupt("billing missing".into())),
    };
    let item: CompanyItem = serde_dynamo::from_item(map).map_err(|e| corrupt(e.to_string()))?;
    Ok(Company {
        id: item.id,
        company_name: item.company_name,
        phone: item.phone,
        tax_id: item.tax_id,
        address: item.address,
        declared_billing: billing,
        bank_accounts: item
            .bank_accounts
            .into_iter()
            .map(|a| BankAccount {
                id: a.id,
                bank_code: a.bank_code,
                agency: a.agency,
                account_number: a.account_number,
            })
            .collect(),
        created: item.created,
        updated: item.updated,
        version: item.version,
    })
}

fn key(id: Uuid) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(company_pk(id))),
        (SK.to_owned(), AttributeValue::S(COMPANY_SK.into())),
    ])
}

/// Maps an SDK failure that is not a condition check to a store error.
fn sdk_error<E, R>(op: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    const RETRYABLE: [&str; 6] = [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    ];
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(format!("{op}: {err:?}"))
        }
        SdkError::ServiceError(e) if e.err().code().is_some_and(|c| RETRYABLE.contains(&c)) => {
            StoreError::Unavailable(format!("{op}: {}", e.err()))
        }
        SdkError::ServiceError(e) => StoreError::Internal(format!(
            "{op}: {} {}",
            e.err().code().unwrap_or("unknown"),
            e.err().message().unwrap_or("")
        )),
        _ => StoreError::Internal(format!("{op}: {err:?}")),
    }
}

/// On a failed condition, tells a missing item from a stale one (the old item comes back).
/// The company a CNPJ marker item names.
fn marker_holder(marker: &Item) -> Option<Uuid> {
    marker.get(MARKER_HOLDER)?.as_s().ok()?.parse().ok()
}

fn condition_failed(old_item: Option<&Item>) -> StoreError {
    match old_item {
        Some(item) if !item.is_empty() => StoreError::VersionConflict,
        _ => StoreError::NotFound,
    }
}

/// The table's keys and index: what `template.yaml` declares and what [`DynamoStore::ensure_table`] creates.
pub fn table_definition() -> (
    Vec<KeySchemaElement>,
    Vec<AttributeDefinition>,
    Vec<GlobalSecondaryIndex>,
) {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let keys: Vec<_> = [key(PK, KeyType::Hash), key(SK, KeyType::Range)]
        .into_iter()
        .flatten()
        .collect();
    let attrs: Vec<_> = [attr(PK), attr(SK), attr(GSI1_PK), attr(GSI1_SK)]
        .into_iter()
        .flatten()
        .collect();
    let gsi_keys: Vec<_> = [key(GSI1_PK, KeyType::Hash), key(GSI1_SK, KeyType::Range)]
        .into_iter()
        .flatten()
        .collect();
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .set_key_schema(Some(gsi_keys))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build();
    (keys, attrs, gsi.into_iter().collect())
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// Builds the client from the environment, as a Lambda does at start-up: region and
    /// credentials from the default chain, endpoint from `AWS_ENDPOINT_URL_DYNAMODB` when set,
    /// table from `TABLE_NAME`. Timeouts and retries fit inside the function timeout.
    pub async fn from_env() -> Result<Self, String> {
        let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set".to_string())?;
        Ok(Self::connect(table).await)
    }

    /// Builds the client from the environment (see [`DynamoStore::from_env`]) for `table`.
    pub async fn connect(table: impl Into<String>) -> Self {
        Self::connect_to(table, None).await
    }

    /// Like [`DynamoStore::connect`], with an explicit endpoint (tests put a fault-injecting
    /// proxy there).
    pub async fn connect_to(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(6))
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
        let local = endpoint.is_some() || std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some();
        // A local DynamoDB needs no real credentials; give it dummy ones rather than letting
        // the default chain probe for instance metadata.
        if local && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader
                .credentials_provider(Credentials::new("local", "local", None, None, "local"));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(Region::new("us-east-1"));
        }
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        // HTTPS on rustls with ring (the SDK's default client would link aws-lc-rs).
        let tls = aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        );
        loader = loader.http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls)
                .build_https(),
        );
        let config = loader.load().await;
        Self::new(Client::new(&config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the template's keys and index if it does not exist (local use).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => {}
            Err(e) => return Err(sdk_error("DescribeTable", e)),
        }
        let (keys, attrs, gsis) = table_definition();
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(keys))
            .set_attribute_definitions(Some(attrs))
            .set_global_secondary_indexes(Some(gsis))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {}
            Err(e) => return Err(sdk_error("CreateTable", e)),
        }
        self.client
            .wait_until_table_exists()
            .table_name(&self.table)
            .wait(Duration::from_secs(60))
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Internal(format!("waiting for table: {e:?}")))
    }
}

/// What one item of a write transaction is, to tell which condition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    NewCompany,
    ExistingCompany,
    TakeTaxId,
    FreeTaxId,
    Idempotency,
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Internal(format!("building a transaction: {e}"))
}

impl DynamoStore {
    fn put(
        &self,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (k, v) in names {
            put = put.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            put = put.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(build_err)?)
            .build())
    }

    fn delete_item(
        &self,
        key: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (k, v) in names {
            delete = delete.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            delete = delete.expression_attribute_values(k, v);
        }
        Ok(TransactWriteItem::builder()
            .delete(delete.build().map_err(build_err)?)
            .build())
    }

    /// Reserves `cnpj` for `company` (fails if another company holds it).
    fn take_tax_id(
        &self,
        cnpj: &Cnpj,
        company: Uuid,
    ) -> Result<(Part, TransactWriteItem), StoreError> {
        let mut item = tax_id_key(cnpj);
        item.insert(MARKER_HOLDER.into(), AttributeValue::S(company.to_string()));
        let put = self.put(
            item,
            "attribute_not_exists(#pk) OR company_id = :id",
            &[("#pk", PK)],
            vec![(":id", AttributeValue::S(company.to_string()))],
        )?;
        Ok((Part::TakeTaxId, put))
    }

    /// Frees `cnpj` if `company` holds it.
    fn free_tax_id(
        &self,
        cnpj: &Cnpj,
        company: Uuid,
    ) -> Result<(Part, TransactWriteItem), StoreError> {
        let delete = self.delete_item(
            tax_id_key(cnpj),
            "attribute_not_exists(#pk) OR company_id = :id",
            &[("#pk", PK)],
            vec![(":id", AttributeValue::S(company.to_string()))],
        )?;
        Ok((Part::FreeTaxId, delete))
    }

    /// Writes an idempotency record unless a live one holds its key.
    fn record_idempotency(
        &self,
        r: &IdempotencyRecord,
    ) -> Result<(Part, TransactWriteItem), StoreError> {
        let body = IdempotencyItem {
            fingerprint: r.fingerprint.clone(),
            status: r.status,
            location: r.location.clone(),
            etag: r.etag.clone(),
            body: r.body.clone(),
            expires_at: r.expires_at,
        };
        let mut item: Item = serde_dynamo::to_item(body)
            .map_err(|e| StoreError::Internal(format!("encode item: {e}")))?;
        item.extend(idempotency_key(&r.key));
        let put = self.put(
            item,
            "attribute_not_exists(#pk) OR #exp <= :now",
            &[("#pk", PK), ("#exp", EXPIRES_AT)],
            vec![(":now", AttributeValue::N(unix_now().to_string()))],
        )?;
        Ok((Part::Idempotency, put))
    }

    /// The transaction items that move a company's CNPJ marker from `current` to `next`.
    fn tax_id_moves(
        &self,
        current: Option<&Company>,
        next: Option<&Company>,
    ) -> Result<Vec<(Part, TransactWriteItem)>, StoreError> {
        let old = current.and_then(|c| c.tax_id.as_ref().map(|t| (t, c.id)));
        let new = next.and_then(|c| c.tax_id.as_ref().map(|t| (t, c.id)));
        let mut parts = Vec::new();
        if old.map(|o| o.0) != new.map(|n| n.0) {
            if let Some((cnpj, id)) = old {
                parts.push(self.free_tax_id(cnpj, id)?);
            }
            if let Some((cnpj, id)) = new {
                parts.push(self.take_tax_id(cnpj, id)?);
            }
        }
        Ok(parts)
    }

    /// Runs a write transaction, retrying a few times when DynamoDB cancels it because another
    /// transaction held one of its items, and maps a failed condition to the part it guarded.
    async fn transact(&self, mut parts: Vec<(Part, TransactWriteItem)>) -> Result<(), StoreError> {
        if parts.len() == 1 {
            if let Some((part, item)) = parts.pop() {
                return self.write_one(part, item).await;
            }
        }
        let (roles, items): (Vec<Part>, Vec<TransactWriteItem>) = parts.into_iter().unzip();
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
                    .zip(&roles)
                    .find(|(r, _)| r.code() == Some(code))
            };
            if let Some((reason, part)) = failed("ConditionalCheckFailed") {
                return Err(condition_error(*part, reason.item()));
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
}

/// Maps the failure of a single-item write: a failed condition by `part` (with the old item
/// `old_item` finds in the error), anything else as [`sdk_error`].
fn single_item_error<E, R>(
    op: &str,
    part: Part,
    err: SdkError<E, R>,
    old_item: impl for<'a> FnOnce(&'a E) -> Option<&'a Item>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(e) = &err {
        if e.err().code() == Some("ConditionalCheckFailedException") {
            return condition_error(part, old_item(e.err()));
        }
    }
    sdk_error(op, err)
}

/// The error a failed condition on `part` means; `old` is the item as it was.
fn condition_error(part: Part, old: Option<&Item>) -> StoreError {
    match part {
        Part::NewCompany => StoreError::AlreadyExists,
        Part::ExistingCompany => condition_failed(old),
        Part::TakeTaxId => StoreError::TaxIdTaken(old.and_then(marker_holder)),
        // The marker changed hands since the company was read: the company changed too.
        Part::FreeTaxId => StoreError::VersionConflict,
        Part::Idempotency => StoreError::IdempotencyKeyTaken,
    }
}

impl DynamoStore {
    /// A write of one item needs no transaction: the same condition on a plain PutItem or
    /// DeleteItem costs half the capacity and one round of coordination less.
    async fn write_one(&self, part: Part, item: TransactWriteItem) -> Result<(), StoreError> {
        if let Some(put) = item.put() {
            return self
                .client
                .put_item()
                .table_name(put.table_name())
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(put.expression_attribute_names().cloned())
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    single_item_error("PutItem", part, e, |e| match e {
                        PutItemError::ConditionalCheckFailedException(c) => c.item(),
                        _ => None,
                    })
                });
        }
        if let Some(delete) = item.delete() {
            return self
                .client
                .delete_item()
                .table_name(delete.table_name())
                .set_key(Some(delete.key().clone()))
                .set_condition_expression(delete.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(delete.expression_attribute_names().cloned())
                .set_expression_attribute_values(delete.expression_attribute_values().cloned())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    single_item_error("DeleteItem", part, e, |e| match e {
                        DeleteItemError::ConditionalCheckFailedException(c) => c.item(),
                        _ => None,
                    })
                });
        }
        Err(StoreError::Internal(
            "a write of one item must be a put or a delete".into(),
        ))
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

impl CompanyReader for DynamoStore {
    async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(from_item).transpose()
    }
}

impl CompanyLister for DynamoStore {
    async fn list(&self, limit: usize, after: Option<Uuid>) -> Result<Page, StoreError> {
        let start = after.map(|id| {
            let mut k = key(id);
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
        let mut items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_after = if more {
            items.last().map(|c| c.id)
        } else {
            None
        };
        Ok(Page { items, next_after })
    }

    async fn find_by_tax_id(&self, cnpj: &Cnpj) -> Result<Option<Uuid>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(tax_id_key(cnpj)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item.as_ref().and_then(marker_holder))
    }
}

impl CompanyCreator for DynamoStore {
    async fn create(
        &self,
        company: &Company,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut parts = vec![(
            Part::NewCompany,
            self.put(
                to_item(company)?,
                "attribute_not_exists(#pk)",
                &[("#pk", PK)],
                Vec::new(),
            )?,
        )];
        parts.extend(self.tax_id_moves(None, Some(company))?);
        if let Some(r) = idempotency {
            parts.push(self.record_idempotency(r)?);
        }
        self.transact(parts).await
    }
}

impl CompanyUpdater for DynamoStore {
    async fn replace(
        &self,
        current: &Company,
        next: &Company,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut parts = vec![(
            Part::ExistingCompany,
            self.put(
                to_item(next)?,
                "#v = :v",
                &[("#v", "version")],
                vec![(":v", AttributeValue::N(current.version.to_string()))],
            )?,
        )];
        parts.extend(self.tax_id_moves(Some(current), Some(next))?);
        if let Some(r) = idempotency {
            parts.push(self.record_idempotency(r)?);
        }
        self.transact(parts).await
    }
}

impl CompanyDeleter for DynamoStore {
    async fn delete(&self, current: &Company) -> Result<(), StoreError> {
        let mut parts = vec![(
            Part::ExistingCompany,
            self.delete_item(
                key(current.id),
                "#v = :v",
                &[("#v", "version")],
                vec![(":v", AttributeValue::N(current.version.to_string()))],
            )?,
        )];
        parts.extend(self.tax_id_moves(Some(current), None)?);
        self.transact(parts).await
    }
}

impl IdempotencyReader for DynamoStore {
    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let stored: IdempotencyItem = serde_dynamo::from_item(item)
            .map_err(|e| StoreError::Internal(format!("corrupt idempotency record: {e}")))?;
        let record = IdempotencyRecord {
            key: key.to_owned(),
            fingerprint: stored.fingerprint,
            status: stored.status,
            location: stored.location,
            etag: stored.etag,
            body: stored.body,
            expires_at: stored.expires_at,
        };
        Ok(record.is_live(unix_now()).then_some(record))
    }
}

impl DynamoStore {
    /// Every CNPJ marker as (CNPJ, company id), by a full scan: for consistency checks in tests.
    pub async fn tax_id_markers(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#sk = :sk")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":sk", AttributeValue::S(TAX_ID_SK.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            for item in page.items.unwrap_or_default() {
                let cnpj = item
                    .get(PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| s.strip_prefix("TAXID#"));
                let id = marker_holder(&item);
                if let (Some(cnpj), Some(id)) = (cnpj, id) {
                    out.push((cnpj.to_owned(), id));
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{input, now};
    use serde_json::json;

    #[test]
    fn item_mapping_round_trips_and_keeps_money_exact() {
        let doc = json!({
            "company_name": "My Company", "phone": "11978235674", "tax_id": "12.ABC.345/01DE-35",
            "declared_billing": "9999999999.99",
            "address": {"street": "Rua A", "city": "Recife", "state": "PE", "postal_code": "50000-000"},
            "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
        });
        let company = Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
        let item = to_item(&company).unwrap();
        assert_eq!(item[BILLING], AttributeValue::N("9999999999.99".into()));
        assert_eq!(
            item[PK],
            AttributeValue::S(format!("COMPANY#{}", company.id))
        );
        assert_eq!(item[GSI1_SK], AttributeValue::S(company.id.to_string()));
        assert_eq!(from_item(item).unwrap(), company);
    }

    #[test]
    fn optional_fields_are_omitted_not_null() {
        let doc = json!({"company_name": "A", "phone": "11978235674", "declared_billing": 0});
        let company = Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
        let item = to_item(&company).unwrap();
        assert!(!item.contains_key("tax_id") && !item.contains_key("address"));
        assert_eq!(from_item(item).unwrap(), company);
    }

    #[test]
    fn a_corrupt_item_is_an_internal_error_not_a_panic() {
        let mut item = key(Uuid::now_v7());
        assert!(matches!(
            from_item(item.clone()),
            Err(StoreError::Internal(_))
        ));
        item.insert(BILLING.into(), AttributeValue::N("-1".into()));
        assert!(matches!(from_item(item), Err(StoreError::Internal(_))));
    }
}
