//! Writing one company: a first import in one transaction with its marker, or, for a row
//! imported already (by an earlier run, or by this one before a lost reply), the catch-up that
//! carries over what changed in the Flask service since, unless the company was changed through
//! the API as well.

use companies::history::representation;
use companies::{now, Audit, Company};
use companies_store::{CompanyImporter, LegacyImport, StoreError};

use super::retry::{backing_off, rereading_on_concurrent_change, unless_changed_in_between};
use super::WriteOutcome;
use crate::legacy::{self, MappedCompany, SinceImport};

/// Writes one company, backing off while the store is unavailable. A row imported already is
/// not an error: see [`catch_up`].
pub(super) async fn write_company<S: CompanyImporter>(
    store: &S,
    mapped: &MappedCompany,
    audit: &Audit,
    dry_run: bool,
) -> anyhow::Result<WriteOutcome> {
    let what = format!("writing client_company {}", mapped.legacy_id);
    backing_off(&what, || write_company_once(store, mapped, audit, dry_run)).await
}

/// Writes one company, or in a dry run says what writing it would do.
async fn write_company_once<S: CompanyImporter>(
    store: &S,
    mapped: &MappedCompany,
    audit: &Audit,
    dry_run: bool,
) -> Result<WriteOutcome, StoreError> {
    let legacy_id = i64::from(mapped.legacy_id);
    if dry_run {
        return catch_up(store, mapped, audit, true).await;
    }
    let entry = audit.imported(
        &mapped.company,
        legacy_id,
        mapped.legacy_created.clone(),
        now(),
    );
    match store
        .import(&mapped.company, legacy_id, &mapped.source, &entry)
        .await
    {
        Ok(()) => Ok(WriteOutcome::New),
        Err(StoreError::AlreadyExists) => catch_up(store, mapped, audit, false).await,
        Err(e) => Err(e),
    }
}

/// A row imported already (in a dry run, any row: one without a marker is new): whether it
/// changed in the Flask service since (its digest against the one its marker records), and if
/// so whether the company is still as that import left it (its version against the marker's).
/// Then the change is carried over in one transaction with the marker (not in a dry run); a
/// company changed through the API as well is left as it is and reported.
async fn catch_up<S: CompanyImporter>(
    store: &S,
    mapped: &MappedCompany,
    audit: &Audit,
    dry_run: bool,
) -> Result<WriteOutcome, StoreError> {
    rereading_on_concurrent_change(|| catch_up_once(store, mapped, audit, dry_run)).await
}

/// One attempt of [`catch_up`]: `None` when the company changed between its read and the
/// write.
async fn catch_up_once<S: CompanyImporter>(
    store: &S,
    mapped: &MappedCompany,
    audit: &Audit,
    dry_run: bool,
) -> Result<Option<WriteOutcome>, StoreError> {
    let legacy_id = i64::from(mapped.legacy_id);
    let Some(marker) = store.legacy_import(legacy_id).await? else {
        if dry_run {
            // Never imported: the run will write it.
            return Ok(Some(WriteOutcome::New));
        }
        // The company's id is taken without a marker: no import wrote it.
        return Err(StoreError::Internal(format!(
            "company {} exists, but not as the import of this row",
            mapped.company.id
        )));
    };
    let (current, next) = match compare(store, mapped, &marker).await? {
        Comparison::Settled(outcome) => return Ok(Some(outcome)),
        Comparison::Rewrite { current, next } => (current, next),
    };
    if dry_run {
        return Ok(Some(WriteOutcome::Updated));
    }
    let entry = audit.reimported(&current, &next, legacy_id, mapped.legacy_created.clone());
    let written = store
        .reimport(&current, &next, legacy_id, &mapped.source, &entry)
        .await;
    unless_changed_in_between(written, WriteOutcome::Updated)
}

/// What a run does with the company imported from `mapped`'s row, whose marker is `marker`.
pub(super) enum Comparison {
    /// Nothing to write: already present, or changed on both sides (reported).
    Settled(WriteOutcome),
    /// The row changed since, and the company is still as the import left it: `current` is
    /// rewritten as `next`.
    Rewrite {
        current: Box<Company>,
        next: Box<Company>,
    },
}

/// Whether the row changed in the Flask service since `marker`'s import (its digest against
/// the one the marker records, then the company the row makes against the stored one), and if
/// so whether the company is still as that import left it (its version against the marker's).
pub(super) async fn compare<S: CompanyImporter>(
    store: &S,
    mapped: &MappedCompany,
    marker: &LegacyImport,
) -> Result<Comparison, StoreError> {
    let present = Ok(Comparison::Settled(WriteOutcome::AlreadyPresent));
    if marker.source.as_deref() == Some(mapped.source.as_str()) {
        return present;
    }
    let Some(current) = store.get(marker.company).await? else {
        return present;
    };
    let next = mapped.rebased(&current, now());
    if representation(&next) == representation(&current) {
        return present;
    }
    if current.version != marker.version {
        return Ok(Comparison::Settled(WriteOutcome::ChangedOnBothSides(
            legacy::changed_on_both_sides(
                mapped.legacy_id,
                SinceImport::Changed,
                &current,
                marker.version,
            ),
        )));
    }
    Ok(Comparison::Rewrite {
        current: Box::new(current),
        next: Box::new(next),
    })
}

#[cfg(test)]
mod tests {
    use companies_store::CompanyReader;

    use super::super::test_store::{audit, mapped, row, FlakyStore};
    use super::*;
    use crate::legacy::LegacyCompany;

    /// A change through the API that lands between a catch-up's read and its write makes the
    /// write fail its version condition; the catch-up reads the company again and, the
    /// company no longer being as the import left it, reports the row instead of overwriting.
    #[tokio::test]
    async fn a_company_changed_between_the_read_and_the_write_is_read_again() {
        let store = FlakyStore::default();
        let first = mapped(&row(1));
        let written = write_company(&store, &first, &audit(), false).await;
        assert!(matches!(written, Ok(WriteOutcome::New)));
        let mut api = first.company.clone();
        api.company_name = "Padaria Renomeada".into();
        api.version = 2;
        *store.racing.lock().unwrap() = Some(api.clone());

        let changed = mapped(&LegacyCompany {
            phone: "11954870000".into(),
            ..row(1)
        });
        let written = write_company(&store, &changed, &audit(), false).await;
        assert!(
            matches!(&written, Ok(WriteOutcome::ChangedOnBothSides(r)) if r.code == "changed-on-both-sides"),
            "{:?}",
            written.map(|_| ())
        );
        assert_eq!(store.get(api.id).await.unwrap(), Some(api));
    }
}
