//! CNPJ markers against the companies. A marker (`TAXID#<cnpj>` → company) is right when the
//! company it names exists and holds that CNPJ, and no other company does. What a restore can
//! leave instead, and what is done:
//!
//! - a marker whose company is gone or holds another CNPJ (or none), while no company holds
//!   its CNPJ: deleted;
//! - a company holding a CNPJ that has no marker, or whose marker is stale in that way: the
//!   marker is written for it;
//! - a CNPJ held by more than one company: a conflict, reported and left as it is (a stale
//!   marker stays too: it keeps a third company from taking the CNPJ meanwhile).
//!
//! Each fix reads the marker and every company concerned again, together, and writes on
//! condition that each of those companies is still at the version read (or still absent).
//! That also holds the marker: every write of the API that touches a marker is conditioned on
//! it being free or held by the writing company, so while the company a marker names is
//! unchanged, no one else changes the marker.

use std::collections::{BTreeSet, HashSet};

use uuid::Uuid;

use super::super::items::{company_key, from_item, marker_holder, marker_item, tax_id_key};
use super::super::reindex::ReindexOptions;
use super::super::writes::{Action, Condition, StepKind};
use super::super::DynamoStore;
use super::facts::{Facts, MarkerHolder};
use super::reads::{as_read, each, kept_changing, step, ATTEMPTS};
use super::report::{Failure, Kind, MarkerDeleted, MarkerWritten, RepairReport, TaxIdConflict};
use crate::StoreError;
use companies::{Cnpj, Company};

/// What to do about one CNPJ, given its marker (`None`: there is none) and the companies that
/// hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    Keep,
    Delete,
    /// Write the marker for this company.
    Write(Uuid),
    Conflict,
}

pub(super) fn plan(marker: Option<MarkerHolder>, holders: &BTreeSet<Uuid>) -> Plan {
    if let Some(Some(holder)) = marker {
        if holders.contains(&holder) {
            return if holders.len() == 1 {
                Plan::Keep
            } else {
                Plan::Conflict
            };
        }
    }
    let mut holders = holders.iter();
    match (holders.next(), holders.next()) {
        (None, _) if marker.is_some() => Plan::Delete,
        (None, _) => Plan::Keep,
        (Some(only), None) => Plan::Write(*only),
        (Some(_), Some(_)) => Plan::Conflict,
    }
}

/// What was done (or would be) about one CNPJ.
enum Outcome {
    Deleted(MarkerDeleted),
    Written(MarkerWritten),
    Conflict(TaxIdConflict),
}

impl DynamoStore {
    /// Sets every CNPJ marker right (see the module's documentation) into `report`.
    pub(super) async fn repair_tax_ids(
        &self,
        facts: &Facts,
        options: ReindexOptions,
        report: &mut RepairReport,
    ) -> Result<(), StoreError> {
        report.tax_id_markers.markers = facts.markers.len() as u64;
        let holders = facts.holders();
        let cnpjs: HashSet<&Cnpj> = facts
            .markers
            .keys()
            .chain(holders.keys().copied())
            .collect();
        let work: Vec<(Cnpj, BTreeSet<Uuid>)> = cnpjs
            .into_iter()
            .map(|cnpj| (cnpj, holders.get(cnpj).cloned().unwrap_or_default()))
            .filter(|(cnpj, seen)| plan(facts.markers.get(*cnpj).copied(), seen) != Plan::Keep)
            .map(|(cnpj, seen)| (cnpj.clone(), seen))
            .collect();
        let dry_run = options.dry_run;
        let outcomes = each(
            self,
            work,
            options.concurrency,
            |store, (cnpj, seen)| async move {
                let outcome = store.repair_tax_id(&cnpj, &seen, dry_run).await;
                (cnpj, outcome)
            },
        )
        .await?;
        let markers = &mut report.tax_id_markers;
        for (cnpj, outcome) in outcomes {
            match outcome {
                Ok(None) => {}
                Ok(Some(Outcome::Deleted(d))) => markers.deleted.push(d),
                Ok(Some(Outcome::Written(w))) => markers.written.push(w),
                Ok(Some(Outcome::Conflict(c))) => markers.conflicts.push(c),
                Err(e) => report.failed.push(Failure {
                    kind: Kind::TaxIdMarkers,
                    subject: cnpj.masked(),
                    error: e.to_string(),
                }),
            }
        }
        markers.deleted.sort_by(|a, b| a.cnpj.cmp(&b.cnpj));
        markers.written.sort_by(|a, b| a.cnpj.cmp(&b.cnpj));
        markers.conflicts.sort_by(|a, b| a.cnpj.cmp(&b.cnpj));
        Ok(())
    }

