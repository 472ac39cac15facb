//! The PreTraffic hook of a gradual deploy (`functions/src/bin/pre-traffic-hook.rs`, the
//! template's `PreTrafficHook`, named `CodeDeployHook_…` as CodeDeploy's role for Lambda
//! requires). CodeDeploy calls it before shifting any traffic to the new version of a
//! function; it invokes the new version of every function directly (each one's `TARGET_<NAME>`
//! variable: its version ARN, which the template sets) with one request that writes nothing
//! ([`probes`]), checks status, content type and shape, and reports `Succeeded` only when every
//! answer is right. Anything else — a wrong answer, a function error, a call that fails — is
//! `Failed`, and CodeDeploy rolls the deploy back. It is not an operation of the registry.

pub mod aws;
pub mod probes;

use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use serde::{Deserialize, Serialize};

use crate::operations::{Operation, OPERATIONS};
use aws::Aws;
use companies::telemetry;
use companies_store::Backoff;
use probes::probe;

pub use lambda_http::Error;

/// What CodeDeploy sends a lifecycle hook.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HookEvent {
    pub deployment_id: String,
    pub lifecycle_event_hook_execution_id: String,
}

/// How one operation's probe went.
#[derive(Debug, Serialize)]
pub struct Finding {
    pub operation: &'static str,
    /// What was wrong, when something was.
    pub problem: Option<String>,
}

/// What the hook reported.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub succeeded: bool,
    pub findings: Vec<Finding>,
}

/// The variable naming the function (a version ARN) to probe for `operation`:
/// `get-company` → `TARGET_GET_COMPANY`.
pub fn target_variable(operation: &Operation) -> String {
    format!(
        "TARGET_{}",
        operation.name.to_ascii_uppercase().replace('-', "_")
    )
}

/// Each operation of the registry and the function to probe for it, from the environment.
/// Every operation must have one: a hook that would skip an operation refuses to start.
pub fn targets_from_env() -> Result<Vec<(&'static Operation, String)>, String> {
    OPERATIONS
        .iter()
        .map(|op| {
            let name = target_variable(op);
            match std::env::var(&name) {
                Ok(target) if !target.is_empty() => Ok((op, target)),
                _ => Err(format!(
                    "{name} is not set: which function to probe for {}",
                    op.name
                )),
            }
        })
        .collect()
}

/// Kept free of the hook's own deadline: time to report after the probes stop.
pub const REPORT_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);
/// Attempts of the report, and the wait between them: CodeDeploy waits an hour for a hook that
/// never reports before it fails the deploy.
const REPORT_ATTEMPTS: u32 = 3;
const REPORT_BACKOFF: Backoff = Backoff::new(500, 4_000);

/// Probes every target until `deadline`; a probe it cuts off, and every one after it, fails
/// with that reason. Nothing is reported.
pub async fn probe_all(
    aws: &Aws,
    targets: &[(&'static Operation, String)],
    deadline: tokio::time::Instant,
) -> Vec<Finding> {
    let mut findings = Vec::with_capacity(targets.len());
    for (operation, target) in targets {
        let problem =
            match tokio::time::timeout_at(deadline, probe_one(aws, operation, target)).await {
                Ok(outcome) => outcome.err(),
                Err(_) => Some("the checks ran out of time before this one answered".to_owned()),
            };
        match &problem {
            None => tracing::info!(operation = operation.name, "probe passed"),
            Some(problem) => {
                tracing::error!(operation = operation.name, %problem, "probe failed");
            }
        }
        findings.push(Finding {
            operation: operation.name,
            problem,
        });
    }
    findings
}

async fn probe_one(aws: &Aws, operation: &'static Operation, target: &str) -> Result<(), String> {
    let probe = probe(operation)?;
    let payload = probe.event().to_string();
    let invoked = aws
        .invoke(target, payload.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(kind) = invoked.function_error {
        return Err(format!("the function failed instead of answering ({kind})"));
    }
    let answer: serde_json::Value = serde_json::from_slice(&invoked.payload)
        .map_err(|_| "the function's answer is not JSON".to_owned())?;
    probe.check(&answer)
}

/// Probes every target until `deadline` and reports the outcome of `event`'s hook execution
/// to CodeDeploy, retrying the report a few times. An error is returned only when no report
/// could be made (CodeDeploy then fails the hook once its hour is up).
pub async fn handle(
    aws: &Aws,
    targets: &[(&'static Operation, String)],
    event: HookEvent,
    deadline: tokio::time::Instant,
) -> Result<Outcome, aws::CallError> {
    let findings = probe_all(aws, targets, deadline).await;
    let succeeded = findings.iter().all(|f| f.problem.is_none());
    tracing::info!(
        deployment = %event.deployment_id,
        succeeded,
        "reporting the pre-traffic checks"
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        let reported = aws
            .report(
                &event.deployment_id,
                &event.lifecycle_event_hook_execution_id,
                succeeded,
            )
            .await;
        match reported {
            Ok(()) => break,
            Err(e) if attempt < REPORT_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "the report did not reach CodeDeploy");
                REPORT_BACKOFF.sleep(attempt).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Outcome {
        succeeded,
        findings,
    })
}

/// The hook's `main`: logging, the AWS calls and targets from the environment (refusing to
/// start without them, with the start-refusal line the alarms count), then the runtime.
pub fn start() -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            telemetry::init();
            let refused = |reason: String| {
                tracing::error!(function = "pre-traffic-hook", %reason, "{}", crate::runner::lambda::START_REFUSED);
                Error::from(reason)
            };
            let aws = Aws::from_env().map_err(|e| refused(e.to_string()))?;
            let targets = targets_from_env().map_err(refused)?;
            let (aws, targets) = (&aws, &targets);
            lambda_runtime::run(service_fn(|event: LambdaEvent<HookEvent>| async move {
                // The invocation's deadline, less the time the report needs.
                let deadline = crate::runner::lambda_deadline(event.context.deadline)
                    + crate::runner::ANSWER_MARGIN;
                let deadline = deadline.checked_sub(REPORT_MARGIN).unwrap_or(deadline);
                handle(aws, targets, event.payload, deadline)
                    .await
                    .map_err(|e| Error::from(e.to_string()))
            }))
            .await
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_target_variable() {
        let names: Vec<String> = OPERATIONS.iter().map(target_variable).collect();
        assert!(names.contains(&"TARGET_GET_COMPANY".to_owned()));
        assert!(names.contains(&"TARGET_UPDATE_BANK_ACCOUNT".to_owned()));
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), OPERATIONS.len());
    }
}
