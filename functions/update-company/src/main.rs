//! `update-company` Lambda: builds the DynamoDB store once per instance, then serves requests.

use companies::{handlers, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let store = lambda::init().await?;
    lambda::serve("update-company", &store, |store, req| async move {
        handlers::update_company(&store, req).await
    })
    .await
}
