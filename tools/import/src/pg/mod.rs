//! Connecting to the Flask service's PostgreSQL as a careful libpq client would, for the
//! settings that matter to a migration over a network: TLS (`sslmode`, `sslrootcert`), the
//! password from `PGPASSWORD` or the password file (`PGPASSFILE`, else `~/.pgpass`), and what
//! the server may ask of the importer to authenticate it (`require_auth`, `channel_binding`).
//! The URL is never shown with its password: [`RedactedTarget`](settings::RedactedTarget) is
//! what messages name.
//!
//! TLS is rustls on ring, like the DynamoDB client's; trust is the `sslrootcert` bundle, or
//! Mozilla's roots compiled in (decision 0002; `sslrootcert=system` names them). `sslmode`:
//! - `verify-full` (the default): TLS, the server's certificate chained to a trusted root and
//!   issued for the host connected to;
//! - `verify-ca`: TLS, the certificate chained to the `sslrootcert` bundle (required), the
//!   name not checked;
//! - `require`: TLS, not verified (verified as `verify-ca` when a root certificate is named);
//! - `prefer`: TLS if the server offers it, not verified, else plain text;
//! - `disable`: plain text only.
//!
//! The last three are used only when asked for, with a warning saying what is not verified.
//! The password is sent in cleartext or as an MD5 hash only over verified TLS (`verify-ca`,
//! `verify-full`) or a Unix socket; SCRAM (which never sends it) anywhere, bound to the TLS
//! connection when there is one (`channel_binding`, `prefer` by default).
//!
//! - [`settings`]: the settings read from the URL and the environment, as libpq reads them;
//! - [`passfile`]: the password file;
//! - [`tls`]: the TLS connector on rustls, verifying as `sslmode` says;
//! - [`binding`]: the channel binding of the server's certificate;
//! - [`auth`]: `require_auth`, and the verdict on the server's authentication request;
//! - [`guard`]: the stream that reads that request before tokio-postgres does;
//! - this module: the connection.

mod auth;
mod binding;
mod guard;
mod passfile;
mod settings;
mod tls;

pub use settings::{holds_password, ConnectionSettings, ProcessEnv};

use std::net::SocketAddr;

