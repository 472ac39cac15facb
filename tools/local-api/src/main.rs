//! `make run`: the companies API on 127.0.0.1:${PORT:-3000}, in-memory by default, on DynamoDB
//! (creating the table if missing) when `AWS_ENDPOINT_URL_DYNAMODB` is set.

use std::process::ExitCode;
use std::sync::Arc;

use companies_store::{DynamoStore, MemoryStore};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    // `local-api docs DIR`: the API reference as a static folder (`make docs`).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, dir] = args.as_slice() {
        if command == "docs" {
            return match local_api::docs::write_static(std::path::Path::new(dir)) {
                Ok(()) => {
                    println!("wrote the API reference to {dir}/ (open index.html through any web server)");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot write the API reference: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    // `local-api create-table`: the table named by TABLE_NAME at AWS_ENDPOINT_URL_DYNAMODB,
    // if missing, with the company the sample events name (`scripts/sam-local.sh`).
    if let [command] = args.as_slice() {
        if command == "create-table" {
            return create_table().await;
        }
    }
    companies::telemetry::init();
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(3000);
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = match listener.local_addr() {
        Ok(addr) => format!("http://{addr}"),
        Err(_) => format!("http://127.0.0.1:{port}"),
    };
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) => {
            let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "companies-local".into());
            let store = DynamoStore::connect(table.clone()).await;
            if let Err(e) = store.ensure_table().await {
                eprintln!("cannot prepare table {table} at {endpoint}: {e}");
                return ExitCode::FAILURE;
            }
            announce(&url, &format!("DynamoDB table {table} at {endpoint}"));
            local_api::serve(listener, Arc::new(store)).await;
        }
        Err(_) => {
            announce(&url, "in-memory");
            local_api::serve(listener, Arc::new(MemoryStore::new())).await;
        }
    }
    ExitCode::SUCCESS
}

async fn create_table() -> ExitCode {
    let Ok(table) = std::env::var("TABLE_NAME") else {
        eprintln!("create-table: set TABLE_NAME (and AWS_ENDPOINT_URL_DYNAMODB)");
        return ExitCode::FAILURE;
    };
    let store = DynamoStore::connect(table.clone()).await;
    let ready = match store.ensure_table().await {
        Ok(()) => local_api::sample::file(&store).await,
        Err(e) => Err(e),
    };
    match ready {
        Ok(_) => {
            eprintln!(
                "table {table} is ready, with the company the sample events name ({})",
                local_api::sample::COMPANY_ID
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot prepare table {table}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What it serves, printed at start in one write, and never fatal: a reader (a test, a
/// script) may stop reading after the first line.
fn announce(url: &str, store: &str) {
    use std::io::Write;
    let text = format!(
        "companies local API on {url} (store: {store}; no auth: development only)\n  \
         API reference (try it here): {url}/docs/\n  \
         contract: {url}/openapi.yaml and {url}/openapi.json\n"
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
