//! No secret on a command line, which every user of the machine can read (`ps`,
//! `/proc/<pid>/cmdline`): `--from` with a password is refused, the source comes from the
//! environment, and `make import` passes nothing secret to make, cargo or the importer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::relay::{HangUp, Silent};

const SECRET: &str = "S3cret-0f-the-reader";

/// `--from` with a password: refused with the usage status (2) and where to put it, before
/// anything connects, and the password not repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_on_the_command_line_is_refused() {
    let listener = HangUp::start().await;
    for url in [
        format!(
            "postgresql://reader:{SECRET}@127.0.0.1:{}/legacy",
            listener.port
        ),
        format!(
            "postgresql://reader@127.0.0.1:{}/legacy?password={SECRET}",
            listener.port
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_companies-import"))
            .args(["--from", &url, "--dry-run", "--quiet"])
            .args(["--rejects", "/dev/null"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        for said in ["PGPASSWORD", "~/.pgpass", "PGPASSFILE", "DATABASE_URL"] {
            assert!(stderr.contains(said), "{said}: {stderr}");
        }
        assert!(!stderr.contains(SECRET), "{stderr}");
        assert_eq!(listener.connections().await, 0, "connected");
    }
}

/// The importer reading its source (password included) from the environment, started alone
/// and through `make import`: while it waits on the source, no command line of the processes
/// (make, the shell, cargo, the importer) holds the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_and_its_password_stay_off_every_command_line() {
    let silent = Silent::start().await;
    let url = format!(
        "postgresql://reader:{SECRET}@127.0.0.1:{}/legacy",
        silent.port
    );
    let rejects = std::env::temp_dir().join(format!("secrets-{}.jsonl", std::process::id()));

    let mut alone = Command::new(env!("CARGO_BIN_EXE_companies-import"));
    alone
        .args(["--dry-run", "--quiet", "--rejects"])
        .arg(&rejects)
        .env("DATABASE_URL", &url)
        .env("PGPASSWORD", SECRET);
    let importer = holding(alone, &silent).await;
    assert_eq!(importer.len(), 1);

    // `make import` runs `cargo run … -- <flags>`: a stand-in cargo first on PATH runs the
    // importer built for these tests with those flags.
    let bin = fake_cargo();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(workspace())
        .args(["-s", "import", "TABLE=companies-test", "DAYS=30"])
        .arg(format!(
            "ARGS=--dry-run --quiet --rejects {}",
            rejects.display()
        ))
        .env("PATH", path)
        .env("IMPORTER_BIN", env!("CARGO_BIN_EXE_companies-import"))
        .env("DATABASE_URL", &url)
        .env("PGPASSWORD", SECRET);
    let processes = holding(make, &silent).await;
    assert!(
        processes.iter().any(|p| p.contains("companies-import")
            && p.contains("--table companies-test")
            && p.contains("--history-retention-days 30")),
        "the importer did not run with the make variables: {processes:?}"
    );
    let _ = std::fs::remove_file(&rejects);
    std::fs::remove_dir_all(bin).unwrap();
}

/// `make import FROM=…` (what the target read before) is refused: a URL given that way is on
/// make's command line.
#[test]
fn make_import_refuses_a_source_as_a_make_variable() {
    let out = Command::new("make")
        .arg("-C")
        .arg(workspace())
        .args([
            "-s",
            "import",
            "TABLE=t",
            "FROM=postgresql://reader@old-db/companies",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

/// Starts `command`, waits until the process it ends up running connects to `silent`, and
/// reads the command lines of it and every process it started (none of which may hold the
/// password); then lets it end. The command lines, as text.
async fn holding(mut command: Command, silent: &Silent) -> Vec<String> {
    let mut child: Child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let connection = silent.accepted().await;
    let mut lines = Vec::new();
    for pid in family(child.id()) {
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        assert!(
            !line.contains(SECRET),
            "the password is on a command line: {line}"
        );
        lines.push(line);
    }
    drop(connection);
    child.wait().unwrap();
    lines
}

/// `root` and every process under it.
fn family(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: the name may hold spaces and parentheses.
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if let Some(ppid) = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
        {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found
}

/// A folder holding a `cargo` that runs `$IMPORTER_BIN` with the arguments after `--`.
fn fake_cargo() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("fake-cargo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cargo = dir.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\nwhile [ \"$#\" -gt 0 ] && [ \"$1\" != -- ]; do shift; done\nshift\n\
         exec \"$IMPORTER_BIN\" \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
