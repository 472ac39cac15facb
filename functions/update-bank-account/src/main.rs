//! `update-bank-account` Lambda: builds the DynamoDB store once per instance, then serves requests.

use companies::{handlers, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let store = lambda::init().await?;
    lambda::serve("update-bank-account", &store, |store, req| async move {
        handlers::update_bank_account(&store, req).await
    })
    .await
}
