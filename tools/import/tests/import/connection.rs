//! Connecting to PostgreSQL as libpq does: TLS as `sslmode` says, the password from the URL,
//! PGPASSWORD or the password file, and never shown.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{cluster, fixture, legacy_database};

/// A copy of the fixture on the cluster, and an empty folder as HOME (so no ~/.pgpass or
/// ~/.postgresql/root.crt of the machine's is read), for dry runs that test how the importer
/// connects.
pub struct Connection {
    database: String,
    pub home: PathBuf,
    /// The CA that issued the cluster's certificate (PG_TEST_CA).
    pub ca: String,
    /// The test roles' password (PG_TEST_PASSWORD).
    pub password: String,
}

impl Connection {
    pub async fn new() -> Option<Connection> {
        let cluster = cluster()?;
        let database = legacy_database(&cluster, &fixture()).await;
        let home = std::env::temp_dir().join(format!(
            "import-home-{}",
            database.rsplit('/').next().unwrap()
        ));
        std::fs::create_dir_all(&home).unwrap();
        Some(Connection {
            database,
            home,
            ca: test_secret("PG_TEST_CA"),
            password: test_secret("PG_TEST_PASSWORD"),
        })
    }

    /// [`Connection::run`] with the test roles' password in PGPASSWORD.
    pub fn read(&self, url: &str) -> (i32, String, String) {
        self.run(url, &[("PGPASSWORD", &self.password)])
    }

    /// The copy's URL as `role` (no password in it) at `host`, with `query` added.
    pub fn url(&self, role: &str, host: &str, query: &str) -> String {
        let rest = self.database.split_once('@').unwrap().1;
        let rest = rest.replacen("127.0.0.1", host, 1);
        format!("postgresql://{role}@{rest}{query}")
    }

    /// The cluster's port.
    pub fn port(&self) -> u16 {
        let rest = self.database.rsplit(':').next().unwrap();
        rest.split('/').next().unwrap().parse().unwrap()
    }

    /// The copy's URL as `role`, through `port` on 127.0.0.1 (a relay in front of the
    /// cluster, or a port that is not the cluster's), with `query` added.
    pub fn url_via(&self, role: &str, port: u16, query: &str) -> String {
        let url = self.url(role, "127.0.0.1", query);
        url.replacen(&format!(":{}/", self.port()), &format!(":{port}/"), 1)
    }

