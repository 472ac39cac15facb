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
        let overrides = deploy_runs
            .split("--parameter-overrides \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
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
            let var = value
                .strip_prefix('$')
                .unwrap_or_else(|| panic!("{deploy}: {word}"));
            assert_eq!(
                env.get(var).map(String::as_str),
                Some(format!("${{{{ vars.{var} }}}}").as_str()),
                "{deploy}: {name} comes from the environment's variable {var}"
            );
            added.push(name.to_owned());
        }
        added.sort();
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

/// A scratch directory of its own for `test`.
fn scratch(test: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("companies-pipeline-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `script` (a step's `run:`) under `bash -e` in `dir` with `env`; its status.
fn run_step(script: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> bool {
    std::process::Command::new("bash")
        .args(["-e", "-c", script])
        .current_dir(dir)
        .envs(env.iter().copied())
        .status()
        .unwrap()
        .success()
}

/// The build reaches every stage as it was made, its bootstraps still executable: the build
/// job's step that packs `.aws-sam/build` and the deploy jobs' step that unpacks it, run as
/// written, with only the uploaded artifact carried between them (an artifact is a zip, which
/// keeps no file mode: the tar inside it does). A build changed on the way is refused.
#[test]
fn the_build_reaches_every_stage_executable_and_unchanged() {
    use std::os::unix::fs::PermissionsExt;
    let w = workflow("deploy.yml");
    let build = &w["jobs"]["build"];
    let pack = &steps(build)[step_running(build, "sam-build.tar").expect("the build is packed")];
    let upload = steps(build)
        .iter()
        .find(|s| s["with"]["name"] == "sam-build")
        .expect("the build is uploaded");
    let uploaded = upload["with"]["path"].as_str().unwrap();
    assert!(
        uploaded.ends_with(".tar"),
        "the artifact is {uploaded}, not a tar"
    );

    let made = scratch("made");
    let function = made.join(".aws-sam/build/GetCompanyFunction");
    std::fs::create_dir_all(&function).unwrap();
    std::fs::write(function.join("bootstrap"), b"\x7fELF").unwrap();
    std::fs::set_permissions(function.join("bootstrap"), PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(made.join(".aws-sam/build/template.yaml"), "Resources: {}\n").unwrap();
    let output = made.join("github-output");
    let output_env = output.to_str().unwrap();
    assert!(run_step(
        pack["run"].as_str().unwrap(),
        &made,
        &[("GITHUB_OUTPUT", output_env)]
    ));
    let outputs = std::fs::read_to_string(&output).unwrap();
    let digest = outputs
        .lines()
        .find_map(|l| l.strip_prefix("digest="))
        .expect("the build job's digest output");
    assert_eq!(
        build["outputs"]["digest"],
        "${{ steps.digest.outputs.digest }}"
    );
    assert_eq!(pack["id"], "digest");

    let by_stage = stage_jobs(&w);
    for (stage, name) in &by_stage {
        let job = &w["jobs"][name.as_str()];
        let download = uses(job, "actions/download-artifact").unwrap();
        assert_eq!(download["with"]["name"], "sam-build", "{name}");
        let into = download["with"]["path"].as_str().unwrap();
        let unpack = &steps(job)[step_running(job, "BUILD_DIGEST").expect("the digest is checked")];
        let unpack = unpack["run"].as_str().unwrap();
        assert_eq!(
            job["env"]["BUILD_DIGEST"], "${{ needs.build.outputs.digest }}",
            "{name}"
        );
        let carried = |dir: &std::path::Path| {
            std::fs::create_dir_all(dir.join(into)).unwrap();
            let file = std::path::Path::new(uploaded).file_name().unwrap();
            std::fs::copy(made.join(uploaded), dir.join(into).join(file)).unwrap();
        };
        let deployed = scratch(stage);
        carried(&deployed);
        assert!(
            run_step(unpack, &deployed, &[("BUILD_DIGEST", digest)]),
            "{name}"
        );
        let bootstrap = deployed.join(".aws-sam/build/GetCompanyFunction/bootstrap");
        let mode = std::fs::metadata(&bootstrap).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o111,
            0o111,
            "{name}: the bootstrap lost its executable bit"
        );
        assert!(
            deployed.join(".aws-sam/build/template.yaml").is_file(),
            "{name}"
        );

        let other = scratch(&format!("{stage}-other"));
        carried(&other);
        let wrong = "0".repeat(64);
        assert!(
            !run_step(unpack, &other, &[("BUILD_DIGEST", wrong.as_str())]),
            "{name} takes a build whose digest is not the build job's"
        );
        assert!(
            !other.join(".aws-sam/build/template.yaml").exists(),
            "{name}"
        );
        for dir in [deployed, other] {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let _ = std::fs::remove_dir_all(made);
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
