//! One import: read the source, map each company, write it (bounded concurrency, backing off
//! while DynamoDB throttles), report every refused or merged row, and count.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use companies::history::representation;
use companies::{now, Audit, ChangeKind};
use companies_store::{Backoff, CompanyDeleter, CompanyImporter, MarkerPage, StoreError};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_postgres::Transaction;

use crate::legacy::{self, Mapped, MissingCreated, Outcome, Report, SinceImport};
use crate::progress::Progress;
use crate::source;

/// Attempts at one step (writing or deleting a company, reading a page of legacy markers)
/// while DynamoDB is unavailable or throttling (beyond the SDK's own retries), backing off from
/// 200 ms to about 13 s.
const WRITE_ATTEMPTS: u32 = 8;
/// Between attempts of a step while DynamoDB is unavailable: long enough, over the attempts,
/// to ride out a throttled table.
const UNAVAILABLE: Backoff = Backoff::new(200, 12_800);

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
    /// Carry deletions over even past [`MASS_DELETE_PERCENT`], or from an empty source.
    pub allow_mass_delete: bool,
}

/// A run carrying deletions over refuses to delete more than this share of the imported
/// companies (or any, when the source holds no company) without `--allow-mass-delete`: an
/// empty or wrong source database (a fresh restore, another stage's) must not empty the table.
pub const MASS_DELETE_PERCENT: u64 = 10;

/// Why deleting `gone` of `imported` companies, with `source_rows` rows in the source, is
/// refused; `None` when it is not.
pub fn mass_delete(gone: u64, imported: u64, source_rows: u64) -> Option<String> {
    if gone == 0 {
        return None;
    }
    let percent = gone * 100 / imported.max(1);
    if source_rows == 0 {
        Some(format!(
            "refusing to delete the {gone} imported companies: the source holds no company at \
             all (an empty or wrong database?)"
        ))
    } else if gone * 100 > imported * MASS_DELETE_PERCENT {
        Some(format!(
            "refusing to delete {gone} of the {imported} imported companies ({percent} %, more \
             than {MASS_DELETE_PERCENT} %): is this the right source database?"
        ))
    } else {
        None
    }
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
    /// Companies imported by an earlier run whose row changed since: the change carried over.
    pub companies_updated: u64,
    /// Companies imported by an earlier run whose row is gone from the source: deleted (with
    /// `carry_deletions`).
    pub companies_deleted: u64,
    /// Whether the run looked for rows deleted from the source.
    pub carry_deletions: bool,
    /// With `carry_deletions`: rows imported by earlier runs (the table's legacy markers), and
    /// how many of them the source no longer holds.
    pub rows_imported: u64,
    pub rows_gone: u64,
    /// Deleting them was refused as a mass deletion (see [`mass_delete`]): nothing deleted.
    pub mass_delete_refused: bool,
    /// Rows refused, by rule.
    pub refused: BTreeMap<String, u64>,
    /// Account rows imported as another row of the same company.
    pub merged: u64,
    pub dry_run: bool,
    /// Whether the run read the table: in a dry run, the counts of companies written, already
    /// present, updated and deleted are what a run would find.
    pub read_table: bool,
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
    /// Imported already, and the row has not changed since (or the company was deleted
    /// through the API since: it is not brought back).
    Already,
    /// Imported already; the row's change since was carried over.
    Updated,
    /// Imported already; the row is gone from the source, and so is the company now.
    Deleted,
    /// Imported already; the row changed since, and so did the company through the API: not
    /// overwritten, reported.
    Conflict(Report),
}

/// Times a catch-up reads the company again after another writer changed it in between.
const CATCH_UP_ATTEMPTS: u32 = 3;

/// Writes one company, backing off while the store is unavailable. A row imported already (by
/// an earlier run, or by this one before a lost reply) is not an error: see [`catch_up`].
async fn write<S: CompanyImporter>(
    store: &S,
    mapped: &Mapped,
    audit: &Audit,
    dry_run: bool,
) -> Result<Written, String> {
    let what = format!("writing client_company {}", mapped.legacy_id);
    backing_off(&what, || write_once(store, mapped, audit, dry_run)).await
}

