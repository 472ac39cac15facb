//! What a run would change, found before it writes anything, in the source's snapshot: each
//! legacy marker of the table (a row imported earlier) against the row the source holds now,
//! as the run will compare them. A row the same as imported (the same digest, or making the
//! same company) is unchanged; one changed since whose company is still as the import left it
//! is to update (the run rewrites the company); a row gone is deleted with
//! `--carry-deletions` (counted while its company still exists). When the run would rewrite
//! more than [`MASS_UPDATE_PERCENT`] of the imported companies, or none of them is unchanged,
//! the source is likely not the database they came from (another stage's, a test copy, an
//! empty restore): the run writes nothing unless `--allow-mass-update` says it is meant.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use companies::now;
use companies_store::{CompanyImporter, LegacyImport, MarkerPage};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_postgres::Transaction;

use super::catch_up::{compare, Comparison};
use super::retry::backing_off;
use super::{Options, Summary, WriteOutcome};
use crate::legacy::{self, LegacyCompany, MappedCompany};
use crate::source;

/// A run refuses to rewrite more than this share of the imported companies (or to run when
/// none of them is unchanged) without `--allow-mass-update`.
pub const MASS_UPDATE_PERCENT: u64 = 10;

/// Why a run is refused as a mass update.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MassUpdate {
    #[error(
        "refusing to run: none of the {imported} imported companies is in the source as it was \
         imported{empty} (an empty or wrong database?)",
        empty = if *source_rows == 0 { ", which holds no company at all" } else { "" }
    )]
    NoneUnchanged { imported: u64, source_rows: u64 },
    #[error(
        "refusing to rewrite {changed} of the {imported} imported companies ({percent} %, more \
         than {limit} %), changed in the source since they were imported: is this the right \
         source database?",
        percent = share_percent(*changed, *imported),
        limit = MASS_UPDATE_PERCENT
    )]
    TooLargeAShare { changed: u64, imported: u64 },
}

/// Whether rewriting `changed` of `imported` companies, `unchanged` of them the same in the
/// source (which holds `source_rows` companies), is a mass update (refused unless allowed).
pub fn mass_update(
    changed: u64,
    unchanged: u64,
    imported: u64,
    source_rows: u64,
) -> Option<MassUpdate> {
    if imported == 0 {
        None
    } else if changed * 100 > imported * MASS_UPDATE_PERCENT {
        Some(MassUpdate::TooLargeAShare { changed, imported })
    } else if unchanged == 0 {
        Some(MassUpdate::NoneUnchanged {
            imported,
            source_rows,
        })
    } else {
        None
    }
}

/// `part` of `whole` in percent, to one decimal.
pub fn share_percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

/// Walks the table's legacy markers a page at a time, reading their rows from the source
/// (`tx`), and counts in `summary` the rows imported, unchanged and to update. Returns the
/// rows gone from the source whose company still exists (looked for with `carry_deletions`
/// only). What needs a read of the table (a row whose digest differs, a row gone) is read
/// `options.concurrency` at a time.
pub(super) async fn preview<S: CompanyImporter + Clone + 'static>(
    store: &S,
    tx: &Transaction<'_>,
    options: &Options,
    summary: &mut Summary,
) -> anyhow::Result<Vec<i32>> {
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut from = None;
    let mut gone = Vec::new();
    loop {
        let (page, next) = legacy_markers_page(store, from.take()).await?;
        summary.rows_imported += page.len() as u64;
        let page: Vec<(i32, LegacyImport)> = page
            .into_iter()
            .filter_map(|(id, marker)| Some((i32::try_from(id).ok()?, marker)))
            .collect();
        let ids: Vec<i32> = page.iter().map(|(id, _)| *id).collect();
        let mut rows: HashMap<i32, LegacyCompany> = source::companies_by_id(tx, &ids)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let mut checks = JoinSet::new();
        for (id, marker) in page {
            let check = match rows.remove(&id) {
                Some(row) if marker.source.as_deref() == Some(row.digest().as_str()) => {
                    summary.rows_unchanged += 1;
                    continue;
                }
                // A row refused now is reported by the run, not written.
                Some(row) => {
                    match legacy::map_company(&row, options.missing_created, now()).company {
                        Some(mapped) => Check::Compare(Box::new(mapped), marker),
                        None => continue,
                    }
                }
                None if summary.carry_deletions => Check::Exists(id, marker),
                None => continue,
            };
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .context("the read permits were closed")?;
            let store = store.clone();
            checks.spawn(async move {
                let found = check.run(&store).await;
                drop(permit);
                found
            });
        }
        while let Some(found) = checks.join_next().await {
            match found.context("a read of the preview failed")?? {
                Found::Unchanged => summary.rows_unchanged += 1,
                Found::ToUpdate => summary.rows_to_update += 1,
                Found::Gone(id) => gone.push(id),
                Found::Neither => {}
            }
        }
        match next {
            Some(position) => from = Some(position),
            None => break,
        }
    }
    summary.rows_gone = gone.len() as u64;
    summary.update_share_percent = share_percent(summary.rows_to_update, summary.rows_imported);
    Ok(gone)
}

