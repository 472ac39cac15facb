//! Building the client (once per Lambda instance) and the table's definition.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, IdentityCache, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

use super::connector::{http_client, Transport};
use super::errors::sdk_error;
use super::items::{GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::DynamoStore;
use crate::StoreError;

/// SDK timeouts and retries: every call of a request gives up well inside the function timeout
/// of `template.yaml` (the template test holds the two together).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
pub const MAX_ATTEMPTS: u32 = 3;
/// Per attempt, for the tools' one start-up call to the table ([`DynamoStore::ensure_table`]).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable `name`, unless unset or empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The CA bundle the environment names, if any: `AWS_CA_BUNDLE`, then `SSL_CERT_FILE`.
fn ca_bundle() -> Option<String> {
    env("AWS_CA_BUNDLE").or_else(|| env("SSL_CERT_FILE"))
}

/// How to reach `endpoint` (none: AWS's own), with the environment's CA bundle.
fn transport(endpoint: Option<&str>) -> Transport {
    Transport::for_endpoint(endpoint, ca_bundle())
}

/// A request's timeouts: [`ATTEMPT_TIMEOUT`] per attempt, [`OPERATION_TIMEOUT`] in all.
fn timeouts() -> TimeoutConfig {
    timeouts_of(ATTEMPT_TIMEOUT, OPERATION_TIMEOUT)
}

fn timeouts_of(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

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

    /// Builds the client as a Lambda function does at start-up, from what the Lambda
    /// environment provides: region (`AWS_REGION`) and credentials (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) from environment variables, the endpoint from
    /// `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) when set, the table from `TABLE_NAME`;
    /// with `AWS_XRAY_DAEMON_ADDRESS` (Lambda sets it when tracing is active), each DynamoDB call
    /// of a sampled request is reported to that daemon (`xray.rs`).
    /// No provider chains, no profile files, no instance metadata (a Lambda has none of them to
    /// offer), and TLS set up on the first call rather than here (see `connector.rs`). Tools
    /// that run on a workstation use [`DynamoStore::connect`] (feature `sdk-config`), which
    /// reads profiles too.
    pub fn from_env() -> Result<Self, String> {
        let table = env("TABLE_NAME").ok_or("TABLE_NAME is not set")?;
        let endpoint = env("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| env("AWS_ENDPOINT_URL"));
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                Credentials::new(id, secret, env("AWS_SESSION_TOKEN"), None, "environment")
            }
            // A local DynamoDB needs no real credentials.
            _ if endpoint.is_some() => Credentials::new("local", "local", None, None, "local"),
            _ => return Err("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into()),
        };
        // Lambda names the daemon when the function's tracing is active.
        let daemon =
            match env("AWS_XRAY_DAEMON_ADDRESS") {
                Some(value) => Some(super::xray::daemon_address(&value).ok_or_else(|| {
                    format!("AWS_XRAY_DAEMON_ADDRESS is not an address: {value:?}")
                })?),
                None => None,
            };
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .credentials_provider(credentials)
            // Static credentials: nothing to cache or refresh.
            .identity_cache(IdentityCache::no_cache())
            .timeout_config(timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .http_client(http_client(transport(endpoint.as_deref())));
        config.set_endpoint_url(endpoint);
        if let Some(daemon) = daemon {
            config = config.interceptor(super::xray::XrayCalls::new(daemon, &table, &region));
        }
        Ok(Self::new(Client::from_conf(config.build()), table))
    }

    /// Builds the client from the environment with the SDK's standard provider chains
    /// (environment, profiles and SSO, container and instance credentials), for `table`.
    #[cfg(feature = "sdk-config")]
    pub async fn connect(table: impl Into<String>) -> Self {
        Self::connect_to(table, None).await
    }

    /// Like [`DynamoStore::connect`], with an explicit endpoint (tests put a fault-injecting
    /// proxy there).
    #[cfg(feature = "sdk-config")]
    pub async fn connect_to(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        let configured = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
        let local = endpoint.or(configured.as_deref());
        // A local DynamoDB needs no real credentials; give it dummy ones rather than letting
        // the default chain probe for instance metadata.
        if local.is_some() && env("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader
                .credentials_provider(Credentials::new("local", "local", None, None, "local"));
        }
        if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
            loader = loader.region(Region::new("us-east-1"));
        }
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        loader = loader.http_client(http_client(transport(local)));
        let config = loader.load().await;
        Self::new(Client::new(&config), table)
    }

    /// The same store, reporting each DynamoDB call of a sampled request to the X-Ray daemon at
    /// `daemon` (see `xray.rs`).
    pub fn traced_to(&self, daemon: std::net::SocketAddr) -> DynamoStore {
        let region = self
            .client
            .config()
            .region()
            .map_or_else(String::new, ToString::to_string);
        let config = self
            .client
            .config()
            .to_builder()
            .interceptor(super::xray::XrayCalls::new(daemon, &self.table, &region))
            .build();
        DynamoStore::new(Client::from_conf(config), self.table.clone())
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the template's keys and index if it does not exist (local use).
    ///
    /// The tools call it once at start-up, so its `DescribeTable` gets [`STARTUP_TIMEOUT`] per
    /// attempt instead of a request's [`ATTEMPT_TIMEOUT`]: DynamoDB Local counts the table's
    /// items to answer it, which grows with the table (bench/scale.sh's is large), and a slow
    /// answer there is no reason to give up.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        let patient = aws_sdk_dynamodb::config::Config::builder()
            .timeout_config(timeouts_of(STARTUP_TIMEOUT, STARTUP_TIMEOUT * MAX_ATTEMPTS));
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .customize()
            .config_override(patient)
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
            .map_err(|e| {
                StoreError::Internal(format!("waiting for table: {}", super::errors::causes(&e)))
            })
    }
}
