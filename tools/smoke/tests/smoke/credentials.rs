//! Credentials come from the environment only, go only where they are safe, and are never
//! printed: a token endpoint stand-in checks the client credentials grant (Basic auth,
//! grant_type, scope), and a gateway stand-in in front of the local API requires its token and
//! the route's scope, answering 401/403 as API Gateway's JWT authorizer does.

use std::io::ErrorKind;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use companies_store::MemoryStore;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::json;

use super::common::{assert_never_shown, jwt, local, names, reply, smoke, StandIn};

const CLIENT: &str = "smoke-client";
const SECRET: &str = "s3cret-client-value";
const READ: &str = "companies/read";
const ALL: &str = "companies/read companies/write companies/audit";

type Env<'a> = Vec<(&'a str, &'a str)>;

fn token(scopes: &str) -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    jwt(&json!({"client_id": CLIENT, "scope": scopes, "exp": exp, "token_use": "access"}))
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// A token endpoint that issues `token` to the client with its secret (HTTP Basic), for the
/// client credentials grant and exactly `scopes`; anything else gets OAuth2's error answer.
async fn token_endpoint(token: String, scopes: &'static str) -> StandIn {
    StandIn::start(move |req| {
        let token = token.clone();
        async move {
            let error =
                |code: &str| reply(400, "application/json", json!({"error": code}).to_string());
            let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT}:{SECRET}")));
            let authorized = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                == Some(basic.as_str());
            let form_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                == Some("application/x-www-form-urlencoded");
            if req.method() != Method::POST || req.uri().path() != "/oauth2/token" || !form_type {
                return error("invalid_request");
            }
            if !authorized {
                return error("invalid_client");
            }
            let body = form(&req.into_body().collect().await.unwrap().to_bytes());
            let value = |name: &str| {
                body.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            if value("grant_type") != Some("client_credentials") {
                return error("unsupported_grant_type");
            }
            if value("scope") != Some(scopes) {
                return error("invalid_scope");
            }
            let issued = json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600});
            reply(200, "application/json", issued.to_string())
        }
    })
    .await
}

/// The local API behind a gateway that lets through only `token`, and each route only with
/// its scope (history: companies/audit; GET: companies/read; others: companies/write).
async fn gateway(store: MemoryStore, token: String, scopes: &'static str) -> StandIn {
    StandIn::start(move |req| {
        let (store, token) = (store.clone(), token.clone());
        async move {
            let bearer = format!("Bearer {token}");
            if req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                != Some(&bearer)
            {
                return reply(401, "application/json", r#"{"message":"Unauthorized"}"#);
            }
            let needs = match (req.method(), req.uri().path()) {
                (_, path) if path.ends_with("/history") => "companies/audit",
                (&Method::GET, _) => "companies/read",
                _ => "companies/write",
            };
            if !scopes.split(' ').any(|s| s == needs) {
                return reply(403, "application/json", r#"{"message":"Forbidden"}"#);
            }
            local(&store, req).await
        }
    })
    .await
}

#[tokio::test]
async fn client_credentials_from_the_environment_reach_the_api() {
    let read = token(READ);
    let issuer = token_endpoint(read.clone(), READ).await;
    let api = gateway(MemoryStore::new(), read.clone(), READ).await;
    let token_url = format!("{}/oauth2/token", issuer.url);
    let env = [
        ("SMOKE_CLIENT_ID", CLIENT),
        ("SMOKE_CLIENT_SECRET", SECRET),
        ("SMOKE_TOKEN_URL", token_url.as_str()),
    ];
    let run = smoke(&["--url", &api.url], &env).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("ok    get a token"), "{run:?}");
    assert_eq!(issuer.hits(), 1);
    // Read-only: the authorizer must refuse a history, and did.
    let history = run
        .stdout
        .lines()
        .find(|l| l.contains("history of"))
        .unwrap();
    assert!(
        history.starts_with("ok ") && history.contains(" 403 "),
        "{history}"
    );
    assert!(
        history.contains("refused without companies/audit"),
        "{history}"
    );
    assert_never_shown(&run, &[SECRET, &read]);

    // --write asks for every scope, and goes through with them.
    let all = token(ALL);
    let issuer = token_endpoint(all.clone(), ALL).await;
    let store = MemoryStore::new();
    let api = gateway(store.clone(), all.clone(), ALL).await;
    let token_url = format!("{}/oauth2/token", issuer.url);
    let env = [
        ("SMOKE_CLIENT_ID", CLIENT),
        ("SMOKE_CLIENT_SECRET", SECRET),
        ("SMOKE_TOKEN_URL", token_url.as_str()),
    ];
    let run = smoke(&["--url", &api.url, "--write"], &env).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(names(&store).await.is_empty());
    assert_never_shown(&run, &[SECRET, &all]);
}

#[tokio::test]
async fn a_wrong_client_secret_fails_at_the_token_step_without_showing_it() {
    let read = token(READ);
    let issuer = token_endpoint(read.clone(), READ).await;
    let api = gateway(MemoryStore::new(), read, READ).await;
    let token_url = format!("{}/oauth2/token", issuer.url);
    let env = [
        ("SMOKE_CLIENT_ID", CLIENT),
        ("SMOKE_CLIENT_SECRET", "not-the-secret"),
        ("SMOKE_TOKEN_URL", token_url.as_str()),
    ];
    let run = smoke(&["--url", &api.url], &env).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("smoke: step \"get a token\": expected 200, got 400: invalid_client"),
        "{run:?}"
    );
    assert_eq!(api.hits(), 0);
    assert_never_shown(&run, &["not-the-secret"]);
}

