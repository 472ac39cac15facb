//! TLS to PostgreSQL for tokio-postgres, on rustls: the client configuration each `sslmode`
//! needs (its trust roots and certificate verifier), and the connector and stream types
//! tokio-postgres drives (the stream guarded, [`Guarded`], and carrying the channel binding of
//! the server's certificate, [`tls_server_end_point`]).

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::TlsConnect;

use super::auth::AuthPolicy;
use super::binding::tls_server_end_point;
use super::guard::Guarded;
use super::settings::SslMode;

/// The trust roots: the `sslrootcert` bundle, or Mozilla's roots compiled in.
fn trust_roots(bundle: Option<&Path>) -> anyhow::Result<RootCertStore> {
    let Some(path) = bundle else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let unreadable = || format!("sslrootcert {}", path.display());
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .with_context(unreadable)?;
    roots.add_parsable_certificates(certificates);
    if roots.is_empty() {
        bail!("sslrootcert {} holds no usable certificate", path.display());
    }
    Ok(roots)
}

/// The verifier of a certificate chain to the trust roots ([`trust_roots`]), and of the host
/// name it was issued for.
fn webpki_verifier(
    root_cert: Option<&Path>,
    provider: &Arc<CryptoProvider>,
) -> anyhow::Result<Arc<WebPkiServerVerifier>> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(trust_roots(root_cert)?), provider.clone())
        .build()
        .context("TLS set-up")
}

/// What a TLS connection of one `sslmode` needs: the client configuration (trust roots and
/// verifier), whether it verifies the server's certificate, and what to say when it does not
/// accept one.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
    /// The server's certificate is verified (`verify-ca`, `verify-full`): a password may be
    /// sent over the connection.
    verifies: bool,
    /// The setting and the trust roots, for messages: "sslmode=verify-full, trusting …".
    described: String,
}

impl MakeRustls {
    /// The connector for `mode`, trusting the bundle `root_cert` (Mozilla's roots without).
    pub fn new(mode: SslMode, root_cert: Option<&Path>) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // libpq: `require` with a root certificate named verifies the chain, as `verify-ca`.
        let mode = match (mode, root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::VerifyFull => webpki_verifier(root_cert, &provider)?,
            SslMode::VerifyCa => Arc::new(HostNameIgnoringVerifier {
                chain_verifier: Some(webpki_verifier(root_cert, &provider)?),
                provider: provider.clone(),
            }),
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                Arc::new(HostNameIgnoringVerifier {
                    chain_verifier: None,
                    provider: provider.clone(),
                })
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS set-up")?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let trust = match root_cert {
            Some(path) => format!("sslrootcert {}", path.display()),
            None => "Mozilla's roots compiled in".to_owned(),
        };
        Ok(MakeRustls {
            config: Arc::new(config),
            verifies: matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull),
            described: format!("sslmode={}, trusting {trust}", mode.name()),
        })
    }

    pub fn verifies(&self) -> bool {
        self.verifies
    }

    /// The connector to `host`, whose stream judges the server's authentication request by
    /// `policy`.
    pub fn connector(&self, host: &str, policy: AuthPolicy) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect {
            name,
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            policy,
            described: self.described.clone(),
        })
    }
}

/// A handshake error, with what to do when it is the server's certificate that was not
/// accepted: the setting and trust roots it was checked against, and how to trust a private
/// CA.
fn explained(error: io::Error, described: &str) -> io::Error {
    let certificate = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .and_then(|e| match e {
            rustls::Error::InvalidCertificate(c) => Some(c),
            _ => None,
        });
    let Some(certificate) = certificate else {
        return error;
    };
    let what_to_do = match certificate {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "Connect by a name the certificate was issued for"
        }
        _ => {
            "If a private CA issued it, trust that CA: set sslrootcert=/path/to/ca.pem (or \
             PGSSLROOTCERT; for Amazon RDS, its region's bundle from \
             https://truststore.pki.rds.amazonaws.com)"
        }
    };
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the server's certificate was not accepted ({described}): {certificate:?}. \
             {what_to_do}"
        ),
    )
}

/// The verifier of the modes short of `verify-full`: it never checks the name a certificate
/// was issued for. With `chain_verifier` (`verify-ca`): the certificate must chain to a trusted
/// root. Without (`prefer`, `require` with no root certificate named): encrypted, the server
/// not authenticated — libpq's meaning; `verify-full` is the mode that defeats an impostor.
/// Handshake signatures are checked always.
#[derive(Debug)]
struct HostNameIgnoringVerifier {
    chain_verifier: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for HostNameIgnoringVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain_verifier) = &self.chain_verifier else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain_verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS handshake with one server.
pub struct RustlsConnect {
    name: ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
    policy: AuthPolicy,
    described: String,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let stream = self
                .connector
                .connect(self.name, stream)
                .await
                .map_err(|e| explained(e, &self.described))?;
            let (_, connection) = stream.get_ref();
            let binding = connection
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|certificate| tls_server_end_point(certificate));
            Ok(Guarded::authenticating(Box::new(stream), self.policy).binding(binding))
        })
    }
}

/// The TLS stream tokio-postgres reads and writes: guarded, and reporting the channel binding
/// of the server's certificate ([`Guarded::binding`]).
pub type RustlsStream<S> = Guarded<Box<tokio_rustls::client::TlsStream<S>>>;
