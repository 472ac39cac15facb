//! `companies-reindex`: rewrites the name index of the companies table from the companies.
//!
//! ```sh
//! companies-reindex --table companies-prod --dry-run   # what differs, nothing written
//! companies-reindex --table companies-prod             # set it right
//! ```
//!
//! Run it once after deploying a release that changes how names fold or which terms they are
//! filed under (the README says which), or to clear entries a failed clean-up left. Safe while
//! the API serves: a company the API changes during its repair is read and compared again.
//!
//! Exit status: 0 when the index matches every company (after the repairs, or already);
//! 3 when a dry run found differences, or some companies could not be repaired (listed; run it
//! again); 1 when the run could not finish (nothing is left worse: run it again); 2 for a
//! mistake on the command line.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use companies_store::dynamo::reindex::{ReindexOptions, ReindexReport};
use companies_store::DynamoStore;

#[derive(Parser)]
#[command(
    name = "companies-reindex",
    about = "Compare every company's name index entries with what its name needs, and write \
             the difference. Safe to run while the API serves, and to run again."
)]
struct Args {
    /// The DynamoDB table (the stack's CompaniesTable). Credentials, region and
    /// AWS_ENDPOINT_URL_DYNAMODB come from the standard AWS environment.
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// Report what differs without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Parallel Scan segments.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    segments: u32,
    /// Companies repaired at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
}

fn print_summary(report: &ReindexReport) {
    let verb = if report.dry_run {
        "would repair (dry run)"
    } else {
        "repaired"
    };
    eprintln!(
        "companies-reindex: scanned {} items: {} companies, {} name index entries",
        report.items_scanned, report.companies, report.entries
    );
    eprintln!(
        "  {verb}: {} companies ({} entries written, {} deleted)",
        report.companies_repaired, report.entries_written, report.entries_deleted
    );
    if report.unreadable_entries > 0 {
        eprintln!(
            "  entries whose key is not a position (left alone): {}",
            report.unreadable_entries
        );
    }
    for failure in &report.failed {
        eprintln!("  not repaired: {}: {}", failure.company, failure.error);
    }
    if let Ok(json) = serde_json::to_string(report) {
        println!("{json}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match reindex(args).await {
        Ok(report) => {
            print_summary(&report);
            if !report.failed.is_empty() {
                eprintln!("companies-reindex: some companies were not repaired; run it again");
                ExitCode::from(3)
            } else if report.dry_run && report.companies_repaired > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("companies-reindex: {err:#}");
            eprintln!(
                "companies-reindex: the run did not finish (nothing was left worse); once the \
                 cause above is fixed, run it again"
            );
            ExitCode::from(1)
        }
    }
}

/// Compares the name index of the table `args` names with its companies, and (unless a dry
/// run) writes the difference.
async fn reindex(args: Args) -> anyhow::Result<ReindexReport> {
    let store = DynamoStore::connect(args.table).await;
    let options = ReindexOptions {
        dry_run: args.dry_run,
        segments: args.segments,
        concurrency: usize::from(args.concurrency),
    };
    store
        .reindex(options)
        .await
        .context("cannot reindex the companies table")
}