    /// Sets the marker of `cnpj` right, the scan having seen it held by `seen`.
    async fn repair_tax_id(
        &self,
        cnpj: &Cnpj,
        seen: &BTreeSet<Uuid>,
        dry_run: bool,
    ) -> Result<Option<Outcome>, StoreError> {
        for _ in 0..ATTEMPTS {
            let first = self.get_item(tax_id_key(cnpj)).await?;
            let named = first.as_ref().and_then(marker_holder);
            let ids: Vec<Uuid> = seen
                .iter()
                .copied()
                .chain(named)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut keys = vec![tax_id_key(cnpj)];
            keys.extend(ids.iter().map(|id| company_key(*id)));
            let mut read = self.read_together(keys).await?.into_iter();
            let marker = read.next().flatten().map(|m| marker_holder(&m));
            if marker != first.as_ref().map(marker_holder) {
                // The marker changed hands between the two reads: read again.
                continue;
            }
            let companies = ids
                .iter()
                .zip(read)
                .map(|(id, item)| Ok((*id, item.map(from_item).transpose()?)))
                .collect::<Result<Vec<(Uuid, Option<Company>)>, StoreError>>()?;
            let holders: BTreeSet<Uuid> = companies
                .iter()
                .filter(|(_, c)| c.as_ref().is_some_and(|c| c.tax_id.as_ref() == Some(cnpj)))
                .map(|(id, _)| *id)
                .collect();
            let version = |id: Uuid| {
                companies
                    .iter()
                    .find(|(c, _)| *c == id)
                    .and_then(|(_, c)| c.as_ref().map(|c| c.version))
            };
            let held_by = marker.flatten();
            let stale = held_by.map(|h| as_read(h, version(h)));
            let (outcome, steps) = match plan(marker, &holders) {
                Plan::Keep => return Ok(None),
                Plan::Conflict => {
                    return Ok(Some(Outcome::Conflict(TaxIdConflict {
                        cnpj: cnpj.masked(),
                        marker: held_by,
                        holders: holders.into_iter().collect(),
                    })))
                }
                Plan::Delete => {
                    let delete = step(StepKind::FreeTaxId, Action::Delete(tax_id_key(cnpj)), None);
                    let deleted = MarkerDeleted {
                        cnpj: cnpj.masked(),
                        held_by,
                    };
                    (
                        Outcome::Deleted(deleted),
                        stale.into_iter().chain([delete]).collect(),
                    )
                }
                Plan::Write(company) => {
                    // Over no marker only if there is still none; over a stale one as read.
                    let free = marker.is_none().then(Condition::absent);
                    let put = step(
                        StepKind::TakeTaxId,
                        Action::Put(marker_item(cnpj, company)),
                        free,
                    );
                    let written = MarkerWritten {
                        cnpj: cnpj.masked(),
                        company,
                        replaced: held_by,
                    };
                    let steps = [as_read(company, version(company))]
                        .into_iter()
                        .chain(stale)
                        .chain([put])
                        .collect();
                    (Outcome::Written(written), steps)
                }
            };
            if dry_run {
                return Ok(Some(outcome));
            }
            match self.write_fix(steps).await {
                Ok(()) => return Ok(Some(outcome)),
                // A company or the marker changed since read: decide again.
                Err(StoreError::VersionConflict | StoreError::TaxIdTaken(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(kept_changing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_kept_deleted_written_or_left_to_a_person() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let set = |ids: &[Uuid]| ids.iter().copied().collect::<BTreeSet<_>>();
        // Held by the one company that holds it.
        assert_eq!(plan(Some(Some(a)), &set(&[a])), Plan::Keep);
        // Nobody holds it: a marker of a company gone, or naming none, goes.
        assert_eq!(plan(Some(Some(a)), &set(&[])), Plan::Delete);
        assert_eq!(plan(Some(None), &set(&[])), Plan::Delete);
        // One company holds it without its marker, or with a stale marker in its way.
        assert_eq!(plan(None, &set(&[b])), Plan::Write(b));
        assert_eq!(plan(Some(Some(a)), &set(&[b])), Plan::Write(b));
        assert_eq!(plan(Some(None), &set(&[b])), Plan::Write(b));
        // Two hold it: whatever the marker says, a person decides.
        assert_eq!(plan(Some(Some(a)), &set(&[a, b])), Plan::Conflict);
        assert_eq!(plan(None, &set(&[b, c])), Plan::Conflict);
        assert_eq!(plan(Some(Some(a)), &set(&[b, c])), Plan::Conflict);
        assert_eq!(plan(None, &set(&[])), Plan::Keep);
    }
}
