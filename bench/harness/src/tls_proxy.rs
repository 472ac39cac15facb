//! `lambda-bench tls-proxy`: a TLS terminator in front of DynamoDB Local, for the benchmark's TLS
//! mode (`bench/with-tls.sh` makes its certificate, signed by a throwaway CA, with `openssl`).
//!
//! ```text
//! lambda-bench tls-proxy --upstream http://127.0.0.1:8000 --cert server.crt --key server.key
//! ```
//!
//! Listens on a free loopback port, prints `https://localhost:PORT` on its first line of output,
//! and forwards every connection, once its handshake succeeded, to the upstream (plain HTTP).
//! It offers HTTP/2 and HTTP/1.1 by ALPN, as AWS endpoints do. Written on the same rustls and
//! tokio as the clients' side, so that what a first call pays is the client's handshake and
//! trust store, not the terminator's own work. Its sockets set `TCP_NODELAY`: Nagle's algorithm
//! would hold small writes for delayed acknowledgements and add that wait to every first call.

use std::io::Write;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Serves until the process is killed; returns only when it cannot start.
pub async fn run(args: &[String]) -> Result<String, String> {
    let (mut upstream, mut cert, mut key) = (None, None, None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--upstream" => upstream = Some(value.clone()),
            "--cert" => cert = Some(value.clone()),
            "--key" => key = Some(value.clone()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let usage = "usage: lambda-bench tls-proxy --upstream URL --cert PEM --key PEM";
    let (Some(upstream), Some(cert), Some(key)) = (upstream, cert, key) else {
        return Err(usage.to_owned());
    };
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let chain = CertificateDer::pem_file_iter(&cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("{key}: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let mut out = std::io::stdout().lock();
    writeln!(out, "https://localhost:{port}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    drop(out);
    loop {
        let (client, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
        tokio::spawn(async move {
            // Small writes go out at once on both legs: with Nagle's algorithm a request's last
            // segment waits for a delayed acknowledgement, which no real endpoint adds.
            let _ = client.set_nodelay(true);
            let Ok(mut tls) = acceptor.accept(client).await else {
                return;
            };
            let Ok(mut plain) = TcpStream::connect(&upstream).await else {
                return;
            };
            let _ = plain.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
    }
}
