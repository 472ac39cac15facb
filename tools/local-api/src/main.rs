//! `make run`: the companies API on 127.0.0.1:${PORT:-3000}, in-memory by default, on DynamoDB
//! (creating the table if missing) when `AWS_ENDPOINT_URL_DYNAMODB` is set.

use std::process::ExitCode;
use std::sync::Arc;

use companies::store::{DynamoStore, MemoryStore};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
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
            println!("companies local API on {url} (store: DynamoDB table {table} at {endpoint}; no auth: development only)");
            local_api::serve(listener, Arc::new(store)).await;
        }
        Err(_) => {
            println!("companies local API on {url} (store: in-memory; no auth: development only)");
            local_api::serve(listener, Arc::new(MemoryStore::new())).await;
        }
    }
    ExitCode::SUCCESS
}
