//! The `make run` binary itself: starts, announces its address and store, serves the README's
//! first request.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn local_api_binary_serves_the_readme_example() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
        .env("PORT", "0")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(
        line.contains("in-memory") && line.contains("no auth"),
        "{line}"
    );
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{url}/companies"))
        .header("content-type", "application/json")
        .body(r#"{"company_name":"Acme","phone":"11978235674","declared_billing":10}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}
