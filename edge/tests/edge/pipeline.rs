//! The pipeline (`.github/workflows/deploy.yml`) against `samconfig.toml`: it deploys every
//! stage the file has, each with `--config-env <stage>`, in order dev → staging → prod, the one
//! build made once, carried with its files' modes and packaged per stage; each stage
//! smoke-tested in the job that deployed it, before the next stage starts; prod only after
//! staging's, in the protected environment `prod`; AWS reached only through the stage's OIDC
//! role from the job whose environment is that stage; no key anywhere. The bootstrap template's
//! roles and bucket: `bootstrap.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use crate::rehearsal::{rehearsed_parameters, STAGES};
use crate::template::root;

mod artifact;
mod bootstrap;
mod needed;

fn workflow(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join(".github/workflows").join(name)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn jobs(w: &Value) -> &Mapping {
    w["jobs"].as_mapping().expect("jobs")
}

/// The text of every `run:` step of a job.
fn runs(job: &Value) -> Vec<&str> {
    job["steps"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect()
}

fn uses<'a>(job: &'a Value, action: &str) -> Option<&'a Value> {
    job["steps"]
        .as_sequence()?
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
}

/// A job's `environment:` name.
fn environment(job: &Value) -> Option<&str> {
    job["environment"]
        .as_str()
        .or_else(|| job["environment"]["name"].as_str())
}

fn needs(job: &Value) -> BTreeSet<&str> {
    match &job["needs"] {
        Value::String(one) => BTreeSet::from([one.as_str()]),
        Value::Sequence(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => BTreeSet::new(),
    }
}

/// The `env` of the step of `job` that runs `sam deploy`, as written.
fn get_env(job: &Value) -> BTreeMap<String, String> {
    job.get("steps")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .find(|s| {
            s.get("run")
                .and_then(Value::as_str)
                .is_some_and(|r| r.contains("sam deploy"))
        })
        .and_then(|s| s.get("env"))
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The stage a deploy job's `sam deploy --config-env` names (a literal, or `$STAGE` from the
/// job's `env`).
fn config_env(job: &Value) -> Option<String> {
    let deploy = runs(job).into_iter().find(|r| r.contains("sam deploy"))?;
    let word = deploy
        .split("--config-env")
        .nth(1)?
        .split_whitespace()
        .next()?
        .trim_matches('"');
    let word = match word.strip_prefix('$') {
        Some(var) => job["env"][var.trim_matches(['{', '}'])].as_str()?,
        None => word,
    };
    Some(word.to_owned())
}

/// The environments of `samconfig.toml` that deploy (`[<env>.deploy.parameters]`), in order.
pub(crate) fn samconfig_stages() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix('[')?.strip_suffix(".deploy.parameters]"))
        .filter(|env| *env != "default")
        .map(str::to_owned)
        .collect()
}

/// A job's steps.
fn steps(job: &Value) -> &[Value] {
    job["steps"]
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The index of the first step of `job` whose `run:` contains `text`.
fn step_running(job: &Value, text: &str) -> Option<usize> {
    steps(job)
        .iter()
        .position(|s| s["run"].as_str().is_some_and(|r| r.contains(text)))
}

/// The job that deploys each stage, by stage.
fn stage_jobs(w: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, job) in jobs(w) {
        let Some(stage) = config_env(job) else {
            continue;
        };
        let name = name.as_str().unwrap().to_owned();
        let previous = out.insert(stage.clone(), name);
        assert!(previous.is_none(), "two jobs deploy {stage}");
    }
    out
}

