//! `get-company-history` Lambda: builds the DynamoDB store once per instance, then serves requests.

use companies::{handlers, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let store = lambda::init().await?;
    lambda::serve("get-company-history", &store, |store, req| async move {
        handlers::get_company_history(&store, req).await
    })
    .await
}
