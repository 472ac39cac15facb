//! Full-table checks, raw writes and call attribution for tests (feature `test-support`): never compiled
//! into a function.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

use super::errors::sdk_error;
use super::items::{marker_holder, SK, TAX_ID_SK};
use super::DynamoStore;
use crate::StoreError;
use companies::Partition;

impl DynamoStore {
    /// Every item `filter` (on the key attribute `attribute`, as `:v`) keeps, by a full scan.
    async fn scan_where(
        &self,
        filter: &str,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<super::items::Item>, StoreError> {
        let mut out = Vec::new();
        self.scan(
            |scan| {
                scan.filter_expression(filter)
                    .expression_attribute_names("#a", attribute)
                    .expression_attribute_values(":v", AttributeValue::S(value.into()))
            },
            |item| out.push(item.clone()),
        )
        .await?;
        Ok(out)
    }

    /// Every CNPJ marker as (CNPJ, company id), by a full scan.
    pub async fn tax_id_markers(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        let items = self.scan_where("#a = :v", SK, TAX_ID_SK).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let cnpj = item
                    .get(super::PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| Partition::TaxId.name_in(s))?;
                Some((cnpj.to_owned(), marker_holder(item)?))
            })
            .collect())
    }

    /// Every name index entry as (term, position), by a full scan.
    pub async fn name_index(&self) -> Result<BTreeSet<(String, String)>, StoreError> {
        let items = self
            .scan_where("begins_with(#a, :v)", super::PK, Partition::Name.prefix())
            .await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
                let term = Partition::Name.name_in(text(super::PK)?)?;
                Some((term.to_owned(), text(SK)?.clone()))
            })
            .collect())
    }
}

impl DynamoStore {
    /// Writes `item` as it is, bypassing every rule: for tests that set up drift to repair.
    pub async fn put_raw(&self, item: super::items::Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("PutItem", e))
    }

    /// Deletes the item at `key`, bypassing every rule.
    pub async fn delete_raw(&self, key: super::items::Item) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteItem", e))
    }
}

/// The header naming the function a DynamoDB call was made for (see [`DynamoStore::attributed`]).
pub const FUNCTION_HEADER: &str = "x-companies-function";

/// Adds [`FUNCTION_HEADER`] to every call made while serving a request.
#[derive(Debug)]
struct FunctionHeader;

impl Intercept for FunctionHeader {
    fn name(&self) -> &'static str {
        "FunctionHeader"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(function) = companies::telemetry::current_function() {
            context
                .request_mut()
                .headers_mut()
                .insert(FUNCTION_HEADER, function);
        }
        Ok(())
    }
}

impl DynamoStore {
    /// The same store, naming on each call the function it serves, so a recording proxy can
    /// tell which operation used which DynamoDB action.
    pub fn attributed(&self) -> DynamoStore {
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(FunctionHeader)
            .build();
        DynamoStore::new(Client::from_conf(config), self.table.clone())
    }
}
