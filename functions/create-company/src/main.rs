//! `create-company` Lambda: builds the DynamoDB store once per instance, then serves requests.

use companies::{handlers, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let store = lambda::init().await?;
    lambda::serve("create-company", &store, |store, req| async move {
        handlers::create_company(&store, req).await
    })
    .await
}
