//! The floor: a bare `lambda_http` function that answers every request with a small JSON body,
//! without any AWS SDK, logging or store, built with the same release profile as the functions.
//! `make bench` measures it in the same harness, every run: its cold start is the limit ours
//! are reported against.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"ok":true}"#))
            .map_err(Error::from)
    }))
    .await
}
