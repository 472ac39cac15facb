//! `companies-import`: moves the Flask service's PostgreSQL data into the companies table.
//!
//! ```sh
//! DATABASE_URL=postgresql://reader@old-db.internal/companies PGPASSWORD=… \
//!   companies-import --table companies-prod --history-retention-days 1827
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

use anyhow::{bail, Context as _};
use clap::{CommandFactory, Parser};
use companies_store::DynamoStore;

use legacy::MissingCreated;
use progress::Progress;
use run::{Options, RunError};

#[derive(Parser)]
#[command(
    name = "companies-import",
    about = "Import the Flask service's companies and bank accounts from PostgreSQL into the \
             companies table. Safe to run again: rows already imported are not written twice; \
             rows changed since they were imported are brought up to date, unless the company \
             was changed through the API too (then reported)."
)]
struct Args {
    /// PostgreSQL URL of the Flask service's database, without a password (refused: a
    /// command line is visible to every user of the machine). Default: DATABASE_URL, else
    /// libpq's PGHOST, PGPORT, PGDATABASE, PGUSER. The password: PGPASSWORD, the password file
    /// (PGPASSFILE, ~/.pgpass), or DATABASE_URL in the environment. TLS: sslmode / PGSSLMODE
    /// (verify-full by default), sslrootcert / PGSSLROOTCERT (Mozilla's roots otherwise);
    /// require_auth, channel_binding as libpq reads them.
    #[arg(long = "from", value_name = "URL")]
    from: Option<String>,
    /// The DynamoDB table (the stack's CompaniesTable). Credentials, region and
    /// AWS_ENDPOINT_URL_DYNAMODB come from the standard AWS environment. Before it writes, a
    /// run reads every item of the table once (a Scan) to find the markers of imported rows
    /// and see what it would change.
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
    /// (unless changed through the API since: reported).
    #[arg(long)]
    carry_deletions: bool,
    /// With --carry-deletions: delete even when that is more than 10 % of the imported
    /// companies, or the source holds no company at all (refused otherwise: a wrong or empty
    /// source database must not empty the table). Run --dry-run first: it shows the counts.
    #[arg(long, requires = "carry_deletions")]
    allow_mass_delete: bool,
    /// Write even when the run would rewrite more than 10 % of the companies imported earlier
    /// (their rows changed in the source since), or none of them is in the source as imported
    /// (refused otherwise: a wrong source database must not overwrite the table). Run
    /// --dry-run first: it shows the counts.
    #[arg(long)]
    allow_mass_update: bool,
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

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.from.as_deref().is_some_and(pg::holds_password) {
        Args::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--from holds a password, which the command line shows to every user of the \
                 machine (ps, /proc): put it in PGPASSWORD, in the password file (~/.pgpass or \
                 PGPASSFILE, mode 0600), or give the whole URL as DATABASE_URL in the \
                 environment",
            )
            .exit();
    }
    let source = args.from.clone().or_else(|| {
        std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
    });
    let (store, mut rejects) = match prepare(&args).await {
        Ok(prepared) => prepared,
        Err(err) => {
            eprintln!("companies-import: {err:#}");
            return ExitCode::from(1);
        }
    };
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
        allow_mass_update: args.allow_mass_update,
    };
    let mut progress = Progress::new(args.quiet);
    match run::run(
        source.as_deref(),
        store,
        &options,
        &mut rejects,
        &mut progress,
    )
    .await
    {
        Ok(summary) => {
            summary.print();
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
        Err(RunError { summary, cause }) => {
            summary.print();
            eprintln!("companies-import: {cause:#}");
            eprintln!(
                "companies-import: the run did not finish; once the cause above is fixed, run it \
                 again to resume"
            );
            ExitCode::from(1)
        }
    }
}