#[test]
fn the_pipeline_deploys_every_stage_of_samconfig_in_order() {
    let w = workflow("deploy.yml");
    assert_eq!(samconfig_stages(), STAGES, "samconfig.toml's stages");
    let by_stage = stage_jobs(&w);
    let deployed: Vec<&str> = by_stage.keys().map(String::as_str).collect();
    let mut expected = STAGES.to_vec();
    expected.sort_unstable();
    assert_eq!(deployed, expected, "every stage of samconfig.toml, once");
    let job = |name: &str| &w["jobs"][name];
    for pair in STAGES.windows(2) {
        let (before, after) = (&by_stage[pair[0]], &by_stage[pair[1]]);
        assert!(
            needs(job(after)).contains(before.as_str()),
            "{after} needs {before}: {} only after {}'s deploy and smoke",
            pair[1],
            pair[0]
        );
    }
    assert_eq!(
        environment(job(&by_stage["prod"])),
        Some("prod"),
        "prod's protected environment"
    );
    // A job or step with an `if:` could run after a failure (`always()`) or be skipped: no
    // stage may start unless the one before it deployed and answered.
    for (name, j) in jobs(&w) {
        assert!(j.get("if").is_none(), "{name:?} has an if:");
        for step in steps(j) {
            assert!(step.get("if").is_none(), "{name:?}: a step has an if:");
            assert_ne!(step["continue-on-error"], true, "{name:?}");
        }
        assert_ne!(j["continue-on-error"], true, "{name:?}");
    }
    for (stage, deploy) in &by_stage {
        let j = job(deploy);
        let sam_deploy = step_running(j, "sam deploy").unwrap();
        let smoke = step_running(j, "make smoke URL=")
            .unwrap_or_else(|| panic!("{deploy} does not smoke-test {stage}"));
        assert!(
            smoke > sam_deploy,
            "{deploy}: the smoke test runs after the deploy"
        );
        // Compiled before the role is taken: no crate's build script or macro runs with the
        // stage's AWS credentials in reach (make smoke itself runs without them).
        let built = step_running(j, "cargo build --locked --quiet -p companies-smoke")
            .unwrap_or_else(|| panic!("{deploy} does not build the smoke suite first"));
        let role = steps(j)
            .iter()
            .position(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials"))
            })
            .unwrap();
        assert!(
            built < role,
            "{deploy}: the smoke suite is built with the role in reach"
        );
        let smoke_run = steps(j)[smoke]["run"].as_str().unwrap();
        assert_eq!(
            smoke_run.contains("WRITE=1"),
            stage == "staging",
            "{deploy}: writes in staging only, read-only elsewhere"
        );
        assert_eq!(
            steps(j)[smoke]["env"]["API_URL"].as_str(),
            Some("${{ steps.deploy.outputs.api-url }}"),
            "{deploy}: the smoke test is pointed at what this job deployed"
        );
        let deploy_runs = runs(j).join("\n");
        for flag in [
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--role-arn",
        ] {
            assert!(
                deploy_runs.contains(flag),
                "{deploy}: sam deploy without {flag}"
            );
        }
        // samconfig.toml's parameters first (the command line's overrides replace them: they
        // must be there), then what the pipeline adds from the stage's environment, each a
        // variable of it: the very parameters the rehearsal adds to samconfig.toml's.
        // The shell word after --parameter-overrides, up to its closing quote (an escaped
        // quote, \", is part of it).
        let overrides = deploy_runs
            .split("--parameter-overrides \"")
            .nth(1)
            .map(|rest| rest.replace("\\\"", "'"))
            .and_then(|rest| rest.split('"').next().map(str::to_owned))
            .unwrap_or_else(|| panic!("{deploy}: sam deploy without --parameter-overrides"));
        let mut words = overrides.split_whitespace();
        assert_eq!(
            words.next(),
            Some("$OVERRIDES"),
            "{deploy}: samconfig's overrides first"
        );
        let env = get_env(j);
        assert_eq!(
            env.get("OVERRIDES").map(String::as_str),
            Some("${{ steps.stage.outputs.overrides }}"),
            "{deploy}"
        );
        let mut added = Vec::new();
        for word in words {
            let (name, value) = word.split_once('=').unwrap();
            // Quoted, so that an empty value reaches CloudFormation empty: SAM CLI drops a bare
            // `Name=`, and the stack would keep its previous value.
            let var = value
                .strip_prefix("'$")
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or_else(|| panic!("{deploy}: {word} is not Name=\\\"$VARIABLE\\\""));
            assert_eq!(
                env.get(var).map(String::as_str),
                Some(format!("${{{{ vars.{var} }}}}").as_str()),
                "{deploy}: {name} comes from the environment's variable {var}"
            );
            added.push(name.to_owned());
        }
        added.sort();
        // No role is created without the boundary: the deploy stops before it starts.
        assert!(
            deploy_runs.contains(": \"${PERMISSIONS_BOUNDARY_ARN:?"),
            "{deploy}: sam deploy runs without the environment's boundary"
        );
        let rehearsed = rehearsed_parameters(stage);
        let rehearsed: Vec<&str> = rehearsed["pipeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(
            added, rehearsed,
            "{deploy}: the pipeline adds what the rehearsal adds"
        );
        assert!(!deploy_runs.contains("sam build"), "{deploy} builds again");
        assert!(
            deploy_runs.contains("--template-file \"packaged-$STAGE.yaml\""),
            "{deploy} deploys something else than its packaged template"
        );
        assert!(uses(j, "actions/download-artifact").is_some(), "{deploy}");
        assert!(needs(j).contains("build"), "{deploy} needs the build");
        assert_eq!(
            j["concurrency"]["group"].as_str(),
            Some(format!("companies-api-{stage}").as_str()),
            "{deploy}"
        );
        assert_eq!(j["concurrency"]["cancel-in-progress"], false, "{deploy}");
    }
    let builds: Vec<_> = jobs(&w)
        .iter()
        .filter(|(_, j)| runs(j).iter().any(|r| r.contains("sam build")))
        .collect();
    assert_eq!(builds.len(), 1, "one job builds");
}

