//! The packaged functions through real SAM: `sam local invoke` of every sample event, init
//! errors shown as Lambda shows them, a CRUD round trip through `sam local start-api`, and the
//! pre-traffic hook against `sam local start-lambda` (`hook.rs`), all on DynamoDB Local. `scripts/sam-local.sh test` (part of `make test`) builds the functions and
//! their base image first and sets `REQUIRE_SAM=1`, `SAM_ARCH` and `SAM_IMAGE`; elsewhere these
//! tests are skipped, and with `REQUIRE_SAM=1` but nothing prepared they fail.
//!
//! Not a module of the `api` binary: `scripts/sam-local.sh test` runs this suite alone, by its
//! target's name (`cargo test --workspace --test sam`), once Docker and the functions are ready.

mod hook;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use companies_edge::runner::lambda::START_REFUSED;
use companies_store::testing::dynamo_store;
use companies_store::DynamoStore;
use local_api::sample;
use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The built functions' architecture and base image, or `None` (skip) without `REQUIRE_SAM`.
fn prepared() -> Option<(String, String)> {
    let required = std::env::var("REQUIRE_SAM").as_deref() == Ok("1");
    match (std::env::var("SAM_ARCH"), std::env::var("SAM_IMAGE")) {
        (Ok(arch), Ok(image)) => Some((arch, image)),
        _ if required => {
            panic!("REQUIRE_SAM=1 without SAM_ARCH/SAM_IMAGE: run scripts/sam-local.sh test")
        }
        _ => {
            eprintln!("SAM is not prepared (scripts/sam-local.sh test): skipping");
            None
        }
    }
}

/// env.json for every function: the table, DynamoDB Local, a local cursor key, the local stage;
/// `overrides` sets a variable of one function (function, variable, value: an empty value is
/// what the functions read as unset).
fn env_file(store: &DynamoStore, name: &str, overrides: &[(&str, &str, &str)]) -> PathBuf {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    let base = json!({
        "TABLE_NAME": store.table(), "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "CURSOR_SECRET": "sam suite cursor key", "STAGE": "local",
    });
    let mut env = serde_json::Map::new();
    for op in companies_edge::operations::OPERATIONS {
        let mut vars = base.clone();
        for (function, var, value) in overrides {
            if *function == op.function_id() {
                vars[*var] = json!(value);
            }
        }
        env.insert(op.function_id(), vars);
    }
    let path = root().join(format!("target/sam-local/{name}-{}.json", store.table()));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&env).unwrap()).unwrap();
    path
}

/// `sam` (through the host-network launcher) with `args`, from the repository root, without
/// AWS credentials (given some, SAM would ask AWS's STS who the caller is).
fn sam(args: &[&str]) -> Command {
    let mut command = Command::new(root().join("scripts/tools.sh"));
    command
        .current_dir(root())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .args(["sam", "python3", "scripts/sam_host_network.py"])
        .args(args);
    command
}

fn invoke(image: &str, env: &Path, function: &str, event: &Path) -> Output {
    let env = env.to_string_lossy();
    let event = event.to_string_lossy();
    sam(&[
        "local",
        "invoke",
        "--docker-network",
        "host",
        "--skip-pull-image",
        "--invoke-image",
        image,
        "--env-vars",
        &env,
        function,
        "-e",
        &event,
    ])
    .output()
    .expect("sam runs")
}

