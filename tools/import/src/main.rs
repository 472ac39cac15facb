//! `companies-import`: moves the Flask service's PostgreSQL data into the companies table.
//!
//! ```sh
//! companies-import --from postgresql://user@host/db --table companies-prod --rejects rejects.jsonl
//! ```
//!
//! Exit status: 0 when every row was imported (or was already, and is up to date), 2 when rows
//! were refused or changed on both sides (see the rejects file; everything else was imported),
//! 1 when the run could not finish (run it again: it resumes, writing nothing twice).

mod legacy;
mod pg;
mod progress;
mod run;
mod source;

use std::fs::File;
use std::io::BufWriter;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use companies_store::DynamoStore;

use legacy::MissingCreated;
use progress::Progress;
use run::{Options, Summary};

#[derive(Parser)]
#[command(
    name = "companies-import",
    about = "Import the Flask service's companies and bank accounts from PostgreSQL into the \
             companies table. Safe to run again: rows already imported are not written twice; \
             rows changed since they were imported are brought up to date, unless the company \
             was changed through the API too (then reported)."
)]
struct Args {
    /// PostgreSQL URL of the Flask service's database, e.g.
    /// postgresql://reader@old-db.internal/companies?sslmode=verify-full&sslrootcert=ca.pem.
    /// The password: in the URL, PGPASSWORD, or the password file (PGPASSFILE, ~/.pgpass).
    /// TLS: sslmode / PGSSLMODE (prefer by default; verify-full recommended), sslrootcert /
    /// PGSSLROOTCERT (Mozilla's roots otherwise).
    #[arg(
        long = "from",
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    from: String,
    /// The DynamoDB table (the stack's CompaniesTable). Credentials, region and
    /// AWS_ENDPOINT_URL_DYNAMODB come from the standard AWS environment.
    #[arg(
        long,
        env = "TABLE_NAME",
        hide_env_values = true,
        required_unless_present = "dry_run"
    )]
    table: Option<String>,
    /// Where to write one JSON line per refused or merged row.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "companies-import-rejects.jsonl"
    )]
    rejects: PathBuf,
    /// Validate and report without writing anything; with --table, also say what a run would
    /// write, update (and, with --carry-deletions, delete), reading the table.
    #[arg(long)]
    dry_run: bool,
    /// Companies written at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Import companies whose `created` is NULL with the time of the import (refused otherwise).
    #[arg(long)]
    null_created_as_import_time: bool,
    /// Also delete the companies imported from rows deleted from the Flask database since
    /// (unless changed through the API since: reported). Reads every item of the table once
    /// (a Scan) to find the markers of imported rows.
    #[arg(long)]
    carry_deletions: bool,
    /// With --carry-deletions: delete even when that is more than 10 % of the imported
    /// companies, or the source holds no company at all (refused otherwise: a wrong or empty
    /// source database must not empty the table). Run --dry-run first: it shows the counts.
    #[arg(long, requires = "carry_deletions")]
    allow_mass_delete: bool,
    /// Create the table if it does not exist (for a local DynamoDB; a stage's table comes from
    /// its stack).
    #[arg(long, conflicts_with = "dry_run")]
    create_table: bool,
    /// Days the history entries this run writes are kept: the stage's HistoryRetentionDays
    /// (samconfig.toml: dev 30, staging 365, prod 1827). Required for a run that writes, so an
    /// import into dev or staging never keeps five years of history by default.
    #[arg(long, env = "HISTORY_RETENTION_DAYS", value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    history_retention_days: Option<u32>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

