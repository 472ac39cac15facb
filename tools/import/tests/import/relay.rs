//! A server that declines TLS: a relay in front of the cluster that answers the client's TLS
//! request with `N` and carries the rest in plain text, keeping what the client sent (what a
//! server without TLS, or whoever strips it on the way, reads). And two listeners that are no
//! server: one that never answers, to hold the importer while a test looks at it, and one
//! that hangs up at once, counting who connected.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The first message of a client asking for TLS.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

pub struct Relay {
    pub port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Relay {
    /// A relay to the cluster's port `upstream` on 127.0.0.1.
    pub async fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&sent);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, Arc::clone(&kept)));
            }
        });
        Relay { port, sent }
    }

    /// Everything the clients sent, in plain text.
    pub fn sent(&self) -> Vec<u8> {
        self.sent.lock().unwrap().clone()
    }
}

async fn relay(mut client: TcpStream, upstream: u16, sent: Arc<Mutex<Vec<u8>>>) {
    let mut first = [0u8; 8];
    if client.read_exact(&mut first).await.is_err() {
        return;
    }
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    if first == SSL_REQUEST {
        if client.write_all(b"N").await.is_err() {
            return;
        }
    } else {
        sent.lock().unwrap().extend_from_slice(&first);
        if server.write_all(&first).await.is_err() {
            return;
        }
    }
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let mut chunk = [0u8; 4096];
    loop {
        match from_client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                sent.lock().unwrap().extend_from_slice(&chunk[..n]);
                if to_server.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A port that accepts connections and never says a word: a client connecting to it waits.
pub struct Silent {
    pub port: u16,
    listener: TcpListener,
}

impl Silent {
    pub async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        Silent { port, listener }
    }

    /// The next connection, once a client makes it (within 60 s), held open until dropped.
    pub async fn accepted(&self) -> TcpStream {
        let accepting = self.listener.accept();
        let (stream, _) = tokio::time::timeout(std::time::Duration::from_secs(60), accepting)
            .await
            .expect("nothing connected within 60 s")
            .unwrap();
        stream
    }
}

/// A port that closes every connection at once, counting them: a client that connects there
/// fails at once rather than waiting.
pub struct HangUp {
    pub port: u16,
    connections: Arc<Mutex<u32>>,
}

impl HangUp {
    pub async fn start() -> HangUp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *counted.lock().unwrap() += 1;
                drop(stream);
            }
        });
        HangUp { port, connections }
    }

    /// How many connections were made so far (given a moment to be accepted).
    pub async fn connections(&self) -> u32 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        *self.connections.lock().unwrap()
    }
}