/// The function's answer: the last line of `sam local invoke`'s standard output.
fn answer(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    line.and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no answer from sam local invoke:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// The status each sample event expects (the company it names exists at version 1).
fn expected_status(event: &Value) -> u16 {
    let method = event["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or("");
    let route = event["routeKey"].as_str().unwrap_or("");
    match (method, route) {
        ("POST", _) => 201,
        ("DELETE", _) => 204,
        _ => 200,
    }
}

#[tokio::test]
async fn every_sample_event_answers_through_sam_local_invoke() {
    let Some((arch, image)) = prepared() else {
        return;
    };
    let events = std::fs::read_dir(root().join("events")).unwrap();
    // The API's events (`events/hooks/` holds the deploy hook's: `hook.rs`).
    let mut events: Vec<PathBuf> = events
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    events.sort();
    assert!(events.len() >= companies_edge::operations::OPERATIONS.len());
    let mut seen = HashMap::new();
    for path in events {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let op = companies_edge::operations::OPERATIONS
            .iter()
            .filter(|op| name.starts_with(op.name))
            .max_by_key(|op| op.name.len())
            .unwrap_or_else(|| panic!("{name}: no operation"));
        // A fresh table with the company the events name, at version 1.
        let store = dynamo_store("sam-invoke").await.expect("DynamoDB Local");
        assert!(sample::file(&store).await.unwrap());
        let env = env_file(&store, "invoke", &[]);
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let output = invoke(&image, &env, &op.function_id(), &path);
        let reply = answer(&output);
        assert_eq!(
            reply["statusCode"].as_u64(),
            Some(u64::from(expected_status(&event))),
            "{name}: {reply}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let headers = &reply["headers"];
        assert_eq!(headers["cache-control"], "no-store", "{name}: {reply}");
        *seen.entry(op.name).or_insert(0) += 1;
        // What ran is the packaged bootstrap of the architecture asked for.
        let bootstrap = root().join(format!(".aws-sam/build/{}/bootstrap", op.function_id()));
        let head = std::fs::read(&bootstrap).unwrap();
        let machine = u16::from_le_bytes([head[18], head[19]]);
        assert_eq!(&head[..4], b"\x7fELF");
        assert_eq!(machine, if arch == "arm64" { 0xB7 } else { 0x3E }, "{name}");
    }
    for op in companies_edge::operations::OPERATIONS {
        assert!(seen.contains_key(op.name), "no event ran {}", op.name);
    }
}

#[tokio::test]
async fn a_function_that_cannot_start_shows_its_init_error() {
    let Some((_, image)) = prepared() else { return };
    let store = dynamo_store("sam-init").await.expect("DynamoDB Local");
    let env = env_file(
        &store,
        "init",
        &[
            ("GetCompanyHistoryFunction", "CURSOR_SECRET", ""),
            ("GetCompanyFunction", "TABLE_NAME", ""),
            // `sam local` sets AWS_SAM_LOCAL: outside the local stage it is refused.
            ("GetBanksFunction", "STAGE", "prod"),
        ],
    );
    let cases = [
        (
            "GetCompanyHistoryFunction",
            "events/get-company-history.json",
            "CURSOR_SECRET is not set",
        ),
        (
            "GetCompanyFunction",
            "events/get-company.json",
            "TABLE_NAME",
        ),
        (
            "GetBanksFunction",
            "events/get-banks.json",
            "AWS_SAM_LOCAL is set but STAGE is",
        ),
    ];
    for (function, event, says) in cases {
        let output = invoke(&image, &env, function, &root().join(event));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // As on Lambda: the runtime's own line on stderr, then the platform's init failure,
        // and no answer from the function.
        assert!(
            !stdout.contains("statusCode"),
            "{function} answered instead of failing to start: {stdout}"
        );
        assert!(stderr.contains("Init failed"), "{function}: {stderr}");
        let all = format!("{stdout}{stderr}");
        assert!(
            all.contains(says),
            "{function}: no init error naming {says}:\n{all}"
        );
        // And the function's own log line, which the template's metric filters count.
        assert!(
            all.contains(&format!(r#""message":"{START_REFUSED}""#)),
            "{function}: no {START_REFUSED:?} log line:\n{all}"
        );
    }
}

/// `sam local start-api` (or `start-lambda`) on a free port, stopped (with its containers)
/// when dropped.
struct StartApi {
    child: Child,
    url: String,
}

impl Drop for StartApi {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `sam local <command>` (`start-api` or `start-lambda`) on a free port with the functions'
/// `env`, its output in `target/sam-local/<log>.log`.
fn start(image: &str, env: &Path, command: &str, log: &str) -> StartApi {
    let port = free_port().to_string();
    let log = std::fs::File::create(root().join(format!("target/sam-local/{log}.log"))).unwrap();
    let child = sam(&[
        "local",
        command,
        "--docker-network",
        "host",
        "--skip-pull-image",
        "--invoke-image",
        image,
        "--env-vars",
        &env.to_string_lossy(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--warm-containers",
        "LAZY",
    ])
    .stdout(Stdio::from(log.try_clone().unwrap()))
    .stderr(Stdio::from(log))
    .spawn()
    .expect("sam runs");
    StartApi {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_crud_round_trip_through_sam_local_start_api() {
    let Some((_, image)) = prepared() else { return };
    let store = dynamo_store("sam-api").await.expect("DynamoDB Local");
    let env = env_file(&store, "api", &[]);
    let api = start(&image, &env, "start-api", "start-api");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    // Ready when the API answers; SAM takes a few seconds to read the template.
    let started = Instant::now();
    loop {
        if http
            .get(format!("{}/banks/336", api.url))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sam local start-api did not answer (target/sam-local/start-api.log)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let created = http
        .post(format!("{}/companies", api.url))
        .json(&json!({"company_name": "Padaria SAM Ltda", "phone": "11978235674",
                      "declared_billing": "1234.50", "tax_id": "60.746.948/0001-12",
                      "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let company: Value = created.json().await.unwrap();
    let id = company["id"].as_str().unwrap().to_owned();
    assert_eq!(company["declared_billing"], "1234.50");

    let read = http
        .get(format!("{}/companies/{id}", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"], "\"1\"");
    assert_eq!(read.json::<Value>().await.unwrap(), company);

    let patched = http
        .patch(format!("{}/companies/{id}", api.url))
        .header("content-type", "application/merge-patch+json")
        .header("if-match", "\"1\"")
        .body(r#"{"declared_billing": "2500.00", "tax_id": null}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["version"].as_u64(), &patched["tax_id"]),
        (Some(2), &Value::Null)
    );

    let history = http
        .get(format!("{}/companies/{id}/history", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200);
    let history: Value = history.json().await.unwrap();
    let operations: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["update", "create"]);
    assert_eq!(
        history["items"][0]["changes"]["declared_billing"],
        "2500.00"
    );

    let stale = http
        .delete(format!("{}/companies/{id}", api.url))
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let deleted = http
        .delete(format!("{}/companies/{id}", api.url))
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = http
        .get(format!("{}/companies/{id}", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
}