/// What a run needs before it reads the source: the history retention of a run that writes,
/// the table (created when asked), and the rejects file.
async fn prepare(args: &Args) -> anyhow::Result<(Option<DynamoStore>, BufWriter<File>)> {
    match args.history_retention_days {
        Some(days) => {
            companies_store::set_history_retention_days(days);
        }
        None if args.table.is_some() && !args.dry_run => bail!(
            "say how long the history this run writes is kept: \
             --history-retention-days DAYS or HISTORY_RETENTION_DAYS, the stage's \
             HistoryRetentionDays (samconfig.toml: dev 30, staging 365, prod 1827)"
        ),
        None => {}
    }
    let store = match &args.table {
        Some(table) => {
            let store = DynamoStore::connect(table.clone()).await;
            if args.create_table {
                store
                    .ensure_table()
                    .await
                    .context("cannot create the table")?;
            }
            Some(store)
        }
        None => None,
    };
    let file = create_private_file(&args.rejects)
        .with_context(|| format!("cannot create {}", args.rejects.display()))?;
    Ok((store, BufWriter::new(file)))
}

/// Creates (or truncates) `path` readable and writable by its owner alone: the rejects file
/// holds names, CNPJs and masked accounts of the firm's clients. A file that existed keeps its
/// content no longer and loses any wider permission before anything is written; it must be
/// the user's own. A symbolic link is not followed (whoever planted it would have the run
/// truncate and fill the file it names), nor a FIFO or socket written (whoever planted it
/// would read the lines); a character device (`/dev/null`) is written as it is.
fn create_private_file(path: &std::path::Path) -> anyhow::Result<File> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        // O_NONBLOCK: a FIFO planted there fails to open rather than blocking the run.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => bail!(
            "{} is a symbolic link: refusing to write the rejects file through it (remove it, \
             or name another file with --rejects)",
            path.display()
        ),
        other => other?,
    };
    let meta = file.metadata()?;
    if meta.file_type().is_char_device() {
        return Ok(file);
    }
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if meta.uid() != unsafe { libc::geteuid() } {
        bail!(
            "{} belongs to another user: refusing to write the rejects file into it",
            path.display()
        );
    }
    // A hard link planted at the path would let the run truncate and fill another file.
    if meta.nlink() > 1 {
        bail!(
            "{} has other hard links: refusing to write the rejects file into it (remove it, or \
             name another file with --rejects)",
            path.display()
        );
    }
    file.set_len(0)?;
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
            drop(super::create_private_file(path).unwrap());
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

    /// A symbolic link planted at the path, to a file or to none, is not followed: the file
    /// it names keeps its content, and none is created.
    #[test]
    fn the_rejects_file_is_never_written_through_a_symbolic_link() {
        let dir = std::env::temp_dir().join(format!("rejects-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (precious, missing) = (dir.join("precious"), dir.join("missing"));
        std::fs::write(&precious, "someone's\n").unwrap();
        for target in [&precious, &missing] {
            let link = dir.join("rejects.jsonl");
            std::os::unix::fs::symlink(target, &link).unwrap();
            let refused = super::create_private_file(&link).err().unwrap();
            assert!(
                refused.to_string().contains("is a symbolic link"),
                "{refused}"
            );
            std::fs::remove_file(&link).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "someone's\n");
        assert!(!missing.exists(), "created through a dangling link");
        // Nor through a hard link to another file.
        let hard = dir.join("hard.jsonl");
        std::fs::hard_link(&precious, &hard).unwrap();
        let refused = super::create_private_file(&hard).err().unwrap();
        assert!(
            refused.to_string().contains("other hard links"),
            "{refused}"
        );
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "someone's\n");
        // A FIFO (someone reading at the other end) is refused, at once.
        let fifo = dir.join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(super::create_private_file(&fifo).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        // /dev/null takes the lines, and keeps its mode.
        let null = std::path::Path::new("/dev/null");
        let mode = std::fs::metadata(null).unwrap().permissions().mode();
        drop(super::create_private_file(null).unwrap());
        assert_eq!(std::fs::metadata(null).unwrap().permissions().mode(), mode);
    }
}
