//! The DynamoDB client's HTTP connector: HTTP/1.1 over hyper's pooled client, TLS by rustls
//! with ring, trusting Mozilla's root certificates compiled in (or the CA bundle one names).
//!
//! DynamoDB speaks HTTP/1.1, and the SDK's stock connector (`aws-smithy-http-client`) links
//! HTTP/2, proxy matching and its own connector layers into every function, which no DynamoDB
//! call uses (docs/decisions/0001-own-http-connector.md). This is the
//! same hyper client, built with HTTP/1.1 only, behind the SDK's `HttpClient` interface:
//! connection pooling, the connect and read timeouts of the SDK's settings, connection
//! poisoning (a connection that timed out is not reused by the retry), and errors classified
//! the way the SDK's retry policy expects (I/O and timeouts are transient, the rest is not).
//! No proxy support: a Lambda function reaches DynamoDB directly or through a VPC endpoint.
//!
//! Trust: the PEM bundle the caller names (setup reads `AWS_CA_BUNDLE` or `SSL_CERT_FILE`, as
//! boto3 and OpenSSL do), otherwise Mozilla's roots compiled in (webpki-roots), as boto3 ships
//! certifi's: nothing to find, read or parse at run time
//! (docs/decisions/0002-compiled-in-roots.md). The connector is built on the first call, not
//! when the client is.

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::{capture_connection, HttpConnector as TcpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::{Error as PemError, PemObject};
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

type BoxError = Box<dyn Error + Send + Sync>;

/// How long an idle pooled connection is kept (the SDK's stock connector's default).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Where the client sends its requests, which decides whether it needs root certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `https://` endpoints (AWS): TLS, trusting the PEM bundle at `ca_bundle` if given,
    /// otherwise the compiled-in roots.
    Tls { ca_bundle: Option<String> },
    /// An `http://` endpoint (DynamoDB Local): no TLS, no certificates read.
    Plain,
}

impl Transport {
    /// Plain for an explicit `http://` endpoint, TLS for anything else.
    pub fn for_endpoint(endpoint: Option<&str>, ca_bundle: Option<String>) -> Self {
        match endpoint {
            Some(url) if url.starts_with("http://") => Transport::Plain,
            _ => Transport::Tls { ca_bundle },
        }
    }
}

/// The SDK's `HttpClient`: hands out one connector per distinct timeout settings, built on
/// first use and cached (the SDK asks for a connector on every operation).
#[derive(Debug)]
struct Http1Client {
    transport: Transport,
    connectors: Mutex<Vec<(TimeoutKey, SharedHttpConnector)>>,
}

type TimeoutKey = (Option<Duration>, Option<Duration>);

pub fn http_client(transport: Transport) -> SharedHttpClient {
    Http1Client {
        transport,
        connectors: Mutex::new(Vec::new()),
    }
    .into_shared()
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        // A poisoned lock only means another thread panicked while pushing; the list is intact.
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(k, _)| *k == key) {
            return connector.clone();
        }
        let connector: SharedHttpConnector = match Http1Connector::new(&self.transport, key) {
            Ok(connector) => connector.into_shared(),
            Err(error) => Unavailable(Arc::new(error)).into_shared(),
        };
        connectors.push((key, connector.clone()));
        connector
    }
}

#[derive(Clone, Debug)]
struct Http1Connector {
    client: Client<HttpsConnector<TcpConnector>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl Http1Connector {
    fn new(
        transport: &Transport,
        (connect_timeout, read_timeout): TimeoutKey,
    ) -> Result<Self, std::io::Error> {
        let roots = match transport {
            Transport::Tls { ca_bundle } => trust_roots(ca_bundle.as_deref())?,
            Transport::Plain => RootCertStore::empty(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Said out loud in the handshake: HTTP/1.1, whatever else the server offers.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        // https:// through rustls; http:// only for an endpoint given as http:// (DynamoDB
        // Local): for AWS, a plain http:// URL is refused before any byte is sent.
        let mut connector = HttpsConnector::from((tcp, tls));
        if matches!(transport, Transport::Tls { .. }) {
            connector.enforce_https();
        }
        let client = Client::builder(TokioExecutor::new())
            // The pool's timer is what makes the idle timeout work.
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Ok(Http1Connector {
            client,
            read_timeout,
        })
    }
}

/// The certificates of the PEM file `bundle`, or Mozilla's roots compiled in.
fn trust_roots(bundle: Option<&str>) -> Result<RootCertStore, std::io::Error> {
    let Some(path) = bundle else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let unreadable = |e: PemError| std::io::Error::other(format!("CA bundle {path}: {e}"));
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certificates);
    if roots.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("CA bundle {path} holds no usable certificate"),
        ));
    }
    Ok(roots)
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())))
            }
        };
        // Lets the SDK poison this request's connection (after a timeout, say) so that the
        // retry does not reuse it.
        let captured = capture_connection(&mut request);
        if let Some(capture) = request.extensions().get::<CaptureSmithyConnection>() {
            capture.set_connection_retriever(move || {
                let connected = captured.connection_metadata();
                connected.as_ref()?;
                let captured = captured.clone();
                Some(
                    ConnectionMetadata::builder()
                        .proxied(false)
                        .poison_fn(move || {
                            if let Some(connection) = captured.connection_metadata().as_ref() {
                                connection.poison();
                            }
                        })
                        .build(),
                )
            });
        }
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, response).await {
                    Ok(response) => response,
                    Err(elapsed) => return Err(ConnectorError::timeout(elapsed.into())),
                },
                None => response.await,
            };
            match response {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(classify(error)),
            }
        })
    }
}