    /// The importer run (a dry run) from `url` with `env` set, and none of libpq's variables
    /// of the test's environment: exit status, stdout, stderr.
    pub fn run(&self, url: &str, env: &[(&str, &str)]) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_companies-import"));
        command
            .args(["--from", url, "--dry-run", "--quiet", "--rejects"])
            .arg(self.home.join("rejects.jsonl"))
            .env("HOME", &self.home)
            .env_remove("DATABASE_URL");
        for variable in [
            "PGPASSWORD",
            "PGPASSFILE",
            "PGSSLMODE",
            "PGSSLROOTCERT",
            "PGREQUIREAUTH",
            "PGCHANNELBINDING",
        ] {
            command.env_remove(variable);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

pub fn test_secret(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by scripts/postgres.sh"))
}

/// TLS as libpq's sslmode says, against a server whose certificate a throwaway CA issued for
/// localhost and 127.0.0.1, as a role the server admits over TLS only: verify-full (the
/// default) and verify-ca accept it with that CA and refuse it under another CA (or Mozilla's
/// roots); require and prefer encrypt without verifying; disable is refused by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_importer_speaks_tls_as_sslmode_says() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let (ca, other) = (&c.ca, test_secret("PG_TEST_OTHER_CA"));
    let read = |host: &str, query: String| c.read(&c.url("tls_reader", host, &query));
    for (host, query) in [
        (
            "127.0.0.1",
            format!("?sslmode=verify-full&sslrootcert={ca}"),
        ),
        (
            "localhost",
            format!("?sslmode=verify-full&sslrootcert={ca}"),
        ),
        ("127.0.0.1", format!("?sslmode=verify-ca&sslrootcert={ca}")),
        ("127.0.0.1", format!("?sslrootcert={ca}")),
        ("127.0.0.1", "?sslmode=require".to_owned()),
        ("127.0.0.1", "?sslmode=prefer".to_owned()),
    ] {
        let (code, stdout, stderr) = read(host, query.clone());
        assert_eq!(code, 2, "{host}{query}: {stderr}");
        let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(summary["companies_read"].as_u64() > Some(0), "{summary}");
    }
    for query in [
        format!("?sslmode=verify-full&sslrootcert={other}"),
        format!("?sslmode=verify-ca&sslrootcert={other}"),
        format!("?sslmode=require&sslrootcert={other}"),
        "?sslmode=verify-full".to_owned(),
        String::new(),
    ] {
        let (code, _, stderr) = read("127.0.0.1", query.clone());
        assert_eq!(code, 1, "{query} was accepted: {stderr}");
        assert!(stderr.contains("certificate"), "{query}: {stderr}");
        assert!(stderr.contains("tls_reader@127.0.0.1"), "{stderr}");
    }
    let (code, _, stderr) = read("127.0.0.1", "?sslmode=disable".to_owned());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no encryption"), "{stderr}");
    // The environment's settings, as libpq reads them.
    let (code, _, stderr) = c.run(
        &c.url("tls_reader", "localhost", ""),
        &[
            ("PGPASSWORD", &c.password),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", ca),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
}

/// The password comes from the URL, PGPASSWORD or the password file (ignored when others may
/// read it), and no message ever shows it: not a failed connection, not --help.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_read_as_libpq_reads_it_and_never_shown() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let url = c.url(
        "password_reader",
        "127.0.0.1",
        &format!("?sslrootcert={}", c.ca),
    );
    let (code, _, stderr) = c.run(&url, &[]);
    assert_eq!(code, 1, "connected without a password: {stderr}");
    let (code, _, stderr) = c.read(&url);
    assert_eq!(code, 2, "{stderr}");
    let passfile = c.home.join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{}:*:password_reader:{}\n", c.port(), c.password),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = passfile.to_str().unwrap();
    let (code, _, stderr) = c.run(&url, &[("PGPASSFILE", file)]);
    assert_eq!(code, 2, "{stderr}");
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, stderr) = c.run(&url, &[("PGPASSFILE", file)]);
    assert_eq!(
        code, 1,
        "a password file others can read was used: {stderr}"
    );
    assert!(stderr.contains("ignored"), "{stderr}");
    // ~/.pgpass, as libpq's default.
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&passfile, c.home.join(".pgpass")).unwrap();
    let (code, _, stderr) = c.run(&url, &[]);
    assert_eq!(code, 2, "{stderr}");

    // A password in DATABASE_URL (the environment, not the command line) is used, and a
    // wrong one never shown.
    let wrong = url.replacen("password_reader@", "password_reader:Wr0ng-s3cr3t@", 1);
    let mut command = Command::new(env!("CARGO_BIN_EXE_companies-import"));
    command
        .args(["--dry-run", "--quiet", "--rejects"])
        .arg(c.home.join("rejects.jsonl"))
        .env("DATABASE_URL", &wrong)
        .env_remove("PGPASSWORD");
    let out = command.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(
        !format!("{stdout}{stderr}").contains("Wr0ng-s3cr3t"),
        "{stderr}"
    );
    assert!(stderr.contains("password_reader@127.0.0.1"), "{stderr}");

    let help = Command::new(env!("CARGO_BIN_EXE_companies-import"))
        .arg("--help")
        .env("DATABASE_URL", &wrong)
        .env("TABLE_NAME", "companies-prod")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    assert!(
        !help.contains("Wr0ng-s3cr3t"),
        "--help shows the password: {help}"
    );
}
