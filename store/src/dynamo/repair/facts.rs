//! What one pass over the whole table tells a repair: each company's version and CNPJ, which
//! history entries each company partition keeps, every CNPJ marker and legacy marker, and
//! which ids the name index files. A parallel Scan of whole items (a Scan costs the size of
//! the items it reads whatever it returns, so nothing is saved by projecting). Not a
//! consistent picture while the API serves: each disagreement found here is read again,
//! strongly consistent, before anything is reported or written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use time::OffsetDateTime;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::super::items::{
    self, company_of, from_item, history_entry, marker_holder, Item, COMPANY_SK, HISTORY_PREFIX,
    PK, SK,
};
use super::super::DynamoStore;
use crate::{LegacyImport, StoreError};
use companies::{search, ChangeKind, Cnpj, Partition};

/// A company as the scan saw it.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub version: u64,
    pub updated: OffsetDateTime,
    pub tax_id: Option<Cnpj>,
}

/// A CNPJ marker as the scan saw it: the company it names, if it names one that can be read.
pub(super) type MarkerHolder = Option<Uuid>;

/// What the table held when it was read.
#[derive(Debug, Default)]
pub(super) struct Facts {
    pub items: u64,
    pub unreadable: u64,
    pub companies: HashMap<Uuid, Held>,
    /// Each company partition's history entries within their retention: version → whether
    /// the entry records a delete.
    pub trails: HashMap<Uuid, BTreeMap<u64, bool>>,
    /// Every CNPJ marker, by its CNPJ.
    pub markers: HashMap<Cnpj, MarkerHolder>,
    /// Every legacy marker: the row id and what it records.
    pub legacy: Vec<(i64, LegacyImport)>,
    /// Ids some name index entry is filed under.
    pub named: HashSet<Uuid>,
}

impl Facts {
    /// Takes in one item; `now` decides which history entries are past their retention.
    pub fn add(&mut self, item: &Item, now: i64) {
        self.items += 1;
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let (Some(pk), Some(sk)) = (text(PK), text(SK)) else {
            self.unreadable += 1;
            return;
        };
        let readable = match Partition::of(pk) {
            Some(Partition::Company) => self.add_to_company(pk, sk, item, now),
            Some(Partition::TaxId) => Partition::TaxId
                .name_in(pk)
                .and_then(|cnpj| Cnpj::parse(cnpj).ok())
                .map(|cnpj| self.markers.insert(cnpj, marker_holder(item)))
                .is_some(),
            Some(Partition::Legacy) => match items::legacy_id(item) {
                Some(row) => items::legacy_import(item)
                    .map(|import| self.legacy.push((row, import)))
                    .is_ok(),
                None => false,
            },
            Some(Partition::Name) => search::split_position(sk)
                .map(|(_, id)| self.named.insert(id))
                .is_some(),
            Some(Partition::Idempotency) | None => true,
        };
        if !readable {
            self.unreadable += 1;
        }
    }

    /// A company item, a history entry or a tombstone; false when it cannot be read.
    fn add_to_company(&mut self, pk: &str, sk: &str, item: &Item, now: i64) -> bool {
        let Some(id) = company_of(pk) else {
            return false;
        };
        if sk == COMPANY_SK {
            let Ok(company) = from_item(item.clone()) else {
                return false;
            };
            let held = Held {
                version: company.version,
                updated: company.updated,
                tax_id: company.tax_id,
            };
            self.companies.insert(id, held);
        } else if sk.starts_with(HISTORY_PREFIX) {
            match history_entry(item, now) {
                Ok(Some(entry)) => {
                    let deleted = entry.operation == ChangeKind::Delete;
                    self.trails
                        .entry(id)
                        .or_default()
                        .insert(entry.version, deleted);
                }
                Ok(None) => {}
                Err(_) => return false,
            }
        }
        true
    }

