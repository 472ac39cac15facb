//! The deletion sweep (`--carry-deletions`): the companies imported from rows the source no
//! longer holds are deleted, unless that many deletions look like a wrong source, and unless a
//! company was changed through the API since its import.

use std::io::Write;

use anyhow::bail;
use companies::{now, Audit};
use companies_store::{CompanyDeleter, CompanyImporter, StoreError};

use super::retry::{backing_off, rereading_on_concurrent_change, unless_changed_in_between};
use super::{Summary, WriteOutcome};
use crate::legacy::{self, SinceImport};

/// A run carrying deletions over refuses to delete more than this share of the imported
/// companies (or any, when the source holds no company) without `--allow-mass-delete`: an
/// empty or wrong source database (a fresh restore, another stage's) must not empty the table.
pub const MASS_DELETE_PERCENT: u64 = 10;

/// Why deleting the companies of the rows gone from the source is refused as a mass deletion.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MassDeletion {
    #[error(
        "refusing to delete the {gone} imported companies: the source holds no company at \
         all (an empty or wrong database?)"
    )]
    EmptySource { gone: u64 },
    #[error(
        "refusing to delete {gone} of the {imported} imported companies ({percent} %, more \
         than {limit} %): is this the right source database?",
        limit = MASS_DELETE_PERCENT
    )]
    TooLargeAShare {
        gone: u64,
        imported: u64,
        percent: u64,
    },
}

/// Whether deleting `gone` of `imported` companies, with `source_rows` rows in the source, is
/// a mass deletion (refused unless allowed).
pub fn mass_deletion(gone: u64, imported: u64, source_rows: u64) -> Option<MassDeletion> {
    if gone == 0 {
        return None;
    }
    let percent = gone * 100 / imported.max(1);
    if source_rows == 0 {
        Some(MassDeletion::EmptySource { gone })
    } else if gone * 100 > imported * MASS_DELETE_PERCENT {
        Some(MassDeletion::TooLargeAShare {
            gone,
            imported,
            percent,
        })
    } else {
        None
    }
}

/// Deletes the companies imported from rows the source no longer holds (`gone`, found by
/// [`preview`](super::preview::preview): the rows whose company still exists): unless that is
/// a mass deletion not allowed ([`mass_deletion`]), the company of each
/// ([`delete_company_of_gone_row`]).
pub(super) async fn carry_deletions<S: CompanyImporter + CompanyDeleter>(
    store: &S,
    gone: Vec<i32>,
    audit: &Audit,
    allow_mass_delete: bool,
    rejects: &mut dyn Write,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let dry_run = summary.dry_run;
    let refusal = mass_deletion(
        summary.rows_gone,
        summary.rows_imported,
        summary.companies_read,
    );
    if let (Some(why), false) = (refusal, allow_mass_delete) {
        summary.mass_delete_refused = true;
        if dry_run {
            eprintln!("companies-import: a run would stop here, {why} (--allow-mass-delete if so)");
            return Ok(());
        }
        bail!(
            "{why} Nothing was deleted; if the deletions are meant, run again with \
             --allow-mass-delete"
        );
    }
    for id in gone {
        let what = format!("deleting the company of client_company {id}");
        match backing_off(&what, || {
            delete_company_of_gone_row(store, id, audit, dry_run)
        })
        .await?
        {
            WriteOutcome::Deleted => summary.companies_deleted += 1,
            WriteOutcome::ChangedOnBothSides(report) => summary.record_report(rejects, &report)?,
            _ => {}
        }
    }
    Ok(())
}

/// The company imported from the row `legacy_id`, which the source no longer holds: deleted
/// (with its history entry) while it is still as an import left it; reported when it was
/// changed through the API since. Nothing to do if it is gone already. A dry run deletes
/// nothing.
async fn delete_company_of_gone_row<S: CompanyImporter + CompanyDeleter>(
    store: &S,
    legacy_id: i32,
    audit: &Audit,
    dry_run: bool,
) -> Result<WriteOutcome, StoreError> {
    rereading_on_concurrent_change(|| {
        delete_company_of_gone_row_once(store, legacy_id, audit, dry_run)
    })
    .await
}

/// One attempt of [`delete_company_of_gone_row`]: `None` when the company changed between its
/// read and the delete.
async fn delete_company_of_gone_row_once<S: CompanyImporter + CompanyDeleter>(
    store: &S,
    legacy_id: i32,
    audit: &Audit,
    dry_run: bool,
) -> Result<Option<WriteOutcome>, StoreError> {
    let Some(marker) = store.legacy_import(i64::from(legacy_id)).await? else {
        return Ok(Some(WriteOutcome::AlreadyPresent));
    };
    let Some(current) = store.get(marker.company).await? else {
        return Ok(Some(WriteOutcome::AlreadyPresent));
    };
    if current.version != marker.version {
        return Ok(Some(WriteOutcome::ChangedOnBothSides(
            legacy::changed_on_both_sides(
                legacy_id,
                SinceImport::Deleted,
                &current,
                marker.version,
            ),
        )));
    }
    if dry_run {
        return Ok(Some(WriteOutcome::Deleted));
    }
    let entry = audit.deleted(&current, now());
    let deleted = store.delete(&current, Some(&entry)).await;
    unless_changed_in_between(deleted, WriteOutcome::Deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mass_deletion_is_more_than_a_tenth_or_an_empty_source() {
        assert_eq!(mass_deletion(0, 100, 0), None);
        assert_eq!(mass_deletion(10, 100, 90), None);
        assert!(mass_deletion(11, 100, 89).is_some());
        assert!(mass_deletion(1, 1, 0)
            .unwrap()
            .to_string()
            .contains("no company"));
        assert!(mass_deletion(1, 5, 4).is_some(), "1 of 5 is 20 %");
    }
}
