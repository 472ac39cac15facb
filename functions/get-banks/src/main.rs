//! `get-banks` Lambda: serves the embedded bank registry; it touches no database.

use companies::{handlers, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    lambda::run("get-banks", handlers::get_banks).await
}
