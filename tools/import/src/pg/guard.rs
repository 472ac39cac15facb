//! The stream tokio-postgres is given, with a guard on what the server sends first: the
//! server's authentication request is judged ([`AuthPolicy::judge`]) before the driver, which
//! would answer it with the password, reads it.
//!
//! Two guards per connection at most: one on the socket, which reads the server's answer to
//! the TLS request (`S`: TLS follows, judged by the second guard, inside it; anything else:
//! the server declined, refused or warned about as `sslmode` says, and the plain stream is
//! judged here), and one inside the TLS stream, which also reports to tokio-postgres the
//! channel binding of the server's certificate.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsStream};

use super::auth::AuthPolicy;

/// What a server declining TLS means.
#[derive(Debug, Clone)]
pub enum Declined {
    /// The connection must not go on in plain text: the message saying why.
    Refuse(String),
    /// It may (`sslmode=prefer`): the warning to print.
    Warn(String),
}

#[derive(Debug)]
enum Phase {
    /// Reading the server's one-byte answer to the TLS request.
    TlsAnswer(Declined),
    /// Reading the server's first message, held back until judged.
    FirstMessage,
    /// Judged: handing on the bytes held back.
    Releasing,
    /// Everything passes.
    Passing,
}

/// A stream whose server's first message is judged before it is read.
pub struct Guarded<S> {
    inner: S,
    phase: Phase,
    policy: AuthPolicy,
    held: Vec<u8>,
    /// The `tls-server-end-point` binding of the TLS stream's server certificate.
    channel_binding: Option<Vec<u8>>,
}

impl<S> Guarded<S> {
    /// A stream on which the authentication starts at once (a TLS stream, or a socket over
    /// which TLS is not asked for).
    pub fn authenticating(inner: S, policy: AuthPolicy) -> Self {
        Guarded {
            inner,
            phase: Phase::FirstMessage,
            policy,
            held: Vec::new(),
            channel_binding: None,
        }
    }

    /// A socket over which TLS is asked for first: `S` hands the stream to the TLS layer
    /// (and its own guard); any other answer is handled as `declined` says, and the plain
    /// stream is judged by `policy`.
    pub fn asking_for_tls(inner: S, declined: Declined, policy: AuthPolicy) -> Self {
        Guarded {
            inner,
            phase: Phase::TlsAnswer(declined),
            policy,
            held: Vec::new(),
            channel_binding: None,
        }
    }

    /// The stream, reporting `channel_binding` (a TLS stream's) to tokio-postgres.
    pub fn binding(self, channel_binding: Option<Vec<u8>>) -> Self {
        Guarded {
            channel_binding,
            ..self
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &this.phase {
                Phase::Passing => return Pin::new(&mut this.inner).poll_read(cx, buf),
                Phase::Releasing => {
                    let n = this.held.len().min(buf.remaining());
                    buf.put_slice(&this.held[..n]);
                    this.held.drain(..n);
                    if this.held.is_empty() {
                        this.phase = Phase::Passing;
                    }
                    return Poll::Ready(Ok(()));
                }
                Phase::TlsAnswer(declined) => {
                    let mut answer = [0u8; 1];
                    let mut answer_buf = ReadBuf::new(&mut answer);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut answer_buf))?;
                    if answer_buf.filled().is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    this.phase = match (answer[0], declined) {
                        (b'S', _) => Phase::Passing,
                        (_, Declined::Refuse(why)) => {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::PermissionDenied,
                                why.clone(),
                            )))
                        }
                        (_, Declined::Warn(warning)) => {
                            eprintln!("companies-import: WARNING: {warning}");
                            Phase::FirstMessage
                        }
                    };
                    buf.put_slice(&answer);
                    return Poll::Ready(Ok(()));
                }
                Phase::FirstMessage => {
                    if let Some(verdict) = this.policy.judge(&this.held) {
                        verdict?;
                        this.phase = Phase::Releasing;
                        continue;
                    }
                    let mut chunk = [0u8; 512];
                    let mut chunk_buf = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk_buf))?;
                    if chunk_buf.filled().is_empty() {
                        // The server hung up: hand on what came, then the end.
                        this.phase = Phase::Releasing;
                        continue;
                    }
                    this.held.extend_from_slice(chunk_buf.filled());
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Guarded<S> {
    fn channel_binding(&self) -> ChannelBinding {
        match &self.channel_binding {
            Some(hash) => ChannelBinding::tls_server_end_point(hash.clone()),
            None => ChannelBinding::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::pg::auth::RequireAuth;

    fn plain_text() -> AuthPolicy {
        AuthPolicy {
            require_auth: RequireAuth::default(),
            password_allowed: false,
            transport: "plain text".into(),
        }
    }

    /// The server's bytes, a few at a time, through a guard: what the driver reads, or the
    /// guard's refusal.
    async fn read_through(
        server: &[u8],
        guard: impl FnOnce(tokio::io::DuplexStream) -> Guarded<tokio::io::DuplexStream>,
    ) -> io::Result<Vec<u8>> {
        let (client, mut server_end) = tokio::io::duplex(3);
        let bytes = server.to_vec();
        tokio::spawn(async move {
            let _ = server_end.write_all(&bytes).await;
        });
        let mut guarded = guard(client);
        let mut out = Vec::new();
        guarded.read_to_end(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn a_cleartext_request_never_reaches_the_driver_over_plain_text() {
        let cleartext = b"R\0\0\0\x08\0\0\0\x03";
        let refused = read_through(cleartext, |s| Guarded::authenticating(s, plain_text())).await;
        assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        // SCRAM passes whole, byte for byte, and what follows it.
        let scram = b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0Z";
        let read = read_through(scram, |s| Guarded::authenticating(s, plain_text())).await;
        assert_eq!(read.unwrap(), scram);
    }

    #[tokio::test]
    async fn a_server_declining_tls_is_refused_or_judged_in_plain_text() {
        let refuse = || Declined::Refuse("no TLS".into());
        let declined =
            read_through(b"N", |s| Guarded::asking_for_tls(s, refuse(), plain_text())).await;
        assert_eq!(declined.unwrap_err().to_string(), "no TLS");
        // Accepted: what follows is TLS, judged inside it, not here.
        let tls = b"S\x16\x03\x03R\0\0\0\x08\0\0\0\x03";
        let read = read_through(tls, |s| Guarded::asking_for_tls(s, refuse(), plain_text())).await;
        assert_eq!(read.unwrap(), tls);
        let warn = Declined::Warn("plain text".into());
        let cleartext = b"NR\0\0\0\x08\0\0\0\x03";
        let refused = read_through(cleartext, |s| {
            Guarded::asking_for_tls(s, warn, plain_text())
        })
        .await;
        assert!(refused.is_err());
    }
}
