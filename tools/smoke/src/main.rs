//! `companies-smoke`: a few checks that a running companies API answers as its contract says,
//! for anyone to point at a deployed stage (`make smoke URL=…`), `sam local` or the local API.
//! Read-only by default; `--write` adds one company's create-to-delete round trip.
//!
//! Credentials come from the environment only (see [`access`]): no flag takes a secret, and
//! clap refuses any flag it does not know. Exit status: 0 every step passed (some may be
//! skipped, each with its reason); 1 a step failed (named on stderr); 2 the run was refused
//! before any request to the API (bad arguments, missing or unsafe credentials, a token that
//! cannot do what `--write` needs).

mod access;
mod cleanup;
mod cnpj;
mod http;
mod reads;
mod report;
mod token;
mod writes;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Parser;
use time::OffsetDateTime;

use access::{Credentials, Secret, WRITE_NEEDS};
use report::{Failure, Report};
use token::Access;

const ABOUT: &str = "Smoke checks against a running companies API.

Credentials come from the environment only, never from a flag:
  SMOKE_TOKEN           a bearer token, or
  SMOKE_CLIENT_ID, SMOKE_CLIENT_SECRET, SMOKE_TOKEN_URL
                        the client credentials grant against the stack's Cognito domain
                        (https://<domain>.auth.<region>.amazoncognito.com/oauth2/token)
  SMOKE_SCOPES          the scopes asked for (default \"companies/read\", with --write
                        \"companies/read companies/write companies/audit\")
An https URL needs credentials; the local API and sam local (plain http) need none.

Exit status: 0 passed, 1 a step failed (named), 2 refused before any request to the API.";

#[derive(Parser)]
#[command(name = "companies-smoke", version, about = ABOUT)]
struct Args {
    /// The API's base URL: a stage's ApiUrl, http://127.0.0.1:3000 (make run), or
    /// http://127.0.0.1:3001 (make sam-local)
    #[arg(long)]
    url: String,
    /// Also create, change and delete one company named "smoke-test …" (after removing those
    /// of earlier runs older than 10 minutes); needs companies/write and companies/audit
    #[arg(long)]
    write: bool,
    /// Print the run as one JSON document instead of a line per step
    #[arg(long)]
    json: bool,
    /// Seconds each request may take
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

/// Why a run stopped: refused before asking the API anything, or a step that failed.
enum Stop {
    Refused(anyhow::Error),
    Failed(Failure),
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Stop {
        Stop::Failed(failure)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("smoke: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(smoke(args))
}

async fn smoke(args: Args) -> ExitCode {
    let mut report = Report::new(args.json);
    let outcome = run(&args, &mut report).await;
    match outcome {
        Ok(()) => {
            report.finish(&args.url, None);
            ExitCode::SUCCESS
        }
        Err(Stop::Failed(failure)) => {
            report.finish(&args.url, Some(&failure));
            ExitCode::from(1)
        }
        Err(Stop::Refused(e)) => {
            eprintln!("smoke: {e:#}");
            eprintln!("smoke: refused: no request was sent to the API");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &Args, report: &mut Report) -> Result<(), Stop> {
    let credentials = Credentials::from_env(args.write).map_err(Stop::Refused)?;
    let url = access::target(&args.url, &credentials).map_err(Stop::Refused)?;
    let http = http::client(Duration::from_secs(args.timeout)).map_err(Stop::Refused)?;
    let bearer = match &credentials {
        Credentials::Anonymous => None,
        Credentials::Token(token) => Some(token.clone()),
        Credentials::Client {
            id,
            secret,
            token_url,
            scopes,
        } => Some(
            report
                .step(
                    "get a token",
                    "POST SMOKE_TOKEN_URL (client credentials)",
                    token::client_credentials(&http, token_url, id, secret, scopes),
                )
                .await?,
        ),
    };
    let now = OffsetDateTime::now_utc();
    let access = access_of(bearer.as_ref(), now).map_err(Stop::Refused)?;
    if args.write {
        refuse_without_write_scopes(&access).map_err(Stop::Refused)?;
    }
    let api = http::Api::new(http, &url, bearer);
    reads::run(&api, report, &access).await?;
    if args.write {
        writes::run(&api, report, &access, now).await?;
    }
    Ok(())
}

/// What the run may do: everything where no token is needed, else what the token says.
fn access_of(bearer: Option<&Secret>, now: OffsetDateTime) -> Result<Access> {
    match bearer {
        None => Ok(Access::Open),
        Some(token) => Access::of_token(token, now.unix_timestamp()),
    }
}

/// `--write` with a token that cannot change a company or read its history would only fail
/// half-way, after creating one: it is refused at once.
fn refuse_without_write_scopes(access: &Access) -> Result<()> {
    let missing: Vec<&str> = WRITE_NEEDS
        .into_iter()
        .filter(|scope| access.allows(scope) == Some(false))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(anyhow!(
        "--write needs {} too; the token carries {}",
        missing.join(" and "),
        access.describe()
    ))
}
