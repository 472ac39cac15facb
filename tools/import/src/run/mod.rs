//! One import: read the source, map each company, write it (bounded concurrency, backing off
//! while DynamoDB throttles), report every refused or merged row, and count.
//!
//! - this module: the run loop, from the source's snapshot to the flushed rejects file;
//! - [`preview`]: before anything is written, what the run would change (and the refusal of a
//!   mass update);
//! - [`catch_up`]: writing one company, and bringing one imported earlier up to date;
//! - [`deletions`]: the sweep deleting the companies of rows gone from the source;
//! - [`retry`]: trying a step again while DynamoDB is unavailable, or after another writer
//!   changed the company in between;
//! - [`summary`]: the counts, the rejects file's lines, and the report printed at the end.

mod catch_up;
mod deletions;
mod preview;
mod retry;
mod summary;

#[cfg(test)]
mod test_store;

pub use summary::Summary;

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use companies::{now, Audit, ChangeKind};
use companies_store::{CompanyDeleter, CompanyImporter};
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio_postgres::Transaction;

use crate::legacy::{self, MissingCreated, RowReport};
use crate::progress::Progress;
use crate::source;

pub struct Options {
    /// Write nothing: with a table, say what a run would write, update and delete.
    pub dry_run: bool,
    pub concurrency: usize,
    pub missing_created: MissingCreated,
    /// Who the history entries name as the actor.
    pub actor: String,
    /// Identifies this run in the history entries (`request_id`).
    pub run_id: String,
    /// Delete the companies imported from rows the source no longer holds.
    pub carry_deletions: bool,
    /// Carry deletions over even past [`deletions::MASS_DELETE_PERCENT`], or from an empty
    /// source.
    pub allow_mass_delete: bool,
    /// Write even when the run would rewrite more than [`preview::MASS_UPDATE_PERCENT`] of
    /// the imported companies, or none of them is unchanged in the source.
    pub allow_mass_update: bool,
}

/// A run that did not finish: what it counted until then (printed as the summary, so the
/// operator sees how far it got) and why it stopped.
pub struct RunError {
    pub summary: Summary,
    pub cause: anyhow::Error,
}

/// How writing (or deleting) one company ended.
enum WriteOutcome {
    New,
    /// Imported already, and the row has not changed since (or the company was deleted
    /// through the API since: it is not brought back).
    AlreadyPresent,
    /// Imported already; the row's change since was carried over.
    Updated,
    /// Imported already; the row is gone from the source, and so is the company now.
    Deleted,
    /// Imported already; the row changed (or is gone) since, and the company was changed
    /// through the API: not overwritten, reported.
    ChangedOnBothSides(RowReport),
}

/// A write task's result: the number of accounts of its company, and how the write ended.
type FinishedWrite = Result<(usize, anyhow::Result<WriteOutcome>), JoinError>;

/// Runs the import from `database` (`None`: libpq's variables) into `store`.
pub async fn run<S: CompanyImporter + CompanyDeleter + Clone + 'static>(
    database: Option<&str>,
    store: Option<S>,
    options: &Options,
    rejects: &mut dyn Write,
    progress: &mut Progress,
) -> Result<Summary, RunError> {
    let mut summary = Summary {
        dry_run: options.dry_run,
        read_table: store.is_some(),
        carry_deletions: options.carry_deletions && store.is_some(),
        ..Summary::default()
    };
    match import_all(database, store, options, rejects, progress, &mut summary).await {
        Ok(()) => Ok(summary),
        Err(cause) => Err(RunError { summary, cause }),
    }
}

