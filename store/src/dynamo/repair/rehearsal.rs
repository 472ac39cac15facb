//! What a restore rehearsal needs of a table (feature `test-support`, never in a function):
//! every item as it is stored, in a form two states of a table compare by, and a copy of them
//! into another table, as a restore lands them.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::{json, Map, Value};

use super::super::errors::sdk_error;
use super::super::items::Item;
use super::super::DynamoStore;
use crate::{Backoff, StoreError};

/// The most items one BatchWriteItem takes.
const BATCH: usize = 25;
/// Between rounds of a batch whose items DynamoDB left unprocessed (throttling).
const UNPROCESSED: Backoff = Backoff::new(50, 1_000);
/// Rounds before a batch still left unprocessed is given up.
const ROUNDS: u32 = 10;

impl DynamoStore {
    /// Every item of the table, by a strongly consistent Scan.
    pub async fn all_items(&self) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        self.scan(
            |scan| scan.consistent_read(true),
            |item| out.push(item.clone()),
        )
        .await?;
        Ok(out)
    }

    /// Every item of the table as canonical JSON text (attributes and map keys in order):
    /// two dumps are equal exactly when the tables hold the same items.
    pub async fn dump(&self) -> Result<BTreeSet<String>, StoreError> {
        Ok(self
            .all_items()
            .await?
            .iter()
            .map(|item| canonical_map(item).to_string())
            .collect())
    }

    /// Copies every item of this table into `target`, as they are (a Scan, then
    /// BatchWriteItem): what a restore to a new table lands. How many items.
    pub async fn copy_into(&self, target: &DynamoStore) -> Result<usize, StoreError> {
        let items = self.all_items().await?;
        let count = items.len();
        for chunk in items.chunks(BATCH) {
            target.put_batch(chunk).await?;
        }
        Ok(count)
    }

    /// Puts `items` (at most [`BATCH`]) as they are, again for those left unprocessed.
    async fn put_batch(&self, items: &[Item]) -> Result<(), StoreError> {
        let mut requests = items
            .iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(|e| StoreError::Internal(format!("building a put: {e}")))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for round in 1..=ROUNDS {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| sdk_error("BatchWriteItem", e))?;
            requests = out
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            UNPROCESSED.sleep(round).await;
        }
        Err(StoreError::Unavailable(
            "items left unprocessed by every round".into(),
        ))
    }
}

fn canonical_map(item: &Item) -> Value {
    let sorted: std::collections::BTreeMap<&String, Value> =
        item.iter().map(|(k, v)| (k, canonical(v))).collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), v))
            .collect::<Map<_, _>>(),
    )
}

/// An attribute value as JSON tagged with its type; sets in order.
fn canonical(value: &AttributeValue) -> Value {
    let sorted = |mut values: Vec<String>| {
        values.sort();
        values
    };
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::B(b) => json!({"B": b.as_ref()}),
        AttributeValue::Ss(ss) => json!({"SS": sorted(ss.clone())}),
        AttributeValue::Ns(ns) => json!({"NS": sorted(ns.clone())}),
        AttributeValue::Bs(bs) => {
            let mut bs: Vec<&[u8]> = bs.iter().map(|b| b.as_ref()).collect();
            bs.sort();
            json!({ "BS": bs })
        }
        AttributeValue::L(l) => json!({"L": l.iter().map(canonical).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": canonical_map(m)}),
        other => json!({"unknown": format!("{other:?}")}),
    }
}
