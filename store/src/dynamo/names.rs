//! Listing by name: read the entries of one index term in order (strongly consistent), keep
//! those the query accepts, then read the companies themselves (one BatchGetItem, strongly
//! consistent) and return each only if its current name is still the one it was filed under.
//!
//! The cost follows the page, not the table: one Query of `limit + 1` entries when every entry
//! matches (one-word searches up to [`MAX_PREFIX_CHARS`] characters, `sort=name`); at most
//! [`ENTRY_BUDGET`] entries when the other words or a longer word filter some out, after which
//! a shorter page is returned with a cursor that continues the reading.
//!
//! [`MAX_PREFIX_CHARS`]: companies::search::MAX_PREFIX_CHARS

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use uuid::Uuid;

use super::errors::sdk_error;
use super::items::{self, company_key, from_item, Item, PK, SK};
use super::DynamoStore;
use crate::{first_page, Backoff, Page, StoreError};
use companies::search::{self, NameQuery};
use companies::Company;

/// The most index entries one request reads.
pub const ENTRY_BUDGET: usize = 1000;
/// Rounds of BatchGetItem for keys DynamoDB left unprocessed (throttling).
const BATCH_ROUNDS: u32 = 5;
/// Between rounds of a batch read whose keys were left unprocessed (throttling).
const UNPROCESSED: Backoff = Backoff::new(50, 400);

/// An index entry the query accepts.
struct Candidate {
    position: String,
    name_key: String,
    id: Uuid,
}

impl DynamoStore {
    pub(super) async fn list_by_name(
        &self,
        query: &NameQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<String>, StoreError> {
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut start = after.map(str::to_owned);
        let mut read = 0;
        let mut finished = false;
        while candidates.len() <= limit && read < ENTRY_BUDGET {
            // A full page and one more first; then what is left of the budget.
            let fetch = if read == 0 {
                limit + 1
            } else {
                ENTRY_BUDGET - read
            };
            let (entries, more) = self
                .term_entries(query.term(), start.as_deref(), fetch)
                .await?;
            for entry in &entries {
                let (position, name_key, id) = items::name_entry(entry)?;
                read += 1;
                if query.accepts(&name_key) {
                    candidates.push(Candidate {
                        position: position.clone(),
                        name_key,
                        id,
                    });
                }
                start = Some(position);
                if candidates.len() > limit {
                    break;
                }
            }
            if !more {
                finished = candidates.len() <= limit;
                break;
            }
        }
        let (page, next) = first_page(candidates, limit, |c| c.position.clone());
        // When the budget ran out first, the next page continues after the last entry read.
        let next_after = next.or(if finished { None } else { start });
        let mut companies = self.companies(page.iter().map(|c| c.id)).await?;
        // A company can have two entries on a page: the one of its name and a stale one (of a
        // name it had, left by a failed clean-up, or filed by an earlier folding); only the
        // entry of its current name returns it.
        let items = page
            .into_iter()
            .filter_map(|c| {
                let current = companies.get(&c.id)?;
                if search::name_key(&current.company_name) == c.name_key {
                    companies.remove(&c.id)
                } else {
                    None
                }
            })
            .collect();
        Ok(Page { items, next_after })
    }

    /// Up to `fetch` entries of `term` after `start`, and whether more may follow.
    async fn term_entries(
        &self,
        term: &str,
        start: Option<&str>,
        fetch: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut request = self
            .client
            .query()
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .table_name(&self.table)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", items::name_term_partition(term))
            .consistent_read(true)
            .limit(i32::try_from(fetch).unwrap_or(i32::MAX));
        request = match start {
            Some(position) => request
                .key_condition_expression("#pk = :pk AND #sk > :after")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":after", AttributeValue::S(position.to_owned())),
            None => request.key_condition_expression("#pk = :pk"),
        };
        let out = request.send().await.map_err(|e| sdk_error("Query", e))?;
        let more = out.last_evaluated_key.is_some();
        Ok((out.items.unwrap_or_default(), more))
    }

    /// The companies with these ids that exist (strongly consistent), by id. An id may come
    /// more than once; it is asked for once (BatchGetItem refuses a request that names a key
    /// twice).
    async fn companies(
        &self,
        ids: impl Iterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, Company>, StoreError> {
        let ids: BTreeSet<Uuid> = ids.collect();
        let keys: Vec<Item> = ids.into_iter().map(company_key).collect();
        let mut found = HashMap::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Internal(format!("building a batch read: {e}")))?,
        );
        for round in 0..BATCH_ROUNDS {
            let Some(request) = pending.take() else { break };
            if round > 0 {
                // Keys left unprocessed mean throttling: back off before asking again.
                UNPROCESSED.sleep(round).await;
            }
            let out = self
                .client
                .batch_get_item()
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                let company = from_item(item)?;
                found.insert(company.id, company);
            }
            pending = out
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
                .filter(|k| !k.keys().is_empty());
        }
        match pending {
            None => Ok(found),
            Some(_) => Err(StoreError::Unavailable(
                "BatchGetItem left keys unprocessed (throttled)".into(),
            )),
        }
    }
}