/// AWS only through OIDC: the jobs that take a role are the deploy jobs, each with `id-token:
/// write`, in the environment of the stage it deploys (the role's trust names it); no other
/// job may ask for a token; every workflow starts from no permission; no access key anywhere.
#[test]
fn only_each_stages_deploy_job_takes_its_role_from_its_environment() {
    for file in ["ci.yml", "deploy.yml"] {
        let w = workflow(file);
        assert_eq!(w["permissions"], Value::Mapping(Mapping::new()), "{file}");
        for (name, job) in jobs(&w) {
            let credentials = uses(job, "aws-actions/configure-aws-credentials");
            let token = job["permissions"]["id-token"].as_str();
            match credentials {
                Some(step) => {
                    assert_eq!(token, Some("write"), "{file}: {name:?}");
                    let stage = config_env(job).expect("a job with a role deploys");
                    assert_eq!(environment(job), Some(stage.as_str()), "{file}: {name:?}");
                    let role = step["with"]["role-to-assume"].as_str().unwrap();
                    assert_eq!(role, "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "{file}: {name:?}");
                    assert!(step["with"].get("aws-access-key-id").is_none());
                }
                None => assert_eq!(token, None, "{file}: {name:?} asks for a token"),
            }
        }
    }
    for entry in std::fs::read_dir(root().join(".github/workflows")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for key in [
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_ACCESS_KEY_ID",
        ] {
            assert!(!text.contains(key), "a workflow names {key}");
        }
    }
}

/// Every action is pinned to a full commit (a tag can be moved); the repository's own
/// workflows by their path.
#[test]
fn every_action_is_pinned_to_a_commit() {
    for file in ["ci.yml", "deploy.yml"] {
        let w = workflow(file);
        for (name, job) in jobs(&w) {
            let steps = job["steps"]
                .as_sequence()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let uses = steps
                .iter()
                .filter_map(|s| s["uses"].as_str())
                .chain(job["uses"].as_str());
            for used in uses {
                let pinned = used.starts_with("$/")
                    || used.starts_with("./")
                    || used.rsplit_once('@').is_some_and(|(_, sha)| {
                        sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())
                    });
                assert!(pinned, "{file}: {name:?} uses {used}");
            }
        }
    }
}

/// Every stage is pinned to its region, the same for every command (`sam deploy` and the
/// others), whatever the caller's AWS_REGION.
#[test]
fn every_stage_is_pinned_to_its_region() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    for stage in STAGES {
        for command in ["global", "deploy"] {
            let section = format!("[{stage}.{command}.parameters]");
            let body = &text[text.find(&section).unwrap_or_else(|| panic!("{section}"))..];
            let body = &body[section.len()..body[1..].find("\n[").map_or(body.len(), |i| i + 1)];
            assert!(
                body.lines().any(|l| l == "region = \"sa-east-1\""),
                "{section} has no region = \"sa-east-1\""
            );
        }
    }
    assert!(
        !text.contains("beta_features"),
        "rust-cargolambda needs no beta features"
    );
}
