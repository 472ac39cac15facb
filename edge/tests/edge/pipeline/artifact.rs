//! The one build, carried from the build job to every stage's job as the workflow's steps
//! write it: packed, uploaded, downloaded, checked and unpacked.

use super::{stage_jobs, step_running, steps, uses, workflow};

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
