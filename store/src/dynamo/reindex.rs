//! Rewriting the name index from the companies themselves (`companies-reindex`).
//!
//! Needed after a release changes how names fold or which terms they are filed under (the
//! entries of names written before are then under other terms and positions: searches skip
//! them, since their name no longer folds to what they were filed under, and a rename or delete
//! removes the entries the new rule computes, not the old ones), and to clear entries a rename's
//! failed clean-up left behind.
//!
//! One pass reads the whole table (a parallel Scan of company items and index entries, keys
//! and names only). Then each company whose entries differ from what its name needs (and each
//! id with entries but no company) is read again, strongly consistent, and the difference is
//! written in transactions that each also check the company is still at the version read (or
//! still absent): a write the API makes meanwhile cancels the repair of that company, which is
//! read and compared again. Nothing the API writes is overwritten with something older, and a
//! run that stops half-way leaves the index no worse; running it again finishes the work.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::errors::sdk_error;
use super::items::{self, company_key, company_of, Item, COMPANY_NAME, COMPANY_SK, PK, SK};
use super::writes::{Action, Condition, Step, StepKind, MAX_TRANSACTION_ITEMS};
use super::DynamoStore;
use crate::{CompanyReader, StoreError};
use companies::{search, Partition};

/// Times a company is read and compared again when the API changed it during its repair.
const REPAIR_ATTEMPTS: u32 = 5;

/// How to run a reindex.
#[derive(Debug, Clone, Copy)]
pub struct ReindexOptions {
    /// Compare and report, write nothing.
    pub dry_run: bool,
    /// Parallel Scan segments (DynamoDB allows 1 to 1,000,000; AWS suggests one per 2 GB of
    /// table).
    pub segments: u32,
    /// Companies repaired at once.
    pub concurrency: usize,
}

/// What a reindex found and did.
#[derive(Debug, Default, Serialize)]
pub struct ReindexReport {
    pub dry_run: bool,
    pub items_scanned: u64,
    pub companies: u64,
    pub entries: u64,
    /// Entries whose key could not be read (not a position): reported, left alone.
    pub unreadable_entries: u64,
    /// Companies (or ids without one) whose entries were set right (or would be, in a dry run).
    pub companies_repaired: u64,
    pub entries_written: u64,
    pub entries_deleted: u64,
    /// Each company repaired, with what was done.
    pub repairs: Vec<Repair>,
    /// Companies that could not be repaired, and why: run again.
    pub failed: Vec<Failure>,
}

/// One company's entries set right.
#[derive(Debug, Clone, Serialize)]
pub struct Repair {
    pub company: Uuid,
    /// Whether the company exists (entries of a deleted company are all removed).
    pub exists: bool,
    /// Entries put and deleted. When the API changed the company during its repair, the last
    /// attempt's count, some of which may have found the entry already as wanted.
    pub written: u64,
    pub deleted: u64,
}

/// A company whose repair did not finish.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub company: Uuid,
    pub error: String,
}

/// Index entries as (term, position).
type Entries = BTreeSet<(String, String)>;

/// What one Scan segment (or the whole table) holds that a reindex needs.
#[derive(Default)]
struct Snapshot {
    items: u64,
    entries: u64,
    unreadable: u64,
    /// Each company's name.
    companies: HashMap<Uuid, String>,
    /// Each company's entries, by the id in their position.
    filed: HashMap<Uuid, Entries>,
}

impl Snapshot {
    fn add(&mut self, item: &Item) {
        self.items += 1;
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let (Some(pk), Some(sk)) = (text(PK), text(SK)) else {
            return;
        };
        if let Some(term) = Partition::Name.name_in(pk) {
            self.entries += 1;
            match search::split_position(sk) {
                Some((_, id)) => {
                    self.filed
                        .entry(id)
                        .or_default()
                        .insert((term.to_owned(), sk.clone()));
                }
                None => self.unreadable += 1,
            }
        } else if sk == COMPANY_SK {
            if let (Some(id), Some(name)) = (company_of(pk), text(COMPANY_NAME)) {
                self.companies.insert(id, name.clone());
            }
        }
    }

