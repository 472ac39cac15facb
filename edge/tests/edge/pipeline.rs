//! The pipeline (`.github/workflows/deploy.yml`) against `samconfig.toml`: it deploys every
//! stage the file has, each with `--config-env <stage>`, in order dev → staging → prod, the one
//! build made once and packaged per stage; each stage smoke-tested before the next; prod only
//! after staging's smoke, in the protected environment `prod`; AWS reached only through the
//! stage's OIDC role from the job whose environment is that stage; no key anywhere. The
//! bootstrap template's roles and bucket: `bootstrap.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use crate::rehearsal::STAGES;
use crate::template::root;

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

/// The deploy job and the smoke job of each stage, by stage.
fn stage_jobs(w: &Value) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for (name, job) in jobs(w) {
        let Some(stage) = config_env(job) else {
            continue;
        };
        let name = name.as_str().unwrap().to_owned();
        let smokes: Vec<String> = jobs(w)
            .iter()
            .filter(|(_, j)| needs(j).contains(name.as_str()))
            .filter(|(_, j)| runs(j).iter().any(|r| r.contains("make smoke")))
            .map(|(n, _)| n.as_str().unwrap().to_owned())
            .collect();
        let [smoke] = smokes.as_slice() else {
            panic!("{name} deploys {stage}: {smokes:?} smoke it, not one job");
        };
        let previous = out.insert(stage.clone(), (name, smoke.clone()));
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
            needs(job(&after.0)).contains(before.1.as_str()),
            "{} needs {}: {} only after {}'s smoke",
            after.0,
            before.1,
            pair[1],
            pair[0]
        );
    }
    let (prod, _) = &by_stage["prod"];
    assert_eq!(
        environment(job(prod)),
        Some("prod"),
        "prod's protected environment"
    );
    for (stage, (deploy, smoke)) in &by_stage {
        let smoke_runs = runs(job(smoke)).join("\n");
        assert_eq!(
            smoke_runs.contains("WRITE=1"),
            stage == "staging",
            "{smoke}: writes in staging only, read-only elsewhere"
        );
        assert!(smoke_runs.contains("make smoke URL="), "{smoke}");
        let deploy_runs = runs(job(deploy)).join("\n");
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
        // samconfig.toml's parameters and the boundary every role of the stack carries (the
        // command line's overrides replace samconfig.toml's: both must be there).
        assert!(
            deploy_runs.contains(
                "--parameter-overrides \"$OVERRIDES PermissionsBoundaryArn=$PERMISSIONS_BOUNDARY_ARN\""
            ),
            "{deploy}: sam deploy without samconfig's overrides and the boundary"
        );
        let env = get_env(job(deploy));
        assert_eq!(
            env.get("PERMISSIONS_BOUNDARY_ARN").map(String::as_str),
            Some("${{ vars.PERMISSIONS_BOUNDARY_ARN }}"),
            "{deploy}"
        );
        assert_eq!(
            env.get("OVERRIDES").map(String::as_str),
            Some("${{ steps.stage.outputs.overrides }}"),
            "{deploy}"
        );
        assert!(!deploy_runs.contains("sam build"), "{deploy} builds again");
        assert!(
            deploy_runs.contains("--template-file \"packaged-$STAGE.yaml\""),
            "{deploy} deploys something else than its packaged template"
        );
        assert!(
            uses(job(deploy), "actions/download-artifact").is_some(),
            "{deploy}"
        );
        assert!(
            needs(job(deploy)).contains("build"),
            "{deploy} needs the build"
        );
        for name in [deploy, smoke] {
            let group = job(name)["concurrency"]["group"].as_str();
            assert_eq!(
                group,
                Some(format!("companies-api-{stage}").as_str()),
                "{name}"
            );
            assert_eq!(
                job(name)["concurrency"]["cancel-in-progress"],
                false,
                "{name}"
            );
        }
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
