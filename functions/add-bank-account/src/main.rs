//! `add-bank-account` Lambda: builds the DynamoDB store once per instance, then serves requests.

use companies::{handlers, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let store = lambda::init().await?;
    lambda::serve("add-bank-account", &store, |store, req| async move {
        handlers::add_bank_account(&store, req).await
    })
    .await
}