/// A row imported earlier whose company must be read to say what the run will do with it.
enum Check {
    /// Its row changed (another digest, or none recorded): is the company to update?
    Compare(Box<MappedCompany>, LegacyImport),
    /// Its row is gone: does its company still exist?
    Exists(i32, LegacyImport),
}

/// What a [`Check`] found.
enum Found {
    Unchanged,
    ToUpdate,
    Gone(i32),
    /// Changed on both sides (reported by the run), or gone with its company.
    Neither,
}

impl Check {
    async fn run<S: CompanyImporter>(self, store: &S) -> anyhow::Result<Found> {
        Ok(match self {
            Check::Compare(mapped, marker) => {
                let what = format!("comparing client_company {}", mapped.legacy_id);
                match backing_off(&what, || compare(store, &mapped, &marker)).await? {
                    Comparison::Settled(WriteOutcome::AlreadyPresent) => Found::Unchanged,
                    Comparison::Settled(_) => Found::Neither,
                    Comparison::Rewrite { .. } => Found::ToUpdate,
                }
            }
            Check::Exists(id, marker) => {
                let what = format!("reading the company of client_company {id}");
                match backing_off(&what, || store.get(marker.company)).await? {
                    Some(_) => Found::Gone(id),
                    None => Found::Neither,
                }
            }
        })
    }
}

/// Whether the run stops here, as a mass update not allowed ([`mass_update`]), the source
/// holding `source_rows` companies: a run fails, having written nothing; a dry run says a run
/// would stop, and ends.
pub(super) fn stops_here(
    allow_mass_update: bool,
    source_rows: u64,
    summary: &mut Summary,
) -> anyhow::Result<bool> {
    let refusal = mass_update(
        summary.rows_to_update,
        summary.rows_unchanged,
        summary.rows_imported,
        source_rows,
    );
    let (Some(why), false) = (refusal, allow_mass_update) else {
        return Ok(false);
    };
    summary.mass_update_refused = true;
    if summary.dry_run {
        eprintln!("companies-import: a run would stop here, {why} (--allow-mass-update if so)");
        return Ok(true);
    }
    bail!(
        "{why} Nothing was written; if the changes are meant, run again with \
         --allow-mass-update (--dry-run first shows the counts)"
    )
}

/// The page of the table's legacy markers from `from`, backing off while DynamoDB is
/// unavailable: every attempt reads from `from`.
async fn legacy_markers_page<S: CompanyImporter>(
    store: &S,
    from: Option<S::MarkerPosition>,
) -> anyhow::Result<MarkerPage<S::MarkerPosition>> {
    backing_off("reading the legacy markers", || {
        store.legacy_imports(from.clone())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::super::catch_up::write_company;
    use super::super::test_store::{audit, mapped, row, FlakyStore};
    use super::*;

    #[test]
    fn a_mass_update_is_more_than_a_tenth_or_nothing_unchanged() {
        assert_eq!(mass_update(0, 0, 0, 0), None, "nothing imported yet");
        assert_eq!(mass_update(10, 90, 100, 100), None);
        assert!(mass_update(11, 89, 100, 100).is_some());
        assert!(mass_update(1, 4, 5, 5).is_some(), "1 of 5 is 20 %");
        let none = mass_update(0, 0, 3, 0).unwrap().to_string();
        assert!(
            none.contains("none of the 3") && none.contains("holds no company"),
            "{none}"
        );
        let gone = mass_update(0, 0, 3, 7).unwrap().to_string();
        assert!(!gone.contains("holds no company"), "{gone}");
        assert!(mass_update(2, 1, 3, 3)
            .unwrap()
            .to_string()
            .contains("2 of the 3 imported companies (66.7 %"));
    }

    /// A page read again after a failure is read from where the failed attempt was, not from
    /// the start: the walk meets every marker once and asks each position twice.
    #[tokio::test]
    async fn a_page_of_markers_is_read_again_from_where_it_failed() {
        let store = FlakyStore::default();
        for id in 1..=150 {
            let written = write_company(&store, &mapped(&row(id)), &audit(), false).await;
            assert!(matches!(written, Ok(WriteOutcome::New)));
        }
        let mut met = Vec::new();
        let mut from = None;
        loop {
            let (page, next) = legacy_markers_page(&store, from.take()).await.unwrap();
            met.extend(page.into_iter().map(|(id, _)| id));
            match next {
                Some(position) => from = Some(position),
                None => break,
            }
        }
        met.sort_unstable();
        assert_eq!(met, (1..=150).collect::<Vec<i64>>());
        assert_eq!(
            *store.asked.lock().unwrap(),
            [None, None, Some(100), Some(100)]
        );
    }
}