use anyhow::{anyhow, Context as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpSocket;
use tokio_postgres::config::{ChannelBinding, Host, SslMode as WireMode};
use tokio_postgres::tls::TlsConnect;
use tokio_postgres::{Client, Config, NoTls};

use auth::AuthPolicy;
use guard::{Declined, Guarded};
use settings::SslMode;
use tls::MakeRustls;

impl ConnectionSettings {
    /// Connects, with TLS as `sslmode` says, to the first host that answers. A failure names
    /// the [`RedactedTarget`](settings::RedactedTarget), never the URL.
    pub async fn connect(mut self) -> anyhow::Result<Client> {
        if let Some(warning) = self.weakness() {
            eprintln!("companies-import: WARNING: {warning}; sslmode=verify-full is the default");
        }
        let tls = match self.ssl_mode {
            SslMode::Disable => None,
            mode => Some(MakeRustls::new(mode, self.root_cert.as_deref())?),
        };
        self.config.ssl_mode(match self.ssl_mode {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            _ => WireMode::Require,
        });
        let ports = self.config.get_ports().to_vec();
        let mut failure = anyhow!("no host to connect to");
        for (i, host) in self.config.get_hosts().iter().enumerate() {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match self.connect_to(i, host, port, tls.as_ref()).await {
                Ok(client) => return Ok(client),
                Err(e) => failure = e,
            }
        }
        Err(failure).with_context(|| format!("cannot connect to PostgreSQL at {}", self.target))
    }

    /// What `sslmode` leaves unverified, when it is short of `verify-ca`.
    fn weakness(&self) -> Option<String> {
        let mode = self.ssl_mode.name();
        Some(match self.ssl_mode {
            SslMode::VerifyFull | SslMode::VerifyCa => return None,
            SslMode::Require if self.root_cert.is_some() => format!(
                "sslmode={mode} with sslrootcert verifies the certificate's chain, not the name \
                 it was issued for"
            ),
            SslMode::Require => format!(
                "sslmode={mode}: encrypted, but the server's certificate is not verified: \
                 anyone on the network path can pose as the server"
            ),
            SslMode::Prefer => format!(
                "sslmode={mode}: TLS only if the server offers it, and the server's certificate \
                 is not verified: anyone on the network path can pose as the server or strip \
                 TLS"
            ),
            SslMode::Disable => format!(
                "sslmode={mode}: not encrypted, and the server is not verified: anyone on the \
                 network path can read the data and pose as the server"
            ),
        })
    }

    /// The policy of a stream: `require_auth`, and whether a password may go over it.
    fn policy(&self, password_allowed: bool, transport: String) -> AuthPolicy {
        AuthPolicy {
            require_auth: self.require_auth.clone(),
            password_allowed,
            transport,
        }
    }

    /// Connects to one host: over a Unix socket (no TLS, as libpq has it: no network carries
    /// it), or over TCP, asking for TLS unless `sslmode=disable`.
    async fn connect_to(
        &self,
        index: usize,
        host: &Host,
        port: u16,
        tls: Option<&MakeRustls>,
    ) -> anyhow::Result<Client> {
        let name = match host {
            Host::Tcp(name) => name,
            #[cfg(unix)]
            Host::Unix(dir) => {
                let socket = dir.join(format!(".s.PGSQL.{port}"));
                let stream = tokio::net::UnixStream::connect(&socket)
                    .await
                    .with_context(|| format!("cannot connect to {}", socket.display()))?;
                let policy = self.policy(true, "a Unix socket".into());
                let mut config = self.config.clone();
                config.ssl_mode(WireMode::Disable);
                return handshake(&config, Guarded::authenticating(stream, policy), NoTls).await;
            }
        };
        let stream = self.tcp(index, name, port).await?;
        let plain = self.policy(false, "plain text".into());
        let Some(tls) = tls else {
            return handshake(&self.config, Guarded::authenticating(stream, plain), NoTls).await;
        };
        let transport = if tls.verifies() {
            "TLS".to_owned()
        } else {
            format!(
                "TLS that does not verify the server (sslmode={})",
                self.ssl_mode.name()
            )
        };
        let connector = tls.connector(name, self.policy(tls.verifies(), transport))?;
        let declined = self.if_tls_declined();
        handshake(
            &self.config,
            Guarded::asking_for_tls(stream, declined, plain),
            connector,
        )
        .await
    }

    /// What a server declining TLS means: the end of the connection, unless
    /// `sslmode=prefer` (and no channel binding required), which goes on in plain text with a
    /// warning.
    fn if_tls_declined(&self) -> Declined {
        let mode = self.ssl_mode.name();
        if self.config.get_channel_binding() == ChannelBinding::Require {
            Declined::Refuse(format!(
                "the server declined TLS, which channel_binding=require needs (sslmode={mode})"
            ))
        } else if self.ssl_mode == SslMode::Prefer {
            Declined::Warn(format!(
                "the server at {} declined TLS (sslmode={mode}): the connection is not \
                 encrypted",
                self.target
            ))
        } else {
            Declined::Refuse(format!(
                "the server declined TLS, which sslmode={mode} requires: is it the server \
                 meant (a server of this migration should offer TLS)?"
            ))
        }
    }

    /// A TCP connection to host number `index`, `name`:`port` (or its `hostaddr`, paired by
    /// position as libpq pairs them), the first of its addresses that answers within
    /// `connect_timeout`, with keepalives on as tokio-postgres sets them.
    async fn tcp(
        &self,
        index: usize,
        name: &str,
        port: u16,
    ) -> anyhow::Result<tokio::net::TcpStream> {
        let addresses: Vec<SocketAddr> = match self.config.get_hostaddrs().get(index) {
            Some(ip) => vec![SocketAddr::new(*ip, port)],
            None => tokio::net::lookup_host((name, port))
                .await
                .with_context(|| format!("cannot resolve {name}"))?
                .collect(),
        };
        let mut failure = anyhow!("{name} has no address");
        for address in addresses {
            let socket = if address.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }?;
            socket.set_keepalive(self.config.get_keepalives())?;
            socket.set_nodelay(true)?;
            let connecting = socket.connect(address);
            let connected = match self.config.get_connect_timeout() {
                Some(timeout) => tokio::time::timeout(*timeout, connecting)
                    .await
                    .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
                None => connecting.await,
            };
            match connected {
                Ok(stream) => return Ok(stream),
                Err(e) => failure = anyhow!(e).context(format!("cannot connect to {address}")),
            }
        }
        Err(failure)
    }
}

/// The PostgreSQL handshake over `stream` (TLS through `tls` as `config` says, then the
/// authentication), and the connection's I/O in its own task (tokio-postgres's design),
/// reporting how it ended if not cleanly.
async fn handshake<S, T>(config: &Config, stream: S, tls: T) -> anyhow::Result<Client>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsConnect<S>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect_raw(stream, tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("companies-import: PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}
