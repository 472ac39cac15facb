//! One import: read the source, map each company, write it (bounded concurrency, backing off
//! while DynamoDB throttles), report every refused or merged row, and count.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use companies::model::{now, Audit, ChangeKind};
use companies::store::{CompanyImporter, StoreError};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::legacy::{self, Mapped, MissingCreated, Outcome, Report};
use crate::progress::Progress;
use crate::source;

/// Attempts at writing one company while DynamoDB is unavailable or throttling (beyond the
/// SDK's own retries), backing off from 200 ms to about 13 s.
const WRITE_ATTEMPTS: u32 = 8;

pub struct Options {
    pub dry_run: bool,
    pub concurrency: usize,
    pub missing_created: MissingCreated,
    /// Who the history entries name as the actor.
    pub actor: String,
    /// Identifies this run in the history entries (`request_id`).
    pub run_id: String,
}

/// The end of a run, printed as the summary.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub companies_read: u64,
    pub accounts_read: u64,
    /// Companies (and their accounts) that pass every rule: what a run writes or finds present.
    pub companies_valid: u64,
    pub accounts_valid: u64,
    pub companies_written: u64,
    pub accounts_written: u64,
    pub companies_already_present: u64,
    pub accounts_already_present: u64,
    /// Rows refused, by rule.
    pub refused: BTreeMap<String, u64>,
    /// Account rows imported as another row of the same company.
    pub merged: u64,
    pub dry_run: bool,
}

impl Summary {
    pub fn refused_rows(&self) -> u64 {
        self.refused.values().sum()
    }

    fn count(&mut self, report: &Report) {
        match report.outcome {
            Outcome::Refused => *self.refused.entry(report.code.clone()).or_default() += 1,
            Outcome::Merged => self.merged += 1,
        }
    }
}

/// How writing one company ended.
enum Written {
    New,
    Already,
}

/// Writes one company, backing off while the store is unavailable. A row imported already (by
/// an earlier run, or by this one before a lost reply) is not an error.
async fn write<S: CompanyImporter>(
    store: &S,
    mapped: &Mapped,
    audit: &Audit,
) -> Result<Written, String> {
    let entry = audit.imported(
        &mapped.company,
        i64::from(mapped.legacy_id),
        mapped.legacy_created.clone(),
        now(),
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store
            .import(&mapped.company, i64::from(mapped.legacy_id), &entry)
            .await
        {
            Ok(()) => return Ok(Written::New),
            Err(StoreError::AlreadyExists) => return Ok(Written::Already),
            Err(StoreError::Unavailable(why)) if attempt < WRITE_ATTEMPTS => {
                let wait = Duration::from_millis(100 << attempt);
                eprintln!(
                    "companies-import: DynamoDB unavailable ({why}); retrying client_company {} \
                     in {wait:?}",
                    mapped.legacy_id
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                return Err(format!(
                    "cannot write client_company {}: {e}",
                    mapped.legacy_id
                ))
            }
        }
    }
}

/// Writes a report line; the rejects file is the record of what was not imported.
fn record(rejects: &mut dyn Write, report: &Report, summary: &mut Summary) -> Result<(), String> {
    summary.count(report);
    let line = serde_json::to_string(report).map_err(|e| e.to_string())?;
    writeln!(rejects, "{line}").map_err(|e| format!("cannot write the rejects file: {e}"))
}

/// Runs the import from `database` into `store`.
pub async fn run<S: CompanyImporter + Clone + 'static>(
    database: &str,
    store: Option<S>,
    options: &Options,
    rejects: &mut dyn Write,
    progress: &mut Progress,
) -> Result<Summary, (Summary, String)> {
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    match import(database, store, options, rejects, progress, &mut summary).await {
        Ok(()) => Ok(summary),
        Err(e) => Err((summary, e)),
    }
}

async fn import<S: CompanyImporter + Clone + 'static>(
    database: &str,
    store: Option<S>,
    options: &Options,
    rejects: &mut dyn Write,
    progress: &mut Progress,
    summary: &mut Summary,
) -> Result<(), String> {
    let mut client = source::connect(database).await?;
    let tx = source::snapshot(&mut client).await?;
    let (companies, _) = source::counts(&tx).await?;
    progress.start(companies);
    let audit = Arc::new(Audit {
        operation: ChangeKind::Import,
        actor: options.actor.clone(),
        request_id: options.run_id.clone(),
    });
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut writes: JoinSet<(usize, Result<Written, String>)> = JoinSet::new();
    let mut failure = None;
    let mut rows = source::Companies::open(&tx).await?;
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
                record(rejects, report, summary)?;
            }
            let Some(mapped) = mapping.company else {
                progress.advance(1);
                continue;
            };
            summary.companies_valid += 1;
            summary.accounts_valid += mapped.company.bank_accounts.len() as u64;
            let Some(store) = store.as_ref() else {
                progress.advance(1);
                continue;
            };
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .map_err(|e| e.to_string())?;
            let (store, audit) = (store.clone(), Arc::clone(&audit));
            writes.spawn(async move {
                let written = write(&store, &mapped, &audit).await;
                drop(permit);
                (mapped.company.bank_accounts.len(), written)
            });
            while let Some(done) = writes.try_join_next() {
                if let Err(e) = tally(done, summary, progress) {
                    failure = Some(e);
                    break 'read;
                }
            }
        }
    }
    while let Some(done) = writes.join_next().await {
        if let Err(e) = tally(done, summary, progress) {
            failure.get_or_insert(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let mut orphans = source::Orphans::open(&tx).await?;
    loop {
        let ids = orphans.next_batch().await?;
        if ids.is_empty() {
            break;
        }
        summary.accounts_read += ids.len() as u64;
        for id in ids {
            record(rejects, &legacy::orphan(id), summary)?;
        }
    }
    rejects
        .flush()
        .map_err(|e| format!("cannot write the rejects file: {e}"))?;
    progress.finish();
    Ok(())
}

fn tally(
    done: Result<(usize, Result<Written, String>), tokio::task::JoinError>,
    summary: &mut Summary,
    progress: &mut Progress,
) -> Result<(), String> {
    let (accounts, written) = done.map_err(|e| format!("a write task failed: {e}"))?;
    match written? {
        Written::New => {
            summary.companies_written += 1;
            summary.accounts_written += accounts as u64;
        }
        Written::Already => {
            summary.companies_already_present += 1;
            summary.accounts_already_present += accounts as u64;
        }
    }
    progress.advance(1);
    Ok(())
}