#[tokio::test]
async fn a_bearer_token_from_the_environment_is_sent_and_its_scopes_honoured() {
    let read = token(READ);
    let api = gateway(MemoryStore::new(), read.clone(), READ).await;
    let run = smoke(&["--url", &api.url], &[("SMOKE_TOKEN", &read)]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_never_shown(&run, &[&read]);

    // --write with a read-only token would fail half-way: refused before any request.
    let hits = api.hits();
    let run = smoke(&["--url", &api.url, "--write"], &[("SMOKE_TOKEN", &read)]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "--write needs companies/write and companies/audit too; the token carries companies/read"
        ),
        "{run:?}"
    );
    assert_eq!(api.hits(), hits);

    // A token the gateway does not accept: the first step says so.
    let other = token(READ).replace(".c2lnbmF0dXJl", ".b3RoZXI");
    let run = smoke(&["--url", &api.url], &[("SMOKE_TOKEN", &other)]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("step \"list banks\": expected 200, got 401: Unauthorized"),
        "{run:?}"
    );
    assert_never_shown(&run, &[&other]);

    // An expired one: refused before any request, with the reason.
    let expired = jwt(&json!({"scope": READ, "exp": 1_000_000_000}));
    let hits = api.hits();
    let run = smoke(&["--url", &api.url], &[("SMOKE_TOKEN", &expired)]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the token expired"), "{run:?}");
    assert_eq!(api.hits(), hits);
}

#[tokio::test]
async fn no_flag_takes_a_secret() {
    let api = StandIn::local_api(MemoryStore::new()).await;
    for flag in [
        "--token",
        "--client-secret",
        "--secret",
        "--client-id",
        "--password",
    ] {
        let run = smoke(&[flag, "hunter2", "--url", &api.url], &[]).await;
        assert_eq!(run.code, 2, "{flag}: {run:?}");
        assert!(run.stderr.contains("unexpected argument"), "{run:?}");
        assert_never_shown(&run, &["hunter2"]);
    }
    let help = smoke(&["--help"], &[]).await;
    assert_eq!(help.code, 0, "{help:?}");
    assert!(help.stdout.contains("SMOKE_CLIENT_SECRET"), "{help:?}");
    for flag in ["--token", "--secret", "--client"] {
        assert!(!help.stdout.contains(flag), "{flag} in {help:?}");
    }
}

#[tokio::test]
async fn unsafe_or_missing_credentials_are_refused_before_any_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let https = format!("https://127.0.0.1:{port}");
    let with_user = format!("https://user:pw@127.0.0.1:{port}");
    let local_token_url = format!("http://127.0.0.1:{port}/oauth2/token");
    let token = token(READ);
    // The URL, the environment, what the refusal says.
    let cases: [(&str, Env, &str); 6] = [
        (
            &https,
            vec![],
            "needs credentials in the environment: SMOKE_TOKEN",
        ),
        (
            &with_user,
            vec![("SMOKE_TOKEN", &token)],
            "holds a user name or password",
        ),
        (
            "http://example.invalid",
            vec![("SMOKE_TOKEN", &token)],
            "the token would travel in clear",
        ),
        (
            &https,
            vec![
                ("SMOKE_CLIENT_ID", CLIENT),
                ("SMOKE_CLIENT_SECRET", SECRET),
                ("SMOKE_TOKEN_URL", "http://example.invalid/oauth2/token"),
            ],
            "SMOKE_TOKEN_URL must be https://",
        ),
        (
            &https,
            vec![
                ("SMOKE_CLIENT_ID", CLIENT),
                ("SMOKE_TOKEN_URL", &local_token_url),
            ],
            "SMOKE_CLIENT_SECRET unset",
        ),
        (
            &https,
            vec![("SMOKE_TOKEN", &token), ("SMOKE_CLIENT_ID", CLIENT)],
            "not both",
        ),
    ];
    for (url, env, says) in cases {
        let run = smoke(&["--url", url], &env).await;
        assert_eq!(run.code, 2, "{url}: {run:?}");
        assert!(run.stderr.contains(says), "{says}: {run:?}");
        assert!(run.stderr.contains("no request was sent"), "{run:?}");
        assert_never_shown(&run, &[SECRET, &token]);
    }
    // Nothing connected, to the API or to the token endpoint.
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept().map(|_| ()).map_err(|e| e.kind());
    assert_eq!(accepted, Err(ErrorKind::WouldBlock));
}