    fn merge(&mut self, other: Facts) {
        self.items += other.items;
        self.unreadable += other.unreadable;
        self.companies.extend(other.companies);
        for (id, trail) in other.trails {
            self.trails.entry(id).or_default().extend(trail);
        }
        self.markers.extend(other.markers);
        self.legacy.extend(other.legacy);
        self.named.extend(other.named);
    }

    /// The live history entries of company `id`: version → whether it records a delete.
    pub fn trail(&self, id: Uuid) -> Option<&BTreeMap<u64, bool>> {
        self.trails.get(&id).filter(|t| !t.is_empty())
    }

    /// Whether the newest live history entry of `id` records its delete.
    pub fn deleted(&self, id: Uuid) -> bool {
        self.trail(id)
            .and_then(|t| t.last_key_value())
            .is_some_and(|(_, deleted)| *deleted)
    }

    /// Every company whose item holds a CNPJ, by the CNPJ.
    pub fn holders(&self) -> HashMap<&Cnpj, BTreeSet<Uuid>> {
        let mut out: HashMap<&Cnpj, BTreeSet<Uuid>> = HashMap::new();
        for (id, held) in &self.companies {
            if let Some(cnpj) = &held.tax_id {
                out.entry(cnpj).or_default().insert(*id);
            }
        }
        out
    }

    /// The entries within their retention, all partitions together.
    pub fn entries(&self) -> u64 {
        self.trails.values().map(|t| t.len() as u64).sum()
    }
}

impl DynamoStore {
    /// The facts of the whole table, in `segments` parallel Scans.
    pub(super) async fn facts(&self, segments: u32, now: i64) -> Result<Facts, StoreError> {
        let total = i32::try_from(segments.max(1)).unwrap_or(i32::MAX);
        let mut scans = JoinSet::new();
        for segment in 0..total {
            let store = self.clone();
            scans.spawn(async move {
                let mut facts = Facts::default();
                store
                    .scan(
                        |scan| scan.segment(segment).total_segments(total),
                        |item| facts.add(item, now),
                    )
                    .await
                    .map(|()| facts)
            });
        }
        let mut facts = Facts::default();
        while let Some(joined) = scans.join_next().await {
            let part =
                joined.map_err(|e| StoreError::Internal(format!("a scan task failed: {e}")))?;
            facts.merge(part?);
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::testing::{sample_company, test_audit};

    #[test]
    fn the_facts_of_each_kind_are_told_apart() {
        let mut company = sample_company("Sé Ltda");
        company.tax_id = Cnpj::parse("60746948000112").ok();
        let audit = test_audit(ChangeKind::Create);
        let gone = Uuid::now_v7();
        let deleted = test_audit(ChangeKind::Delete).deleted(&company, companies::now());
        let mut corrupt = items::company_key(Uuid::now_v7());
        corrupt.insert("version".into(), AttributeValue::N("1".into()));
        let mut facts = Facts::default();
        let now = crate::unix_now();
        for item in [
            items::to_item(&company).unwrap(),
            items::history_item(company.id, &audit.created(&company)).unwrap(),
            items::history_item(gone, &deleted).unwrap(),
            items::marker_item(company.tax_id.as_ref().unwrap(), company.id),
            items::legacy_item(7, gone, 1, "digest"),
            items::name_entry_item("se", "se.ltda", company.id),
            items::tombstone_item(gone, "token"),
            corrupt,
        ] {
            facts.add(&item, now);
        }
        assert_eq!((facts.items, facts.unreadable), (8, 1));
        assert_eq!(facts.companies[&company.id].version, 1);
        assert_eq!(facts.trail(company.id).map(|t| t.len()), Some(1));
        assert!(!facts.deleted(company.id) && facts.deleted(gone));
        assert_eq!(facts.holders().len(), 1);
        assert_eq!(facts.markers.values().next(), Some(&Some(company.id)));
        assert_eq!(facts.legacy[0].0, 7);
        assert!(facts.named.contains(&company.id));
        assert_eq!(facts.entries(), 2);
    }
}
