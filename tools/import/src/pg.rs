//! Connecting to the Flask service's PostgreSQL as libpq would, for the settings that matter to
//! a migration over a network: TLS (`sslmode`, `sslrootcert`), and the password from the URL,
//! `PGPASSWORD`, or the password file (`PGPASSFILE`, else `~/.pgpass`). The URL is never shown
//! with its password: [`Target`] is what messages name.
//!
//! TLS is rustls on ring, like the DynamoDB client's; trust is the `sslrootcert` bundle, or
//! Mozilla's roots compiled in. `sslmode`:
//! - `disable`: plain text only;
//! - `prefer` (libpq's default): TLS if the server offers it, not verified, else plain text;
//! - `require`: TLS, not verified (verified as `verify-ca` when a root certificate is named);
//! - `verify-ca`: TLS, the server's certificate chained to a trusted root;
//! - `verify-full` (recommended across any network): that, and issued for the host connected to.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::{Host, SslMode as WireMode};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::{Client, Config, NoTls};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            // libpq's `allow` tries plain text first; nothing here is worth that downgrade.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "unknown sslmode {other:?} (disable, prefer, require, verify-ca, verify-full)"
                ))
            }
        })
    }
}

/// The environment a connection's settings come from (`std::env` in the tool; tests give
/// their own).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| (*v).to_owned())
    }
}

/// Everything needed to connect, read from a URL and the environment.
pub struct Settings {
    config: Config,
    pub ssl_mode: SslMode,
    root_cert: Option<PathBuf>,
    pub target: Target,
}

/// What a message may say of the database: user, host, port and database name, no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Settings {
    /// Reads a `postgresql://` URL (or key=value string) and what libpq reads from the
    /// environment: `PGSSLMODE`, `PGSSLROOTCERT`, `PGUSER`, `PGPASSWORD`, `PGPASSFILE`.
    pub fn new(url: &str, env: &dyn Env) -> Result<Self, String> {
        let (rest, mut params) = split_params(url);
        let mut config = Config::from_str(&rest).map_err(|e| {
            // The parser's message can quote the string: say only what kind of thing is wrong.
            let kind = e.to_string();
            let kind = kind.split(':').next().unwrap_or("invalid");
            format!("the PostgreSQL URL is not valid ({kind})")
        })?;
        let ssl_mode = match params.remove("sslmode").or_else(|| env.var("PGSSLMODE")) {
            Some(mode) => mode.parse()?,
            None => SslMode::Prefer,
        };
        let root_cert = params
            .remove("sslrootcert")
            .or_else(|| env.var("PGSSLROOTCERT"))
            .map(PathBuf::from)
            .or_else(|| {
                // libpq's default root certificate file, when it exists.
                let home = env.var("HOME")?;
                let path = Path::new(&home).join(".postgresql/root.crt");
                path.exists().then_some(path)
            });
        if config.get_user().is_none() {
            if let Some(user) = env.var("PGUSER").or_else(|| env.var("USER")) {
                config.user(&user);
            }
        }
        let user = config.get_user().unwrap_or_default().to_owned();
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let dbname = config.get_dbname().unwrap_or(&user).to_owned();
        if config.get_password().is_none() {
            let password = env.var("PGPASSWORD").or_else(|| {
                password_file(env).and_then(|f| password_from(&f, &host, port, &dbname, &user))
            });
            if let Some(password) = password {
                config.password(password);
            }
        }
        Ok(Settings {
            config,
            ssl_mode,
            root_cert,
            target: Target(format!("{user}@{host}:{port}/{dbname}")),
        })
    }

    /// Connects, with TLS as `sslmode` says.
    pub async fn connect(mut self) -> Result<Client, String> {
        let target = self.target.clone();
        let failed = |e: tokio_postgres::Error| {
            format!(
                "cannot connect to PostgreSQL at {target}: {}",
                companies::telemetry::causes(&e)
            )
        };
        if self.ssl_mode == SslMode::Disable {
            self.config.ssl_mode(WireMode::Disable);
            let (client, connection) = self.config.connect(NoTls).await.map_err(failed)?;
            spawn(connection);
            return Ok(client);
        }
        let tls = MakeRustls::new(self.ssl_mode, self.root_cert.as_deref())?;
        self.config.ssl_mode(if self.ssl_mode == SslMode::Prefer {
            WireMode::Prefer
        } else {
            WireMode::Require
        });
        let (client, connection) = self.config.connect(tls).await.map_err(failed)?;
        spawn(connection);
        Ok(client)
    }
}

fn spawn<F>(connection: F)
where
    F: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("companies-import: PostgreSQL connection ended: {e}");
        }
    });
}

/// The URL without the query parameters tokio-postgres does not read (`sslmode` takes values
/// it does not know, `sslrootcert` it ignores), and those parameters.
fn split_params(url: &str) -> (String, HashMap<String, String>) {
    let mut params = HashMap::new();
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), params);
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((k @ ("sslmode" | "sslrootcert"), v)) => {
                params.insert(k.to_owned(), percent_decode(v));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, params)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `PGPASSFILE`, else `~/.pgpass`, if it may be used: libpq ignores a password file that
