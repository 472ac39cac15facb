//! `lambda-bench`: measures a Lambda function binary locally by playing the Lambda Runtime API.
//!
//! ```text
//! lambda-bench run --event events/get-company.json --cold 10 --warm 200 -- target/release/get-company
//! lambda-bench run --event events/get-company.json --cold 10 --warm 200 -- python3 -m awslambdaric handlers.get_company
//! lambda-bench run --baseline target/release/floor --event … -- target/release/get-company
//! lambda-bench run --peer "python3 -m awslambdaric handlers.get_company" --event … -- target/release/get-company
//! lambda-bench overhead --iterations 20000       # in-process handler overhead, in-memory store
//! lambda-bench seed --event events/get-company.json   # creates the table and the company the event names
//! lambda-bench probe --event events/get-company.json  # where a first DynamoDB call's time goes
//! lambda-bench tls-proxy --upstream URL --cert PEM --key PEM  # TLS in front of DynamoDB Local
//! ```
//!
//! `run` starts the command with `AWS_LAMBDA_RUNTIME_API` pointing at itself, once per cold
//! start: init is exec → first `next`, the first invocation is event handed out → response; then
//! it sends `warm` more events to the last process and reads its peak RSS (`VmHWM`) and, at the
//! first `next`, the page faults start-up took. `--baseline` starts another binary (the floor)
//! before each cold start and reports its starts beside the function's, paired in time; `--peer`
//! does the same with another command line (the Python peer), on an event of its own;
//! `--fresh` gives each cold start a company of its own (seeded before it, outside the timing).
//! It prints one JSON document with every sample, for `bench/report.py`.
//!
//! By concern: [`runtime_api`] (the server the function's runtime client talks to, and the
//! driver's end of it), [`instance`] (one function process: its start, `/proc` counters, the
//! phases it reported), [`measure`] (the `run` command: rounds of cold starts, warm calls,
//! summaries), [`overhead`] (`overhead`, `seed`, `probe`), [`tls_proxy`] (`tls-proxy`).

mod instance;
mod measure;
mod overhead;
mod runtime_api;
mod tls_proxy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lambda-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("run") => measure::run(&args[1..]).await,
            Some("overhead") => overhead::run(&args[1..]).await,
            Some("seed") => overhead::seed(&args[1..]).await,
            Some("probe") => overhead::probe(&args[1..]).await,
            Some("tls-proxy") => tls_proxy::run(&args[1..]).await,
            _ => Err(
                "usage: lambda-bench run|overhead|seed|probe|tls-proxy … (see the source's header)"
                    .to_owned(),
            ),
        }
    });
    match result {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lambda-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The value following `--name`, parsed.
pub fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

/// Percentile (nearest rank) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
