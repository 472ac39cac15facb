//! `list-companies` Lambda: builds the DynamoDB store once per instance, then serves requests.

use companies::{handlers, lambda};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let store = lambda::init().await?;
    companies::http::cursor::require_key()?;
    lambda::serve("list-companies", &store, |store, req| async move {
        handlers::list_companies(&store, req).await
    })
    .await
}
