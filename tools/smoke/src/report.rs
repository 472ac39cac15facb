//! The run's steps: each is timed and shown as one line (result, name, request, status,
//! duration, note) as soon as it ends, or gathered into one JSON document with `--json`. The
//! first failing step ends the run, named in the failure.

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::time::Instant;

use serde_json::{json, Value};

/// What a step gives back when it passes: a value for the next steps, the HTTP status of
/// its last request, and a note worth showing.
pub struct Step<T> {
    value: T,
    status: Option<u16>,
    note: Option<String>,
    skipped: bool,
}

impl<T> Step<T> {
    pub fn ok(value: T, status: u16) -> Step<T> {
        Step {
            value,
            status: Some(status),
            note: None,
            skipped: false,
        }
    }

    /// A check that could not be made here, and why (it does not fail the run).
    pub fn skipped(value: T, status: u16, why: impl Into<String>) -> Step<T> {
        Step {
            value,
            status: Some(status),
            note: Some(why.into()),
            skipped: true,
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Step<T> {
        self.note = Some(note.into());
        self
    }
}

/// The step that failed and why: `step "patch with If-Match": expected 200, got 412: …`.
#[derive(Debug)]
pub struct Failure {
    pub step: String,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step \"{}\": {}", self.step, self.message)
    }
}

struct Record {
    name: String,
    request: String,
    result: &'static str,
    status: Option<u16>,
    millis: u128,
    note: Option<String>,
}

/// The steps run so far.
pub struct Report {
    json: bool,
    records: Vec<Record>,
}

impl Report {
    pub fn new(json: bool) -> Report {
        Report {
            json,
            records: Vec::new(),
        }
    }

    /// Runs step `name` (`request` says what it sends), timing it and showing its line.
    pub async fn step<T>(
        &mut self,
        name: &str,
        request: &str,
        work: impl Future<Output = anyhow::Result<Step<T>>>,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let outcome = work.await;
        let millis = started.elapsed().as_millis();
        let (record, result) = match outcome {
            Ok(step) => (
                Record {
                    name: name.to_owned(),
                    request: request.to_owned(),
                    result: if step.skipped { "skip" } else { "ok" },
                    status: step.status,
                    millis,
                    note: step.note,
                },
                Ok(step.value),
            ),
            Err(e) => (
                Record {
                    name: name.to_owned(),
                    request: request.to_owned(),
                    result: "FAIL",
                    status: None,
                    millis,
                    note: None,
                },
                Err(Failure {
                    step: name.to_owned(),
                    message: format!("{e:#}"),
                }),
            ),
        };
        self.show(&record);
        self.records.push(record);
        result
    }

    fn show(&self, r: &Record) {
        if self.json {
            return;
        }
        let status = r.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let note = r
            .note
            .as_deref()
            .map(|n| format!("  {n}"))
            .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        // A closed stdout (a pager quit early) must not end the run.
        let _ = writeln!(
            out,
            "{:<4}  {:<36} {:<40} {:>3} {:>6} ms{note}",
            r.result, r.name, r.request, status, r.millis
        );
        let _ = out.flush();
    }

    /// The closing line, or with `--json` the whole run as one document.
    pub fn finish(&self, url: &str, failure: Option<&Failure>) {
        let skipped = self.records.iter().filter(|r| r.result == "skip").count();
        if self.json {
            let steps: Vec<Value> = self
                .records
                .iter()
                .map(|r| {
                    json!({"step": r.name, "request": r.request, "result": r.result,
                           "status": r.status, "ms": r.millis, "note": r.note})
                })
                .collect();
            let document = json!({
                "url": url, "passed": failure.is_none(), "steps": steps,
                "failure": failure.map(|f| json!({"step": f.step, "message": f.message})),
            });
            println!("{document}");
        } else if failure.is_none() {
            println!(
                "smoke: passed: {} steps against {url}{}",
                self.records.len(),
                match skipped {
                    0 => String::new(),
                    n => format!(" ({n} skipped)"),
                }
            );
        }
        if let Some(failure) = failure {
            eprintln!("smoke: {failure}");
        }
    }
}
