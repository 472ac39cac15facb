//! TLS as a careful client has it: verify-full by default, the weaker modes only when asked
//! and then with a warning, settings that cannot work refused before connecting, and a server
//! that declines TLS refused unless sslmode=prefer says plain text will do.

use crate::connection::Connection;
use crate::relay::{HangUp, Relay};

/// No sslmode is verify-full: the test CA named, the server is accepted without a word;
/// without it (Mozilla's roots, also as libpq's `sslrootcert=system`) refused, the message
/// naming the setting and how to trust a private CA. require and prefer connect, saying what
/// they do not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_is_the_default_and_a_weaker_mode_says_what_it_leaves_out() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let run = |query: &str| c.read(&c.url("password_reader", "127.0.0.1", query));
    let (code, _, stderr) = run(&format!("?sslrootcert={}", c.ca));
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("WARNING"), "{stderr}");
    for query in ["", "?sslrootcert=system"] {
        let (code, _, stderr) = run(query);
        assert_eq!(
            code, 1,
            "{query:?}: verified against Mozilla's roots: {stderr}"
        );
        for said in [
            "sslmode=verify-full, trusting Mozilla's roots",
            "set sslrootcert=/path/to/ca.pem",
            "Amazon RDS",
        ] {
            assert!(stderr.contains(said), "{query:?}: {said}: {stderr}");
        }
    }
    for (query, said) in [
        (
            "?sslmode=require",
            "sslmode=require: encrypted, but the server's certificate is not verified",
        ),
        (
            "?sslmode=prefer",
            "sslmode=prefer: TLS only if the server offers it",
        ),
    ] {
        let (code, _, stderr) = run(query);
        assert_eq!(code, 2, "{query}: {stderr}");
        assert!(
            stderr.contains("WARNING") && stderr.contains(said),
            "{query}: {stderr}"
        );
    }
}

/// Settings that cannot work are refused as libpq refuses them, before anything is sent:
/// verify-ca without the CA to verify against, sslrootcert=system short of verify-full,
/// channel binding without TLS, a require_auth method that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_cannot_work_are_refused_before_connecting() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let listener = HangUp::start().await;
    for (query, said) in [
        ("?sslmode=verify-ca", "sslmode=verify-ca needs sslrootcert"),
        (
            "?sslrootcert=system&sslmode=require",
            "sslrootcert=system needs sslmode=verify-full",
        ),
        (
            "?sslmode=disable&channel_binding=require",
            "channel_binding=require needs TLS",
        ),
        ("?require_auth=scram", "require_auth: unknown method"),
    ] {
        let (code, _, stderr) = c.run(&c.url_via("password_reader", listener.port, query), &[]);
        assert_eq!(code, 1, "{query}: {stderr}");
        assert!(stderr.contains(said), "{query}: {stderr}");
        assert_eq!(listener.connections().await, 0, "{query}: connected");
    }
    let (code, _, stderr) = c.run(
        &c.url_via("password_reader", listener.port, ""),
        &[("PGSSLMODE", "verify-ca")],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        listener.connections().await,
        0,
        "PGSSLMODE=verify-ca: connected"
    );
}

/// A server that declines TLS (here a relay in front of the cluster, as one that strips TLS
/// on the way would): refused by default and by every mode that needs TLS, and by
/// channel_binding=require; accepted in plain text with sslmode=prefer, with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_declining_tls_is_refused_unless_prefer_is_asked_for() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let relay = Relay::start(c.port()).await;
    for query in [
        format!("?sslrootcert={}", c.ca),
        "?sslmode=require".to_owned(),
        "?sslmode=prefer&channel_binding=require".to_owned(),
    ] {
        let (code, _, stderr) = c.read(&c.url_via("password_reader", relay.port, &query));
        assert_eq!(code, 1, "{query}: connected in plain text: {stderr}");
        assert!(
            stderr.contains("the server declined TLS"),
            "{query}: {stderr}"
        );
    }
    let (code, _, stderr) = c.read(&c.url_via("password_reader", relay.port, "?sslmode=prefer"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("WARNING")
            && stderr.contains("declined TLS (sslmode=prefer): the connection is not encrypted"),
        "{stderr}"
    );
    // The password itself never crossed: SCRAM sends a proof of it.
    assert!(!contains(&relay.sent(), c.password.as_bytes()));
    assert!(
        contains(&relay.sent(), b"password_reader"),
        "the relay saw nothing"
    );
}

/// Whether `haystack` holds `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
