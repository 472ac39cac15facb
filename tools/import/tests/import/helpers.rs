//! What every test of the importer runs on: a legacy database on the cluster, an empty table,
//! the local API over it, the importer run to its end, and the table read back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use companies_store::DynamoStore;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The Flask service's schema, and rows covering every quirk.
const SCHEMA: &str = include_str!("../fixtures/schema.sql");
const ROWS: &str = include_str!("../fixtures/legacy.sql");

/// The schema with the rows covering every quirk.
pub fn fixture() -> String {
    format!("{SCHEMA}\n{ROWS}")
}

/// The cluster's URL, or `None` (skip) when none runs; `REQUIRE_POSTGRES=1` makes that a failure.
pub fn cluster() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
            );
            eprintln!("DATABASE_URL is not set: skipping (run through scripts/postgres.sh)");
            None
        }
    }
}

/// A new database on the cluster holding `sql`; its URL.
pub async fn legacy_database(cluster: &str, sql: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "legacy_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    admin(cluster)
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = match cluster.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("unexpected DATABASE_URL {cluster}"),
    };
    admin(&url).await.batch_execute(sql).await.unwrap();
    url
}

/// A client of `url` (a database of the cluster) as the cluster's owner, whose password
/// scripts/postgres.sh exports as PGPASSWORD.
pub async fn admin(url: &str) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    if let Ok(password) = std::env::var("PGPASSWORD") {
        config.password(password);
    }
    let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// Everything one test needs: the legacy database, an empty table, the API over it.
pub struct Setup {
    pub database: String,
    pub store: DynamoStore,
    pub api: String,
    pub http: reqwest::Client,
    pub rejects: PathBuf,
}

pub async fn setup(sql: &str) -> Option<Setup> {
    let cluster = cluster()?;
    let store = companies_store::testing::dynamo_store("import").await?;
    let database = legacy_database(&cluster, sql).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_api::serve_with_budget(
        listener,
        Arc::new(store.clone()),
        Duration::from_secs(8),
    ));
    let rejects = std::env::temp_dir().join(format!("{}.jsonl", store.table()));
    Some(Setup {
        database,
        store,
        api,
        http: reqwest::Client::new(),
        rejects,
    })
}

impl Setup {
    pub fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_companies-import"));
        cmd.args(["--table", self.store.table()])
            .env("DATABASE_URL", &self.database)
            .env("HISTORY_RETENTION_DAYS", "30")
            .arg("--rejects")
            .arg(&self.rejects)
            .args(extra);
        cmd
    }

    /// Runs the importer to its end: exit status, summary (stdout), stderr.
    pub fn import(&self, extra: &[&str]) -> (i32, Value, String) {
        run_to_end(self.command(extra))
    }

    /// The lines of the rejects file with `code`.
    pub fn rejects_coded(&self, code: &str) -> Vec<Value> {
        let mut lines = self.rejects();
        lines.retain(|r| r["code"] == code);
        lines
    }

    pub fn rejects(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.rejects)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Runs `sql` on the legacy database: what the Flask service does between two runs.
    pub async fn legacy(&self, sql: &str) {
        admin(&self.database)
            .await
            .batch_execute(sql)
            .await
            .unwrap();
    }

    /// A merge patch through the API.
    pub async fn patch(&self, id: &str, patch: Value) -> Value {
        let r = self
            .http
            .patch(format!("{}/companies/{id}", self.api))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn by_legacy_id(&self, id: i32) -> Option<Value> {
        let (status, page) = self.get(&format!("/companies?legacy_id={id}")).await;
        assert_eq!(status, 200);
        page["items"].as_array().unwrap().first().cloned()
    }

    /// Every company, by name (following cursors).
    pub async fn all(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut path = "/companies?sort=name&limit=100".to_owned();
        loop {
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200);
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/companies?sort=name&limit=100&cursor={c}"),
                None => return out,
            }
        }
    }
}

/// Runs an importer command to its end: exit status, summary (stdout), stderr.
pub fn run_to_end(mut command: Command) -> (i32, Value, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let summary = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("no summary ({e}); stderr: {stderr}"));
    (status.code().unwrap_or(-1), summary, stderr)
}

/// The summary a dry run gives of what the run that gave `summary` did.
pub fn as_dry_run(summary: &Value) -> Value {
    let mut dry = summary.clone();
    dry["dry_run"] = json!(true);
    dry
}

pub fn without(mut company: Value, field: &str) -> Value {
    company.as_object_mut().unwrap().remove(field);
    company
}

/// `companies` legacy companies with 0–3 accounts each (one in 50 with a bad agency).
pub fn generated(companies: u32) -> String {
    format!(
        "{SCHEMA}
        INSERT INTO bank (code, name) VALUES ('001', 'Banco do Brasil');
        INSERT INTO client_company (company_name, phone, created, declared_billing)
          SELECT (ARRAY['Padaria','Mercado','Açougue','Farmácia','Oficina'])[1 + g % 5]
                   || ' ' || (ARRAY['São João','Paulista','Central','do Zé','Bom Preço'])[1 + (g / 5) % 5]
                   || ' ' || g,
                 '119' || lpad(g::text, 8, '0'),
                 timestamp '2015-01-01' + g * interval '37 minutes',
                 (g * 13.37)::numeric(12,2)
          FROM generate_series(1, {companies}) g;
        INSERT INTO company_bank_account (agency, account_number, bank_code, company_id)
          SELECT CASE WHEN c.id % 50 = 1 THEN '123245' ELSE lpad((c.id % 9999)::text, 4, '0') END,
                 (c.id * 10 + k)::text, '001', c.id
          FROM client_company c, generate_series(1, 3) k
          WHERE k <= c.id % 4;"
    )
}

/// What the table holds, as the API shows it (without `updated`, the time of writing), with
/// the name index and each company's number of history entries.
pub async fn contents(
    s: &Setup,
) -> (
    Vec<Value>,
    BTreeSet<(String, String)>,
    BTreeMap<String, usize>,
) {
    let companies: Vec<Value> = s
        .all()
        .await
        .into_iter()
        .map(|c| without(c, "updated"))
        .collect();
    let mut entries = BTreeMap::new();
    for c in &companies {
        let id = c["id"].as_str().unwrap();
        let (_, history) = s.get(&format!("/companies/{id}/history?limit=100")).await;
        entries.insert(id.to_owned(), history["items"].as_array().unwrap().len());
    }
    (companies, s.store.name_index().await.unwrap(), entries)
}

/// The stored companies of `companies` (as the API showed them).
pub async fn stored(s: &Setup, companies: &[Value]) -> Vec<companies::Company> {
    use companies_store::CompanyReader;
    let mut out = Vec::new();
    for c in companies {
        let id = c["id"].as_str().unwrap().parse().unwrap();
        out.push(s.store.get(id).await.unwrap().unwrap());
    }
    out
}
