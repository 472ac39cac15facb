//! The harness: the `companies-smoke` binary run with only the environment a test gives it,
//! the local API in process on the in-memory store, and stand-ins (a token endpoint, a
//! gateway, a broken API) as small hyper servers on free loopback ports.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use companies_store::{CompanyLister, MemoryStore};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

pub type Request = hyper::Request<Incoming>;
pub type Reply = hyper::Response<Full<Bytes>>;

/// The local API's time budget per request in these tests.
pub const BUDGET: Duration = Duration::from_secs(8);

/// How a run of the binary ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything it printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `companies-smoke` with `args` and exactly the variables `env` (none of the caller's:
/// a developer's own SMOKE_ credentials or proxy settings never leak into a test).
pub async fn smoke(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_companies-smoke"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A server on a free loopback port answering each request with `handler`, counting them;
/// stopped when dropped.
pub struct StandIn {
    pub url: String,
    hits: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StandIn {
    pub async fn start<F, Fut>(handler: F) -> StandIn
    where
        F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, hits) = (handler.clone(), Arc::clone(&counted));
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let answer = handler(req);
                        async move { Ok::<_, Infallible>(answer.await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StandIn { url, hits, server }
    }

    /// The local API over `store`, through `local_api::serve` as `make run` serves it.
    pub async fn local_api(store: MemoryStore) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(local_api::serve_with_budget(
            listener,
            Arc::new(store),
            BUDGET,
        ));
        let hits = Arc::new(AtomicUsize::new(0));
        StandIn { url, hits, server }
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The local API's answer to `req` over `store`.
pub async fn local(store: &MemoryStore, req: Request) -> Reply {
    local_api::handle(store, BUDGET, req).await
}

/// An answer of `status` with `body` as `content_type`.
pub fn reply(status: u16, content_type: &str, body: impl Into<String>) -> Reply {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.into())))
        .unwrap()
}

/// A JWT carrying `claims` (its signature is not checked by anyone here).
pub fn jwt(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(&serde_json::json!({"alg": "RS256", "kid": "test"})),
        part(claims)
    )
}

/// The companies `store` holds, by name.
pub async fn names(store: &MemoryStore) -> Vec<String> {
    let page = store.list(100, None).await.unwrap();
    let mut names: Vec<String> = page.items.into_iter().map(|c| c.company_name).collect();
    names.sort();
    names
}

/// Asserts that neither output of `run` holds any of `secrets`.
pub fn assert_never_shown(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.all().contains(secret),
            "{secret:?} was printed:\n{run:?}"
        );
    }
}
