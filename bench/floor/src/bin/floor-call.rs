//! The floor plus get-company's one DynamoDB call: a bare `lambda_http` function that, for each
//! request, sends the same strongly consistent GetItem to `AWS_ENDPOINT_URL_DYNAMODB` with hyper
//! (HTTP/1.1, no SDK, no signing: DynamoDB Local does not check signatures) and answers with
//! DynamoDB's reply as it came. What any function that must read one item can at best do on its
//! first invocation: `make bench` reports get-company's cold start against it (plain mode only;
//! it speaks no TLS).

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")?;
    let table = std::env::var("TABLE_NAME")?;
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "local".into());
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    // DynamoDB Local keeps one database per access key and region, read from this header.
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"
    );
    // TCP_NODELAY, as the functions' connector: without it the body waits for the headers' ACK.
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build::<_, Full<bytes::Bytes>>(tcp);
    let (client, endpoint, table, authorization) = (&client, &endpoint, &table, &authorization);
    run(service_fn(move |req: Request| async move {
        let id = req.path_parameters().first("id").unwrap_or_default().to_owned();
        let body = format!(
            r#"{{"TableName":"{table}","Key":{{"pk":{{"S":"COMPANY#{id}"}},"sk":{{"S":"COMPANY"}}}},"ConsistentRead":true}}"#
        );
        let call = hyper::Request::post(endpoint.as_str())
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("x-amz-date", "20260101T000000Z")
            .header("authorization", authorization.as_str())
            .body(Full::from(body))?;
        let reply = client.request(call).await?;
        let status = reply.status();
        let bytes = reply.into_body().collect().await?.to_bytes();
        Response::builder()
            .status(if status.is_success() { 200 } else { 502 })
            .header("content-type", "application/json")
            .body(Body::from(bytes.to_vec()))
            .map_err(Error::from)
    }))
    .await
}