/// others can read or write (and says so).
fn password_file(env: &dyn Env) -> Option<PathBuf> {
    let path = env
        .var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "companies-import: WARNING: password file {} has group or world access; \
                 permissions should be u=rw (0600) or less: it is ignored",
                path.display()
            );
            return None;
        }
    }
    meta.is_file().then_some(path)
}

/// The password of the first line of the password file matching host, port, database and
/// user (`*` matches anything; `\:` and `\\` escape).
fn password_from(file: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .find_map(|line| {
            let fields = pgpass_fields(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// The trust roots: the `sslrootcert` bundle, or Mozilla's roots compiled in.
fn roots(bundle: Option<&Path>) -> Result<RootCertStore, String> {
    let Some(path) = bundle else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let unreadable =
        |e: rustls::pki_types::pem::Error| format!("sslrootcert {}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    roots.add_parsable_certificates(certificates);
    if roots.is_empty() {
        return Err(format!(
            "sslrootcert {} holds no usable certificate",
            path.display()
        ));
    }
    Ok(roots)
}

/// tokio-postgres's TLS connector on rustls.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    pub fn new(mode: SslMode, root_cert: Option<&Path>) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // libpq: `require` with a root certificate named verifies the chain, as `verify-ca`.
        let mode = match (mode, root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::VerifyFull => WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(root_cert)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("TLS set-up: {e}"))?,
            SslMode::VerifyCa => Arc::new(Lenient {
                chain: Some(
                    WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots(root_cert)?),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|e| format!("TLS set-up: {e}"))?,
                ),
                provider: provider.clone(),
            }),
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(Lenient {
                chain: None,
                provider: provider.clone(),
            }),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustls {
            config: Arc::new(config),
        })
    }
}

/// The modes short of `verify-full`. With `chain` (`verify-ca`): the certificate must chain to a
/// trusted root; the name it was issued for is not checked. Without (`prefer`, `require` with no
/// root certificate named): encrypted, the server not authenticated — libpq's meaning;
/// `verify-full` is the mode that defeats an impostor. Handshake signatures are checked always.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
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

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect {
            name,
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
        })
    }
}

pub struct RustlsConnect {
    name: ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
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
            let stream = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn the_target_never_holds_the_password() {
        let s = Settings::new(
            "postgresql://reader:s3cr3t@old-db.internal:6543/companies",
            &env(&[]),
        )
        .unwrap();
        assert_eq!(
            s.target.to_string(),
            "reader@old-db.internal:6543/companies"
        );
        let e = Settings::new(
            "postgresql://reader:s3cr3t@old-db.internal:port/x",
            &env(&[]),
        )
        .err()
        .unwrap();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn sslmode_and_root_come_from_the_url_or_the_environment() {
        let s = Settings::new(
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem",
            &env(&[]),
        )
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some(Path::new("/tmp/ca.pem")));
        let s = Settings::new("postgresql://u@h/db", &env(&[("PGSSLMODE", "require")])).unwrap();
        assert_eq!(s.ssl_mode, SslMode::Require);
        let s = Settings::new("postgresql://u@h/db?application_name=x", &env(&[])).unwrap();
        assert_eq!(s.ssl_mode, SslMode::Prefer);
        assert!(Settings::new("postgresql://u@h/db?sslmode=sometimes", &env(&[])).is_err());
    }

    #[test]
    fn the_password_comes_from_the_url_pgpassword_or_the_password_file() {
        let dir = std::env::temp_dir().join(format!("pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:u:nope\nh:5432:db:u:from\\:file\n*:*:*:*:fallback\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let passfile = file.to_str().unwrap().to_owned();
        let passfile: &'static str = Box::leak(passfile.into_boxed_str());
        let password = |url: &str, pairs: &[(&'static str, &'static str)]| {
            Settings::new(url, &env(pairs))
                .unwrap()
                .config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        };
        assert_eq!(
            password("postgresql://u:inurl@h/db", &[("PGPASSWORD", "env")]).as_deref(),
            Some("inurl")
        );
        assert_eq!(
            password(
                "postgresql://u@h/db",
                &[("PGPASSWORD", "env"), ("PGPASSFILE", passfile)]
            )
            .as_deref(),
            Some("env")
        );
        assert_eq!(
            password("postgresql://u@h/db", &[("PGPASSFILE", passfile)]).as_deref(),
            Some("from:file")
        );
        assert_eq!(
            password("postgresql://u@h:5433/db", &[("PGPASSFILE", passfile)]).as_deref(),
            Some("fallback")
        );
        // A password file others can read is ignored, as libpq ignores it.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            password("postgresql://u@h/db", &[("PGPASSFILE", passfile)]),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
