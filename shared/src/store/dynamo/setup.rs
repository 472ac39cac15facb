//! Building the client (once per Lambda instance) and the table's definition.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

use super::errors::sdk_error;
use super::items::{GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::DynamoStore;
use crate::store::StoreError;

/// SDK timeouts and retries: every call of a request gives up well inside the 10 s function
/// timeout of `template.yaml`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
pub const MAX_ATTEMPTS: u32 = 3;

/// The table's keys and index: what `template.yaml` declares and what
/// [`DynamoStore::ensure_table`] creates.
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
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS),
            );
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
