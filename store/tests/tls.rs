//! The functions' DynamoDB client (`DynamoStore::from_env`) over TLS, as on AWS: DynamoDB Local
//! behind a TLS terminator whose certificate a throwaway CA signed (made with `openssl`), that
//! CA trusted through `SSL_CERT_FILE`. The client verifies the server's certificate (a server
//! signed by another CA gets no request at all), and speaks HTTP/1.1 (ALPN), the only protocol
//! its connector links.
//!
//! One test in its own binary: it sets process-wide environment variables.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use companies_store::{CompanyReader, DynamoStore};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use uuid::Uuid;

/// A CA and a certificate for `localhost` it signed.
struct Certificates {
    ca: PathBuf,
    server: PathBuf,
    key: PathBuf,
}

/// Runs `openssl` in `dir` with `args` (split at spaces).
fn openssl(dir: &Path, args: &str) {
    let status = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is needed to make the test's certificates");
    assert!(status.success(), "openssl {args} failed");
}

fn make_certificates(dir: &Path, name: &str) -> Certificates {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    openssl(
        &dir,
        &format!("req -x509 {key} -keyout ca.key -out ca.crt -days 1 -subj /CN=test-CA-{name}"),
    );
    openssl(
        &dir,
        &format!("req {key} -keyout server.key -out server.csr -subj /CN=localhost"),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
         -days 1 -extfile ext.cnf",
    );
    Certificates {
        ca: dir.join("ca.crt"),
        server: dir.join("server.crt"),
        key: dir.join("server.key"),
    }
}

/// What a TLS terminator saw.
#[derive(Default)]
struct Seen {
    /// The protocol each accepted connection negotiated by ALPN ("" for none).
    protocols: Mutex<Vec<String>>,
    failed_handshakes: AtomicUsize,
    /// Told after each failed handshake: the server finishes its side after the client gave up.
    handshake_failed: tokio::sync::Notify,
}

/// A TLS terminator on a loopback port that forwards each connection to `upstream` (plain
/// HTTP) once its handshake succeeded; its URL and what it saw.
async fn terminator(certificates: &Certificates, upstream: &str) -> (String, Arc<Seen>) {
    let chain = vec![CertificateDer::from_pem_file(&certificates.server).unwrap()];
    let key = PrivateKeyDer::from_pem_file(&certificates.key).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    // Offers HTTP/2 first, as AWS endpoints that speak it do: the client must not take it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let seen = Arc::new(Seen::default());
    let noted = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, upstream, seen) =
                (acceptor.clone(), upstream.clone(), Arc::clone(&noted));
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(stream).await {
                    Ok(tls) => tls,
                    Err(_) => {
                        seen.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                        seen.handshake_failed.notify_one();
                        return;
                    }
                };
                let protocol = tls.get_ref().1.alpn_protocol().unwrap_or_default();
                seen.protocols
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(protocol).into_owned());
                let mut plain = TcpStream::connect(&upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (url, seen)
}

#[test]
fn the_functions_client_speaks_http1_over_verified_tls() {
    let Ok(upstream) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") else {
        assert!(
            std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "REQUIRE_DYNAMODB=1 but AWS_ENDPOINT_URL_DYNAMODB is not set"
        );
        eprintln!("AWS_ENDPOINT_URL_DYNAMODB is not set: skipping the TLS test");
        return;
    };
    let dir = std::env::temp_dir().join(format!("companies-tls-test-{}", std::process::id()));
    let trusted = make_certificates(&dir, "trusted");
    let stranger = make_certificates(&dir, "stranger");
    // Only the trusted CA: the bundle SSL_CERT_FILE names replaces the compiled-in roots
    // (AWS_CA_BUNDLE, which would come first, is not set).
    std::env::remove_var("AWS_CA_BUNDLE");
    std::env::set_var("SSL_CERT_FILE", &trusted.ca);
    std::env::set_var("TABLE_NAME", format!("tls-{}", std::process::id()));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (url, seen) = terminator(&trusted, &upstream).await;
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &url);
        let store = DynamoStore::from_env().unwrap();
        store.ensure_table().await.unwrap();
        let id = Uuid::now_v7();
        assert!(store.get(id).await.unwrap().is_none());
        assert!(store.get(id).await.unwrap().is_none());
        let protocols = seen.protocols.lock().unwrap().clone();
        assert!(!protocols.is_empty(), "no TLS connection was made");
        assert!(
            protocols.iter().all(|p| p == "http/1.1"),
            "negotiated {protocols:?}"
        );
        assert_eq!(seen.failed_handshakes.load(Ordering::SeqCst), 0);

        // A server whose certificate the trust store does not vouch for: the call fails, at
        // once, and the server never gets a byte of the request.
        let (url, seen) = terminator(&stranger, &upstream).await;
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &url);
        let store = DynamoStore::from_env().unwrap();
        assert!(store.get(id).await.is_err());
        // The client's attempts are over; wait for the server to finish the first one's side.
        seen.handshake_failed.notified().await;
        assert_eq!(
            seen.failed_handshakes.load(Ordering::SeqCst),
            1,
            "a certificate the trust store rejects is not worth a retry"
        );
        assert!(seen.protocols.lock().unwrap().is_empty());
    });
    let _ = std::fs::remove_dir_all(&dir);
}
