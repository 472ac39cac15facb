//! Full-table checks and call attribution for tests (feature `test-support`): never compiled
//! into a function.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use uuid::Uuid;

use super::errors::sdk_error;
use super::items::{marker_holder, SK, TAX_ID_PREFIX, TAX_ID_SK};
use super::DynamoStore;
use crate::store::StoreError;

impl DynamoStore {
    /// Every CNPJ marker as (CNPJ, company id), by a full scan.
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
                    .get(super::PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| s.strip_prefix(TAX_ID_PREFIX));
                if let (Some(cnpj), Some(id)) = (cnpj, marker_holder(&item)) {
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
        if let Some(function) = crate::telemetry::current_function() {
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