/// Runs `step` until it ends otherwise than with the store unavailable (throttling past the
/// SDK's retries, timeouts), backing off ([`UNAVAILABLE`]) between attempts.
async fn backing_off<T, F: Future<Output = Result<T, StoreError>>>(
    what: &str,
    mut step: impl FnMut() -> F,
) -> Result<T, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step().await {
            Ok(done) => return Ok(done),
            Err(StoreError::Unavailable(why)) if attempt < WRITE_ATTEMPTS => {
                let wait = UNAVAILABLE.wait(attempt);
                eprintln!(
                    "companies-import: DynamoDB unavailable ({why}); {what} again in {wait:?}"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

/// Writes one company, or in a dry run says what writing it would do.
async fn write_once<S: CompanyImporter>(
    store: &S,
    mapped: &Mapped,
    audit: &Audit,
    dry_run: bool,
) -> Result<Written, StoreError> {
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
        Ok(()) => Ok(Written::New),
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
    mapped: &Mapped,
    audit: &Audit,
    dry_run: bool,
) -> Result<Written, StoreError> {
    settled(|| catch_up_once(store, mapped, audit, dry_run)).await
}

async fn catch_up_once<S: CompanyImporter>(
    store: &S,
    mapped: &Mapped,
    audit: &Audit,
    dry_run: bool,
) -> Result<Option<Written>, StoreError> {
    let legacy_id = i64::from(mapped.legacy_id);
    let Some(marker) = store.legacy_import(legacy_id).await? else {
        if dry_run {
            // Never imported: the run will write it.
            return Ok(Some(Written::New));
        }
        // The company's id is taken without a marker: no import wrote it.
        return Err(StoreError::Internal(format!(
            "company {} exists, but not as the import of this row",
            mapped.company.id
        )));
    };
    if marker.source.as_deref() == Some(mapped.source.as_str()) {
        return Ok(Some(Written::Already));
    }
    let Some(current) = store.get(marker.company).await? else {
        return Ok(Some(Written::Already));
    };
    let next = mapped.rebased(&current, now());
    if representation(&next) == representation(&current) {
        return Ok(Some(Written::Already));
    }
    if current.version != marker.version {
        return Ok(Some(Written::Conflict(legacy::changed_on_both_sides(
            mapped.legacy_id,
            SinceImport::Changed,
            &current,
            marker.version,
        ))));
    }
    if dry_run {
        return Ok(Some(Written::Updated));
    }
    let entry = audit.reimported(&current, &next, legacy_id, mapped.legacy_created.clone());
    let written = store
        .reimport(&current, &next, legacy_id, &mapped.source, &entry)
        .await;
    unless_changed_in_between(written, Written::Updated)
}

/// Runs `attempt` until it settles (`Some`), reading again after another writer changed the
/// company in between (`None`), a few times.
async fn settled<F: Future<Output = Result<Option<Written>, StoreError>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<Written, StoreError> {
    for _ in 0..CATCH_UP_ATTEMPTS {
        if let Some(written) = attempt().await? {
            return Ok(written);
        }
    }
    Err(StoreError::Unavailable(format!(
        "company changed by another writer {CATCH_UP_ATTEMPTS} times while the import read it"
    )))
}

/// `done` once a write conditioned on the company's version succeeded; `None` (read it again)
/// when the company was changed or deleted in between.
fn unless_changed_in_between(
    written: Result<(), StoreError>,
    done: Written,
) -> Result<Option<Written>, StoreError> {
    match written {
        Ok(()) => Ok(Some(done)),
        Err(StoreError::VersionConflict | StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the companies imported from rows the source (`tx`) no longer holds: walks the
/// table's legacy markers a page at a time and asks the source which of their rows it still
/// holds; then, unless that is a mass deletion not allowed ([`mass_delete`]), retires each of
/// the others ([`retire`]).
async fn carry_deletions<S: CompanyImporter + CompanyDeleter>(
    store: &S,
    tx: &Transaction<'_>,
    audit: &Audit,
    allow_mass_delete: bool,
    rejects: &mut dyn Write,
    summary: &mut Summary,
) -> Result<(), String> {
    let dry_run = summary.dry_run;
    let mut from = None;
    let mut gone = Vec::new();
    loop {
        let (page, next) = markers_page(store, from.take()).await?;
        summary.rows_imported += page.len() as u64;
        let ids: Vec<i32> = page
            .iter()
            .filter_map(|(id, _)| i32::try_from(*id).ok())
            .collect();
        let held = source::existing(tx, &ids).await?;
        gone.extend(ids.into_iter().filter(|id| !held.contains(id)));
        match next {
            Some(position) => from = Some(position),
            None => break,
        }
    }
    summary.rows_gone = gone.len() as u64;
    let refusal = mass_delete(
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
        return Err(format!(
            "{why} Nothing was deleted; if the deletions are meant, run again with \
             --allow-mass-delete"
        ));
    }
    for id in gone {
        let what = format!("deleting the company of client_company {id}");
        match backing_off(&what, || retire(store, id, audit, dry_run)).await? {
            Written::Deleted => summary.companies_deleted += 1,
            Written::Conflict(report) => record(rejects, &report, summary)?,
            _ => {}
        }
    }
    Ok(())
}

/// The page of the table's legacy markers from `from`, backing off while DynamoDB is
/// unavailable: every attempt reads from `from`.
async fn markers_page<S: CompanyImporter>(
    store: &S,
    from: Option<S::MarkerPosition>,
) -> Result<MarkerPage<S::MarkerPosition>, String> {
    backing_off("reading the legacy markers", || {
        store.legacy_imports(from.clone())
    })
    .await
}

/// The company imported from the row `legacy_id`, which the source no longer holds: deleted
/// (with its history entry) while it is still as an import left it; reported when it was
/// changed through the API since. Nothing to do if it is gone already. A dry run deletes
/// nothing.
async fn retire<S: CompanyImporter + CompanyDeleter>(
    store: &S,
    legacy_id: i32,
    audit: &Audit,
    dry_run: bool,
) -> Result<Written, StoreError> {
    settled(|| retire_once(store, legacy_id, audit, dry_run)).await
}

async fn retire_once<S: CompanyImporter + CompanyDeleter>(
    store: &S,
    legacy_id: i32,
    audit: &Audit,
    dry_run: bool,
) -> Result<Option<Written>, StoreError> {
    let Some(marker) = store.legacy_import(i64::from(legacy_id)).await? else {
        return Ok(Some(Written::Already));
    };
    let Some(current) = store.get(marker.company).await? else {
        return Ok(Some(Written::Already));
    };
    if current.version != marker.version {
        return Ok(Some(Written::Conflict(legacy::changed_on_both_sides(
            legacy_id,
            SinceImport::Deleted,
            &current,
            marker.version,
        ))));
    }
    if dry_run {
        return Ok(Some(Written::Deleted));
    }
    let entry = audit.deleted(&current, now());
    let deleted = store.delete(&current, Some(&entry)).await;
    unless_changed_in_between(deleted, Written::Deleted)
}

/// Writes a report line; the rejects file is the record of what was not imported.
fn record(rejects: &mut dyn Write, report: &Report, summary: &mut Summary) -> Result<(), String> {
    summary.count(report);
    let line = serde_json::to_string(report).map_err(|e| e.to_string())?;
    writeln!(rejects, "{line}").map_err(|e| format!("cannot write the rejects file: {e}"))
}

/// Runs the import from `database` into `store`.
pub async fn run<S: CompanyImporter + CompanyDeleter + Clone + 'static>(
    database: &str,
    store: Option<S>,
    options: &Options,
    rejects: &mut dyn Write,
    progress: &mut Progress,
) -> Result<Summary, (Summary, String)> {
    let mut summary = Summary {
        dry_run: options.dry_run,
        read_table: store.is_some(),
        carry_deletions: options.carry_deletions && store.is_some(),
        ..Summary::default()
    };
    match import(database, store, options, rejects, progress, &mut summary).await {
        Ok(()) => Ok(summary),
        Err(e) => Err((summary, e)),
    }
}

async fn import<S: CompanyImporter + CompanyDeleter + Clone + 'static>(
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
        lambda_request_id: None,
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
            let (store, audit, dry_run) = (store.clone(), Arc::clone(&audit), options.dry_run);
            writes.spawn(async move {
                let written = write(&store, &mapped, &audit, dry_run).await;
                drop(permit);
                (mapped.company.bank_accounts.len(), written)
            });
            while let Some(done) = writes.try_join_next() {
                if let Err(e) = tally(done, rejects, summary, progress) {
                    failure = Some(e);
                    break 'read;
                }
            }
        }
    }
    while let Some(done) = writes.join_next().await {
        if let Err(e) = tally(done, rejects, summary, progress) {
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
    if let (Some(store), true) = (store.as_ref(), summary.carry_deletions) {
        let audit = Audit {
            operation: ChangeKind::Delete,
            ..Audit::clone(&audit)
        };
        carry_deletions(
            store,
            &tx,
            &audit,
            options.allow_mass_delete,
            rejects,
            summary,
        )
        .await?;
    }
    rejects
        .flush()
        .map_err(|e| format!("cannot write the rejects file: {e}"))?;
    progress.finish();
    Ok(())
}

fn tally(
    done: Result<(usize, Result<Written, String>), tokio::task::JoinError>,
    rejects: &mut dyn Write,
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
        Written::Updated => summary.companies_updated += 1,
        Written::Deleted => summary.companies_deleted += 1,
        Written::Conflict(report) => record(rejects, &report, summary)?,
    }
    progress.advance(1);
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_mass_deletion_is_more_than_a_tenth_or_an_empty_source() {
        assert_eq!(mass_delete(0, 100, 0), None);
        assert_eq!(mass_delete(10, 100, 90), None);
        assert!(mass_delete(11, 100, 89).is_some());
        assert!(mass_delete(1, 1, 0).unwrap().contains("no company"));
        assert!(mass_delete(1, 5, 4).is_some(), "1 of 5 is 20 %");
    }
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use companies::{Company, HistoryEntry};
    use companies_store::{CompanyReader, CompanyUpdater, LegacyImport, MemoryStore};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::legacy::{map_company, LegacyCompany};

    /// The in-memory store, whose walk of the legacy markers fails once at every position, as
    /// a Scan throttled past the SDK's retries does (it records the positions asked for), and
    /// which can make a change through the API land just before a re-import's write.
    #[derive(Default)]
    struct Flaky {
        inner: MemoryStore,
        failed: Mutex<BTreeSet<Option<i64>>>,
        asked: Mutex<Vec<Option<i64>>>,
        /// The version an API write makes of the company before the next re-import's write.
        racing: Mutex<Option<Company>>,
    }

    impl CompanyReader for Flaky {
        async fn get(&self, id: Uuid) -> Result<Option<Company>, StoreError> {
            self.inner.get(id).await
        }
    }

    impl CompanyImporter for Flaky {
        type MarkerPosition = i64;

        async fn legacy_imports(&self, from: Option<i64>) -> Result<MarkerPage<i64>, StoreError> {
            self.asked.lock().unwrap().push(from);
            if self.failed.lock().unwrap().insert(from) {
                return Err(StoreError::Unavailable("throttled".into()));
            }
            self.inner.legacy_imports(from).await
        }

        async fn import(
            &self,
            company: &Company,
            legacy_id: i64,
            source: &str,
            history: &HistoryEntry,
        ) -> Result<(), StoreError> {
            self.inner.import(company, legacy_id, source, history).await
        }

        async fn legacy_import(&self, legacy_id: i64) -> Result<Option<LegacyImport>, StoreError> {
            self.inner.legacy_import(legacy_id).await
        }

        async fn reimport(
            &self,
            current: &Company,
            next: &Company,
            legacy_id: i64,
            source: &str,
            history: &HistoryEntry,
        ) -> Result<(), StoreError> {
            let racing = self.racing.lock().unwrap().take();
            if let Some(api) = racing {
                self.inner.replace(current, &api, None, None).await?;
            }
            self.inner
                .reimport(current, next, legacy_id, source, history)
                .await
        }
    }

    fn audit() -> Audit {
        Audit {
            operation: ChangeKind::Import,
            actor: "test".into(),
            request_id: "run".into(),
            lambda_request_id: None,
        }
    }

    fn row(id: i32) -> LegacyCompany {
        LegacyCompany {
            id,
            company_name: format!("Padaria {id}"),
            phone: "11954879564".into(),
            created: Some(datetime!(2019-03-04 10:11:12)),
            declared_billing: "10.00".into(),
            accounts: Vec::new(),
        }
    }

    fn mapped(row: &LegacyCompany) -> Mapped {
        let now = datetime!(2026-11-27 12:00 UTC);
        map_company(row, MissingCreated::Refuse, now)
            .company
            .unwrap()
    }

    /// A page read again after a failure is read from where the failed attempt was, not from
    /// the start: the walk meets every marker once and asks each position twice.
    #[tokio::test]
    async fn a_page_of_markers_is_read_again_from_where_it_failed() {
        let store = Flaky::default();
        for id in 1..=150 {
            let written = write(&store, &mapped(&row(id)), &audit(), false).await;
            assert!(matches!(written, Ok(Written::New)));
        }
        let mut met = Vec::new();
        let mut from = None;
        loop {
            let (page, next) = markers_page(&store, from.take()).await.unwrap();
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

    /// A change through the API that lands between a catch-up's read and its write makes the
    /// write fail its version condition; the catch-up reads the company again and, the
    /// company no longer being as the import left it, reports the row instead of overwriting.
    #[tokio::test]
    async fn a_company_changed_between_the_read_and_the_write_is_read_again() {
        let store = Flaky::default();
        let first = mapped(&row(1));
        let written = write(&store, &first, &audit(), false).await;
        assert!(matches!(written, Ok(Written::New)));
        let mut api = first.company.clone();
        api.company_name = "Padaria Renomeada".into();
        api.version = 2;
        *store.racing.lock().unwrap() = Some(api.clone());

        let changed = mapped(&LegacyCompany {
            phone: "11954870000".into(),
            ..row(1)
        });
        let written = write(&store, &changed, &audit(), false).await;
        assert!(
            matches!(&written, Ok(Written::Conflict(r)) if r.code == "changed-on-both-sides"),
            "{:?}",
            written.map(|_| ())
        );
        assert_eq!(store.get(api.id).await.unwrap(), Some(api));
    }
}