/// Reads the source in one snapshot: with a table, what the run would change
/// ([`preview::preview`], refused as a mass update unless allowed); then its companies
/// (written as they are mapped), its orphan accounts, and (when asked) the companies of rows
/// gone from it.
async fn import_all<S: CompanyImporter + CompanyDeleter + Clone + 'static>(
    database: Option<&str>,
    store: Option<S>,
    options: &Options,
    rejects: &mut dyn Write,
    progress: &mut Progress,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut client = source::connect(database).await?;
    let tx = source::snapshot(&mut client).await?;
    let (companies, _) = source::counts(&tx).await?;
    let audit = Arc::new(Audit {
        operation: ChangeKind::Import,
        actor: options.actor.clone(),
        request_id: options.run_id.clone(),
        lambda_request_id: None,
    });
    let store = store.as_ref();
    let mut gone = Vec::new();
    if let Some(store) = store {
        gone = preview::preview(store, &tx, options, summary).await?;
        if preview::stops_here(options.allow_mass_update, companies, summary)? {
            return Ok(());
        }
    }
    progress.start(companies);
    import_companies(&tx, store, &audit, options, rejects, progress, summary).await?;
    report_orphan_accounts(&tx, rejects, summary).await?;
    if let (Some(store), true) = (store, summary.carry_deletions) {
        let audit = Audit {
            operation: ChangeKind::Delete,
            ..Audit::clone(&audit)
        };
        deletions::carry_deletions(
            store,
            gone,
            &audit,
            options.allow_mass_delete,
            rejects,
            summary,
        )
        .await?;
    }
    rejects.flush().context("cannot write the rejects file")?;
    progress.finish();
    Ok(())
}

/// Maps every company of the source and, with a table, writes each valid one:
/// `options.concurrency` at a time, each write a task. The first failed write stops the reading;
/// the writes under way are awaited and counted.
async fn import_companies<S: CompanyImporter + Clone + 'static>(
    tx: &Transaction<'_>,
    store: Option<&S>,
    audit: &Arc<Audit>,
    options: &Options,
    rejects: &mut dyn Write,
    progress: &mut Progress,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut writes: JoinSet<(usize, anyhow::Result<WriteOutcome>)> = JoinSet::new();
    let mut failure = None;
    let mut rows = source::CompanyRows::open(tx).await?;
    'read: loop {
        let batch = rows.next_batch().await?;
        if batch.is_empty() {
            break;
        }
        for legacy in batch {
            summary.companies_read += 1;
            summary.accounts_read += legacy.accounts.len() as u64;
            let mapping = legacy::map_company(&legacy, options.missing_created, now());
            for report in &mapping.reports {
                summary.record_report(rejects, report)?;
            }
            let Some(mapped) = mapping.company else {
                progress.advance(1);
                continue;
            };
            summary.companies_valid += 1;
            summary.accounts_valid += mapped.company.bank_accounts.len() as u64;
            let Some(store) = store else {
                progress.advance(1);
                continue;
            };
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .context("the write permits were closed")?;
            let (store, audit, dry_run) = (store.clone(), Arc::clone(audit), options.dry_run);
            writes.spawn(async move {
                let outcome = catch_up::write_company(&store, &mapped, &audit, dry_run).await;
                drop(permit);
                (mapped.company.bank_accounts.len(), outcome)
            });
            while let Some(done) = writes.try_join_next() {
                if let Err(e) = count_finished_write(done, rejects, summary, progress) {
                    failure = Some(e);
                    break 'read;
                }
            }
        }
    }
    while let Some(done) = writes.join_next().await {
        if let Err(e) = count_finished_write(done, rejects, summary, progress) {
            failure.get_or_insert(e);
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reports every account row that belongs to no company (counted as read).
async fn report_orphan_accounts(
    tx: &Transaction<'_>,
    rejects: &mut dyn Write,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut orphans = source::OrphanAccountIds::open(tx).await?;
    loop {
        let ids = orphans.next_batch().await?;
        if ids.is_empty() {
            return Ok(());
        }
        summary.accounts_read += ids.len() as u64;
        for id in ids {
            summary.record_report(rejects, &legacy::orphan_account(id))?;
        }
    }
}

/// Counts a finished write task in the summary (and its report in the rejects file), and
/// advances the progress; the write's failure, or the task's, is the run's.
fn count_finished_write(
    done: FinishedWrite,
    rejects: &mut dyn Write,
    summary: &mut Summary,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let (accounts, outcome) = done.context("a write task failed")?;
    match outcome? {
        WriteOutcome::New => {
            summary.companies_written += 1;
            summary.accounts_written += accounts as u64;
        }
        WriteOutcome::AlreadyPresent => {
            summary.companies_already_present += 1;
            summary.accounts_already_present += accounts as u64;
        }
        WriteOutcome::Updated => summary.companies_updated += 1,
        WriteOutcome::Deleted => summary.companies_deleted += 1,
        WriteOutcome::ChangedOnBothSides(report) => summary.record_report(rejects, &report)?,
    }
    progress.advance(1);
    Ok(())
}