/// Sorts a failed exchange the way the SDK's retry policy reads it: timeouts and I/O failures
/// (refused or reset connections, a connection closed before the response) are transient; a
/// TLS failure (a certificate the trust store does not vouch for) is not, nor is a request hyper
/// refused to send (the caller's), nor anything else.
fn classify(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let io_kinds = || chain(&error).filter_map(|e| e.downcast_ref::<std::io::Error>());
    let hyper_error = chain(&error).find_map(|e| e.downcast_ref::<hyper::Error>());
    if chain(&error).any(|e| e.is::<rustls::Error>()) {
        return ConnectorError::other(error.into(), None);
    }
    if io_kinds().any(|io| io.kind() == std::io::ErrorKind::TimedOut)
        || hyper_error.is_some_and(hyper::Error::is_timeout)
    {
        return ConnectorError::timeout(error.into());
    }
    if hyper_error.is_some_and(hyper::Error::is_user) {
        return ConnectorError::user(error.into());
    }
    if error.is_connect()
        || io_kinds().next().is_some()
        || hyper_error.is_some_and(|e| e.is_closed() || e.is_canceled())
    {
        return ConnectorError::io(error.into());
    }
    if hyper_error.is_some_and(hyper::Error::is_incomplete_message) {
        return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
    }
    ConnectorError::other(error.into(), None)
}

/// `error` and each error under it: after an `io::Error` its payload (`io::Error::source`
/// skips the payload, where rustls puts its certificate errors), after any other its source.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|payload| payload as &(dyn Error + 'static)),
        None => e.source(),
    })
}

/// What the client hands out when the connector cannot be built (no root certificates): every
/// call fails with the reason, which the store reports as unavailable, rather than a panic.
#[derive(Clone, Debug)]
struct Unavailable(Arc<std::io::Error>);

impl HttpConnector for Unavailable {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let reason: BoxError = Box::new(std::io::Error::new(
            self.0.kind(),
            format!("HTTPS client unavailable: {}", self.0),
        ));
        HttpConnectorFuture::ready(Err(ConnectorError::other(reason, None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends one GET to `url` through a connector for `transport`.
    async fn get(transport: &Transport, url: &str) -> Result<HttpResponse, ConnectorError> {
        let timeout = Some(Duration::from_secs(2));
        let connector = Http1Connector::new(transport, (timeout, timeout)).unwrap();
        let request = hyper::Request::builder()
            .uri(url)
            .body(SdkBody::empty())
            .unwrap();
        connector
            .call(HttpRequest::try_from(request).unwrap())
            .await
    }

    /// Toward AWS (TLS), a plain `http://` URL is refused before anything is sent; only an
    /// endpoint given as `http://` (DynamoDB Local) is spoken to in the clear.
    #[tokio::test]
    async fn the_tls_transport_never_sends_in_the_clear() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let refused = get(&Transport::Tls { ca_bundle: None }, &url).await;
        assert!(refused.is_err());
        assert!(
            listener.accept().is_err(),
            "the TLS transport connected to a plain http:// URL"
        );
        let plain = Transport::for_endpoint(Some(&url), None);
        assert_eq!(plain, Transport::Plain);
        // The plain transport does connect (no server answers, so the call itself fails).
        let _ = tokio::time::timeout(Duration::from_millis(300), get(&plain, &url)).await;
        assert!(
            listener.accept().is_ok(),
            "the plain transport did not connect"
        );
        assert_eq!(
            Transport::for_endpoint(Some("https://dynamodb.sa-east-1.amazonaws.com"), None),
            Transport::Tls { ca_bundle: None }
        );
    }

    #[test]
    fn without_a_bundle_the_compiled_in_roots_hold_the_roots_aws_endpoints_chain_to() {
        let roots = trust_roots(None).unwrap();
        for name in ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3"] {
            assert!(
                roots.roots.iter().any(|anchor| anchor
                    .subject
                    .windows(name.len())
                    .any(|w| w == name.as_bytes())),
                "{name} missing"
            );
        }
        assert!(roots.len() > 100);
    }

    #[test]
    fn a_named_bundle_that_is_missing_or_holds_no_certificate_is_an_error() {
        let dir = std::env::temp_dir().join(format!("companies-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = trust_roots(empty.to_str()).unwrap_err();
        assert!(
            error.to_string().contains("no usable certificate"),
            "{error}"
        );
        let missing = dir.join("missing.pem");
        assert!(trust_roots(missing.to_str()).is_err());
        assert_eq!(
            Transport::for_endpoint(Some("http://127.0.0.1:8000"), None),
            Transport::Plain
        );
        assert_eq!(
            Transport::for_endpoint(None, None),
            Transport::Tls { ca_bundle: None }
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