/// `make smoke` with `vars` on make's command line, expanded but not run (`-n`): the refusal
/// happens as make expands the recipe, before anything runs.
fn make_smoke(vars: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::process::Command::new("make")
        .args([
            "--no-print-directory",
            "-n",
            "smoke",
            "URL=http://127.0.0.1:9",
        ])
        .args(vars)
        .envs(env.iter().copied())
        .current_dir(root)
        .output()
        .unwrap()
}

/// `make smoke` refuses a credential given as a make variable, where `ps` shows it to every
/// user of the machine, naming the variable and never the value; from the environment the
/// same credential is taken, and it is on no command line make would run.
#[test]
fn make_smoke_refuses_credentials_on_its_command_line() {
    for name in [
        "SMOKE_TOKEN",
        "SMOKE_CLIENT_ID",
        "SMOKE_CLIENT_SECRET",
        "SMOKE_TOKEN_URL",
        "TOKEN",
        "SECRET",
        "CLIENT_SECRET",
    ] {
        let refused = make_smoke(&[&format!("{name}={SECRET}")], &[]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success(),
            "{name} on make's command line was taken"
        );
        assert!(
            stderr.contains(&format!("{name} is refused on make's command line")),
            "{stderr}"
        );
        assert!(!stderr.contains(SECRET), "{stderr}");
        assert!(
            refused.stdout.is_empty(),
            "{name}: make would have run something"
        );
    }
    let taken = make_smoke(&["WRITE=1"], &[("SMOKE_TOKEN", SECRET)]);
    let commands = String::from_utf8_lossy(&taken.stdout);
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(
        commands.contains("companies-smoke -- --url \"http://127.0.0.1:9\" --write"),
        "{commands}"
    );
    assert!(!commands.contains(SECRET), "{commands}");
    // Run where a deploy job's role is in the environment, it is not in the suite's.
    for variable in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert!(commands.contains(&format!("-u {variable} ")), "{commands}");
    }
}
