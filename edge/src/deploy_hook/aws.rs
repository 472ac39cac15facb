//! The hook's two AWS calls, signed with the SDK's own SigV4 signer (`aws-sigv4`): Lambda's
//! `Invoke` and CodeDeploy's `PutLifecycleEventHookExecutionStatus`. Written as requests rather
//! than through `aws-sdk-lambda` and `aws-sdk-codedeploy`: two calls do not pay for two more
//! generated SDK crates in every build (docs/decisions/0009-hook-without-sdks.md).
//!
//! Credentials and region come from the Lambda environment; `AWS_ENDPOINT_URL_LAMBDA` and
//! `AWS_ENDPOINT_URL_CODEDEPLOY` point the calls elsewhere (`sam local start-lambda` and a
//! stand-in for CodeDeploy in the tests), as the SDKs read them.

use std::time::{Duration, SystemTime};

pub use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one call may take (an invocation includes the new version's cold start).
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// What a call failed with.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Setup(String),
    #[error("{service} answered {status}: {detail}")]
    Refused {
        service: &'static str,
        status: u16,
        detail: String,
    },
    #[error("{service} did not answer: {detail}")]
    Unreachable {
        service: &'static str,
        detail: String,
    },
}

/// An invocation's outcome: the payload, and the kind of error the function raised, if any
/// (`X-Amz-Function-Error`: it did not answer with a response).
pub struct Invoked {
    pub payload: Vec<u8>,
    pub function_error: Option<String>,
}

/// Signed calls to Lambda and CodeDeploy.
pub struct Aws {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    credentials: Credentials,
    region: String,
    lambda: String,
    codedeploy: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Aws {
    /// From the Lambda environment: region, credentials, and the endpoints' overrides.
    pub fn from_env() -> Result<Aws, CallError> {
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| CallError::Setup("AWS_REGION is not set".into()))?;
        let lambda = env("AWS_ENDPOINT_URL_LAMBDA");
        let codedeploy = env("AWS_ENDPOINT_URL_CODEDEPLOY");
        let local = lambda.is_some() && codedeploy.is_some();
        let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                Credentials::new(id, secret, env("AWS_SESSION_TOKEN"), None, "environment")
            }
            // Local stand-ins check no signature.
            _ if local => Credentials::new("local", "local", None, None, "local"),
            _ => {
                return Err(CallError::Setup(
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into(),
                ))
            }
        };
        let regional = |service: &str| format!("https://{service}.{region}.amazonaws.com");
        let lambda = lambda.unwrap_or_else(|| regional("lambda"));
        let codedeploy = codedeploy.unwrap_or_else(|| regional("codedeploy"));
        Aws::new(&region, credentials, &lambda, &codedeploy)
    }

    /// Calls to the Lambda and CodeDeploy endpoints given, in `region`, as `credentials`.
    pub fn new(
        region: &str,
        credentials: Credentials,
        lambda: &str,
        codedeploy: &str,
    ) -> Result<Aws, CallError> {
        Ok(Aws {
            client: http_client()?,
            credentials,
            region: region.to_owned(),
            lambda: lambda.to_owned(),
            codedeploy: codedeploy.to_owned(),
        })
    }

    /// Invokes `function` (a name or a qualified ARN: a version) with `payload`, synchronously.
    pub async fn invoke(&self, function: &str, payload: &[u8]) -> Result<Invoked, CallError> {
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.lambda.trim_end_matches('/'),
            encode_path_segment(function)
        );
        let headers = [("content-type", "application/json")];
        let (status, answer_headers, body) = self
            .call("lambda", &url, &headers, payload.to_vec())
            .await?;
        if status != 200 {
            return Err(CallError::Refused {
                service: "lambda",
                status,
                detail: error_type(&body),
            });
        }
        let function_error = answer_headers
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Invoked {
            payload: body,
            function_error,
        })
    }

    /// Tells CodeDeploy how the hook's checks went.
    pub async fn report(
        &self,
        deployment_id: &str,
        execution_id: &str,
        succeeded: bool,
    ) -> Result<(), CallError> {
        let body = serde_json::json!({
            "deploymentId": deployment_id,
            "lifecycleEventHookExecutionId": execution_id,
            "status": if succeeded { "Succeeded" } else { "Failed" },
        });
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
            ),
        ];
        let url = format!("{}/", self.codedeploy.trim_end_matches('/'));
        let (status, _, answer) = self
            .call("codedeploy", &url, &headers, body.to_string().into_bytes())
            .await?;
        if status != 200 {
            return Err(CallError::Refused {
                service: "codedeploy",
                status,
                detail: error_type(&answer),
            });
        }
        Ok(())
    }

    /// One signed POST.
    async fn call(
        &self,
        service: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, hyper::HeaderMap, Vec<u8>), CallError> {
        let setup = |e: &dyn std::fmt::Display| CallError::Setup(format!("{service}: {e}"));
        let mut request = http::Request::builder().method("POST").uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| setup(&e))?;
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| setup(&e))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| setup(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| setup(&e))?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        let unreachable = |detail: String| CallError::Unreachable { service, detail };
        // One bound for the request and its answer's body.
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(companies::telemetry::causes(&e)))?;
            let status = answer.status().as_u16();
            let answer_headers = answer.headers().clone();
            let body = answer
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes()
                .to_vec();
            Ok::<_, CallError>((status, answer_headers, body))
        };
        let (status, answer_headers, body) = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable("timed out".into()))??;
        Ok((status, answer_headers, body))
    }
}

/// HTTPS with Mozilla's roots compiled in (as the DynamoDB client), or plain HTTP to a local
/// endpoint.
fn http_client() -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, CallError> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| CallError::Setup(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// A function name or ARN as one path segment (an ARN's `:` is percent-encoded, as the SDK
/// does).
fn encode_path_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The error type an AWS JSON answer names (`__type`, or Lambda's `Type`), never its message.
fn error_type(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    value["__type"]
        .as_str()
        .or_else(|| value["Type"].as_str())
        .unwrap_or("an error")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_arn_is_one_path_segment() {
        assert_eq!(
            encode_path_segment("arn:aws:lambda:sa-east-1:123456789012:function:get-company:7"),
            "arn%3Aaws%3Alambda%3Asa-east-1%3A123456789012%3Afunction%3Aget-company%3A7"
        );
        assert_eq!(
            encode_path_segment("GetCompanyFunction"),
            "GetCompanyFunction"
        );
    }

    #[test]
    fn only_the_error_type_is_kept() {
        assert_eq!(
            error_type(br#"{"__type":"AccessDeniedException","message":"User arn:aws:sts::1:x"}"#),
            "AccessDeniedException"
        );
        assert_eq!(error_type(b"<html>"), "an error");
    }
}