    fn merge(&mut self, other: Snapshot) {
        self.items += other.items;
        self.entries += other.entries;
        self.unreadable += other.unreadable;
        self.companies.extend(other.companies);
        for (id, entries) in other.filed {
            self.filed.entry(id).or_default().extend(entries);
        }
    }
}

/// The entries company `id` named `name` must have, and no others.
fn expected(id: Uuid, name: Option<&str>) -> Entries {
    let Some(name) = name else {
        return Entries::new();
    };
    let position = search::position(&search::name_key(name), id);
    search::index_terms(name)
        .into_iter()
        .map(|term| (term, position.clone()))
        .collect()
}

impl DynamoStore {
    /// Compares every company's name index entries with what its name needs under the current
    /// folding, and (unless `dry_run`) writes the difference. See the module's documentation.
    pub async fn reindex(&self, options: ReindexOptions) -> Result<ReindexReport, StoreError> {
        let snapshot = self.snapshot(options.segments.max(1)).await?;
        let mut report = ReindexReport {
            dry_run: options.dry_run,
            items_scanned: snapshot.items,
            companies: snapshot.companies.len() as u64,
            entries: snapshot.entries,
            unreadable_entries: snapshot.unreadable,
            ..ReindexReport::default()
        };
        let Snapshot {
            companies,
            mut filed,
            ..
        } = snapshot;
        let ids: BTreeSet<Uuid> = companies.keys().chain(filed.keys()).copied().collect();
        let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for id in ids {
            let seen = filed.remove(&id).unwrap_or_default();
            if seen == expected(id, companies.get(&id).map(String::as_str)) {
                continue;
            }
            let (store, permits) = (self.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (id, store.reindex_company(id, &seen, options.dry_run).await)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (id, outcome) =
                joined.map_err(|e| StoreError::Internal(format!("a repair task failed: {e}")))?;
            match outcome {
                Ok(Some(repair)) => {
                    report.companies_repaired += 1;
                    report.entries_written += repair.written;
                    report.entries_deleted += repair.deleted;
                    report.repairs.push(repair);
                }
                Ok(None) => {}
                Err(e) => report.failed.push(Failure {
                    company: id,
                    error: e.to_string(),
                }),
            }
        }
        report.repairs.sort_by_key(|r| r.company);
        report.failed.sort_by_key(|f| f.company);
        Ok(report)
    }

    /// Company items and index entries of the whole table, in `segments` parallel Scans.
    async fn snapshot(&self, segments: u32) -> Result<Snapshot, StoreError> {
        let total = i32::try_from(segments).unwrap_or(i32::MAX);
        let mut scans = JoinSet::new();
        for segment in 0..total {
            let store = self.clone();
            scans.spawn(async move { store.scan_segment(segment, total).await });
        }
        let mut snapshot = Snapshot::default();
        while let Some(joined) = scans.join_next().await {
            let part =
                joined.map_err(|e| StoreError::Internal(format!("a scan task failed: {e}")))?;
            snapshot.merge(part?);
        }
        Ok(snapshot)
    }

    async fn scan_segment(&self, segment: i32, total: i32) -> Result<Snapshot, StoreError> {
        let mut snapshot = Snapshot::default();
        self.scan(
            |scan| {
                scan.segment(segment)
                    .total_segments(total)
                    .projection_expression("#pk, #sk, #name")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_names("#name", COMPANY_NAME)
            },
            |item| snapshot.add(item),
        )
        .await?;
        Ok(snapshot)
    }

    /// Every page of a Scan of the table (`shape` sets segment, projection, filter), each item
    /// handed to `each`.
    pub(super) async fn scan(
        &self,
        shape: impl Fn(ScanFluentBuilder) -> ScanFluentBuilder,
        mut each: impl FnMut(&Item),
    ) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let page = shape(self.client.scan().table_name(&self.table))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            page.items().iter().for_each(&mut each);
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// Sets company `id`'s entries right, given those the scan saw (`seen`): reads the company,
    /// deletes what its name does not need, writes what is missing, each transaction holding
    /// only while the company is as read. `None` when nothing differs any more.
    async fn reindex_company(
        &self,
        id: Uuid,
        seen: &Entries,
        dry_run: bool,
    ) -> Result<Option<Repair>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let company = self.get(id).await?;
            let wanted = expected(id, company.as_ref().map(|c| c.company_name.as_str()));
            let stale: Vec<&(String, String)> = seen.difference(&wanted).collect();
            let missing: Vec<&(String, String)> = wanted.difference(seen).collect();
            if stale.is_empty() && missing.is_empty() {
                return Ok(None);
            }
            let repair = Repair {
                company: id,
                exists: company.is_some(),
                written: missing.len() as u64,
                deleted: stale.len() as u64,
            };
            if dry_run {
                return Ok(Some(repair));
            }
            let check = Step {
                kind: StepKind::CompanyAsRead,
                action: Action::Check(company_key(id)),
                condition: Some(match &company {
                    Some(c) => Condition::at_version(c.version),
                    None => Condition::absent(),
                }),
            };
            let key = company.as_ref().map(|c| search::name_key(&c.company_name));
            let actions: Vec<Action> = stale
                .iter()
                .map(|(term, position)| Action::Delete(items::name_entry_at(term, position)))
                .chain(key.iter().flat_map(|key| {
                    missing
                        .iter()
                        .map(|(term, _)| Action::Put(items::name_entry_item(term, key, id)))
                }))
                .collect();
            match self.write_checked(check, actions).await {
                Ok(()) => return Ok(Some(repair)),
                // The API changed the company meanwhile: compare again.
                Err(StoreError::VersionConflict) if attempt < REPAIR_ATTEMPTS => {}
                Err(StoreError::VersionConflict) => {
                    return Err(StoreError::Unavailable(
                        "the company kept changing during its repair".into(),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes `actions` in transactions of at most 100 items, each beginning with `check`.
    async fn write_checked(&self, check: Step, actions: Vec<Action>) -> Result<(), StoreError> {
        let mut actions = actions.into_iter().peekable();
        while actions.peek().is_some() {
            let mut steps = vec![check.clone()];
            steps.extend(
                actions
                    .by_ref()
                    .take(MAX_TRANSACTION_ITEMS - 1)
                    .map(|action| Step {
                        kind: StepKind::NameIndex,
                        action,
                        condition: None,
                    }),
            );
            let token = Uuid::new_v4().simple().to_string();
            self.attempts(&steps, &token, true).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn entry(term: &str, position: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(Partition::Name.key(term))),
            (SK.to_owned(), AttributeValue::S(position.to_owned())),
        ])
    }

    #[test]
    fn a_snapshot_groups_entries_by_the_company_in_their_position() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut company = company_key(a);
        company.insert(COMPANY_NAME.into(), AttributeValue::S("Sé Ltda".into()));
        let mut snapshot = Snapshot::default();
        for item in [
            company,
            entry("se", &search::position("se.ltda", a)),
            entry("s", &search::position("se.ltda", a)),
            entry("x", &search::position("xis", b)),
            entry("y", "no position"),
            items::history_key(a, 1),
        ] {
            snapshot.add(&item);
        }
        assert_eq!(
            (snapshot.items, snapshot.entries, snapshot.unreadable),
            (6, 4, 1)
        );
        assert_eq!(snapshot.companies[&a], "Sé Ltda");
        assert_eq!(snapshot.filed[&a].len(), 2);
        assert_eq!(snapshot.filed[&b].len(), 1);
        // A company's expected entries: every term under one position.
        let wanted = expected(a, Some("Sé Ltda"));
        assert_eq!(wanted.len(), search::index_terms("Sé Ltda").len());
        assert!(wanted.contains(&("se".into(), search::position("se.ltda", a))));
        assert!(expected(b, None).is_empty());
    }
}
