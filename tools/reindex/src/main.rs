//! `companies-reindex`: rewrites the name index of the companies table from the companies, and
//! with `--repair` sets right everything else derived from them after a restore.
//!
//! ```sh
//! companies-reindex --table companies-prod --dry-run   # what differs, nothing written
//! companies-reindex --table companies-prod             # set it right
//! companies-reindex --table companies-restored --repair --history-retention-days 1827 --dry-run
//! companies-reindex --table companies-restored --repair --history-retention-days 1827
//! ```
//!
//! Run it once after deploying a release that changes how names fold or which terms they are
//! filed under (the README says which), or to clear entries a failed clean-up left. Safe while
//! the API serves: a company the API changes during its repair is read and compared again.
//!
//! `--repair` is for a table restored from a point in time or a backup (docs/deploying.md,
//! "Restoring the table"), which can hold part of a transaction that was in flight. It makes
//! every derived item agree with the companies: the name index (as above), the CNPJ markers
//! (a marker no company holds is deleted; a company holding a CNPJ without its marker gets
//! it; a CNPJ two companies hold is reported as a conflict), the legacy markers of imported
//! rows (a marker an import left without its company is deleted; one of a company deleted
//! since is kept), and the history (a company's current version without its entry gets it,
//! written from the company by the actor `companies-reindex`; entries of deleted companies
//! stay). It needs the stage's history retention (`--history-retention-days` or
//! `HISTORY_RETENTION_DAYS`): an entry whose retention has ended is not missing, and the
//! entries it writes are kept that long. Every write is conditioned on the companies it
//! depends on being as read, so it too is safe while the API serves; a second run finds
//! nothing to fix.
//!
//! Output: the report as one JSON document on stdout, a summary on stderr.
//!
//! Exit status: 0 when everything agrees (after the repairs, or already); 3 when a dry run
//! found differences, or something was not repaired (listed: run it again) or needs a person
//! (a repair's conflicts and anomalies, listed); 1 when the run could not finish (nothing is
//! left worse: run it again); 2 for a mistake on the command line.

mod summary;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory, Parser};
use companies_store::dynamo::reindex::{ReindexOptions, ReindexReport};
use companies_store::dynamo::repair::RepairReport;
use companies_store::DynamoStore;

#[derive(Parser)]
#[command(
    name = "companies-reindex",
    about = "Compare every company's name index entries with what its name needs, and write \
             the difference; with --repair, also the CNPJ markers, legacy markers and history \
             (after a restore). Safe to run while the API serves, and to run again.",
    after_help = "With --repair: a CNPJ marker no company holds is deleted, a company holding a \
                  CNPJ without its marker gets it, a CNPJ two companies hold is reported as a \
                  conflict; a legacy marker an import left without its company is deleted, one \
                  of a company deleted since is kept; a company's current version without its \
                  history entry gets it (actor companies-reindex), entries of deleted companies \
                  stay. The report is JSON on stdout (`fixed` counts per kind), a summary on \
                  stderr.\n\nExit status: 0 everything agrees; 3 a dry run found differences, \
                  or something was not repaired or needs a person (listed); 1 the run could not \
                  finish (nothing left worse: run it again); 2 a mistake on the command line."
)]
struct Args {
    /// The DynamoDB table (the stack's CompaniesTable). Credentials, region and
    /// AWS_ENDPOINT_URL_DYNAMODB come from the standard AWS environment.
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// Report what differs without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Set right every item derived from the companies, not only the name index: CNPJ
    /// markers, legacy markers of imported rows, history entries. For a restored table.
    #[arg(long)]
    repair: bool,
    /// With --repair: days a history entry is kept, the stage's HistoryRetentionDays
    /// (samconfig.toml: dev 30, staging 365, prod 1827). Decides which entries are missing
    /// and how long those written are kept.
    #[arg(long, env = "HISTORY_RETENTION_DAYS", value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    history_retention_days: Option<u32>,
    /// Parallel Scan segments.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    segments: u32,
    /// Companies (or markers) repaired at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.repair {
        let Some(days) = args.history_retention_days else {
            Args::command()
                .error(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "--repair needs the stage's history retention: --history-retention-days \
                     DAYS or HISTORY_RETENTION_DAYS (samconfig.toml: dev 30, staging 365, \
                     prod 1827)",
                )
                .exit();
        };
        companies_store::set_history_retention_days(days);
    }
    let store = DynamoStore::connect(args.table.clone()).await;
    let options = ReindexOptions {
        dry_run: args.dry_run,
        segments: args.segments,
        concurrency: usize::from(args.concurrency),
    };
    let outcome = if args.repair {
        repair(&store, options).await.map(|report| {
            summary::repair(&report);
            status(
                !report.complete(),
                report.dry_run && report.fixed.total() > 0,
            )
        })
    } else {
        reindex(&store, options).await.map(|report| {
            summary::reindex(&report);
            status(
                !report.failed.is_empty(),
                report.dry_run && report.companies_repaired > 0,
            )
        })
    };
    outcome.unwrap_or_else(|err| {
        eprintln!("companies-reindex: {err:#}");
        eprintln!(
            "companies-reindex: the run did not finish (nothing was left worse); once the \
             cause above is fixed, run it again"
        );
        ExitCode::from(1)
    })
}

/// The exit status of a run that finished: `unfinished` when something was not set right,
/// `differs` when a dry run found something to set right.
fn status(unfinished: bool, differs: bool) -> ExitCode {
    if unfinished || differs {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// Compares the name index of the table with its companies, and (unless a dry run) writes the
/// difference.
async fn reindex(store: &DynamoStore, options: ReindexOptions) -> anyhow::Result<ReindexReport> {
    store
        .reindex(options)
        .await
        .context("cannot reindex the companies table")
}

/// Compares every derived item of the table with its companies, and (unless a dry run) sets
/// them right.
async fn repair(store: &DynamoStore, options: ReindexOptions) -> anyhow::Result<RepairReport> {
    store
        .repair(options)
        .await
        .context("cannot repair the companies table")
}