fn print_summary(summary: &Summary) {
    eprintln!(
        "companies-import: read {} companies and {} bank accounts",
        summary.companies_read, summary.accounts_read
    );
    if !summary.read_table {
        eprintln!(
            "  would write (dry run, without reading the table): {} companies, {} bank accounts",
            summary.companies_valid, summary.accounts_valid
        );
    } else {
        let verb = |done: &'static str, would: &'static str| {
            if summary.dry_run {
                would
            } else {
                done
            }
        };
        eprintln!(
            "  {}: {} companies, {} bank accounts",
            verb("written", "would write (dry run)"),
            summary.companies_written,
            summary.accounts_written
        );
        eprintln!(
            "  already present: {} companies, {} bank accounts",
            summary.companies_already_present, summary.accounts_already_present
        );
        eprintln!(
            "  {} (changed in the Flask service since an earlier run): {} companies",
            verb("updated", "would update"),
            summary.companies_updated
        );
        if summary.carry_deletions {
            eprintln!(
                "  {} (deleted from the Flask service since an earlier run): {} companies",
                verb("deleted", "would delete"),
                summary.companies_deleted
            );
            eprintln!(
                "  rows gone from the source: {} of {} imported{}",
                summary.rows_gone,
                summary.rows_imported,
                if summary.mass_delete_refused {
                    " (a mass deletion: refused without --allow-mass-delete)"
                } else {
                    ""
                }
            );
        }
    }
    eprintln!(
        "  merged (the same account twice on one company): {}",
        summary.merged
    );
    eprintln!("  refused: {} rows", summary.refused_rows());
    for (rule, n) in &summary.refused {
        eprintln!("    {rule}: {n}");
    }
    if let Ok(json) = serde_json::to_string(summary) {
        println!("{json}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match args.history_retention_days {
        Some(days) => {
            companies_store::set_history_retention_days(days);
        }
        None if args.table.is_some() && !args.dry_run => {
            eprintln!(
                "companies-import: say how long the history this run writes is kept: \
                 --history-retention-days DAYS or HISTORY_RETENTION_DAYS, the stage's \
                 HistoryRetentionDays (samconfig.toml: dev 30, staging 365, prod 1827)"
            );
            return ExitCode::from(1);
        }
        None => {}
    }
    let store = match &args.table {
        Some(table) => {
            let store = DynamoStore::connect(table.clone()).await;
            if args.create_table {
                if let Err(e) = store.ensure_table().await {
                    eprintln!("companies-import: cannot create the table: {e}");
                    return ExitCode::from(1);
                }
            }
            Some(store)
        }
        None => None,
    };
    let file = match private_file(&args.rejects) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "companies-import: cannot create {}: {e}",
                args.rejects.display()
            );
            return ExitCode::from(1);
        }
    };
    let mut rejects = BufWriter::new(file);
    let options = Options {
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        missing_created: if args.null_created_as_import_time {
            MissingCreated::ImportTime
        } else {
            MissingCreated::Refuse
        },
        actor: format!(
            "companies-import:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        run_id: uuid::Uuid::now_v7().to_string(),
        carry_deletions: args.carry_deletions,
        allow_mass_delete: args.allow_mass_delete,
    };
    let mut progress = Progress::new(args.quiet);
    match run::run(&args.from, store, &options, &mut rejects, &mut progress).await {
        Ok(summary) => {
            print_summary(&summary);
            if summary.refused_rows() > 0 {
                eprintln!(
                    "companies-import: rows were refused; see {}",
                    args.rejects.display()
                );
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err((summary, e)) => {
            print_summary(&summary);
            eprintln!("companies-import: {e}");
            eprintln!(
                "companies-import: the run did not finish; once the cause above is fixed, run it \
                 again to resume"
            );
            ExitCode::from(1)
        }
    }
}

/// Creates (or truncates) `path` readable and writable by its owner alone: the rejects file
/// holds names, CNPJs and masked accounts of the firm's clients. A file that existed keeps its
/// content no longer and loses any wider permission before anything is written.
fn private_file(path: &std::path::Path) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_rejects_file_is_private_even_when_it_existed() {
        let dir = std::env::temp_dir().join(format!("rejects-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join("fresh.jsonl");
        let old = dir.join("old.jsonl");
        std::fs::write(&old, "stale line\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        for path in [&fresh, &old] {
            drop(super::private_file(path).unwrap());
            let meta = std::fs::metadata(path).unwrap();
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{}",
                path.display()
            );
            assert_eq!(meta.len(), 0);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
