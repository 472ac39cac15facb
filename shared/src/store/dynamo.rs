//! The DynamoDB store. One table with string keys `pk`/`sk`; a company is one item
//! (`pk = COMPANY#<id>`, `sk = COMPANY`), listed newest first through the `gsi1` index
//! (`gsi1pk = COMPANY`, `gsi1sk = <id>`: UUIDv7 ids sort by creation time). Items are mapped with
//! serde_dynamo; money is a DynamoDB number written from its exact decimal text.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    CompanyCreator, CompanyDeleter, CompanyLister, CompanyReader, CompanyUpdater, Page, StoreError,
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

fn company_pk(id: Uuid) -> String {
    format!("COMPANY#{id}")
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
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(6))
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3));
        // A local DynamoDB needs no real credentials; give it dummy ones rather than letting
        // the default chain probe for instance metadata.
        if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some()
            && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
        {
            loader = loader
                .credentials_provider(Credentials::new("local", "local", None, None, "local"));
        }
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(Region::new("us-east-1"));
        }
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
}

impl CompanyCreator for DynamoStore {
    async fn create(&self, company: &Company) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(company)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Err(StoreError::AlreadyExists)
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }
}

impl CompanyUpdater for DynamoStore {
    async fn replace(&self, company: &Company, expected_version: u64) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(company)?))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(expected_version.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let old = match e.err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                };
                Err(condition_failed(old))
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }
}

impl CompanyDeleter for DynamoStore {
    async fn delete(&self, id: Uuid, expected_version: Option<u64>) -> Result<(), StoreError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        request = match expected_version {
            Some(v) => request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            None => request
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let old = match e.err() {
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(c) => {
                        c.item()
                    }
                    _ => None,
                };
                Err(condition_failed(old))
            }
            Err(e) => Err(sdk_error("DeleteItem", e)),
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
