//! How the importer lets the server authenticate it: the password in cleartext only over
//! verified TLS, require_auth as libpq reads it, and SCRAM bound to the TLS connection
//! (channel_binding).

use crate::connection::Connection;
use crate::relay::Relay;
use crate::tls::contains;

/// A dry run at `url`: accepted (exit 2), or refused (exit 1) saying `refused`.
fn expect(c: &Connection, url: &str, refused: Option<&str>) {
    let (code, _, stderr) = c.read(url);
    match refused {
        None => assert_eq!(code, 2, "{url}: {stderr}"),
        Some(said) => {
            assert_eq!(code, 1, "{url}: accepted: {stderr}");
            assert!(stderr.contains(said), "{url}: {stderr}");
        }
    }
}

/// `cleartext_reader`'s pg_hba.conf line asks for the password in cleartext: over TLS that
/// does not verify the server (require), and in plain text (disable, or prefer to a server
/// declining TLS), the importer refuses before the password leaves it — the relay never sees
/// it — and sends it only over verified TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleartext_password_goes_only_over_verified_tls() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let relay = Relay::start(c.port()).await;
    let refusal = "the server asked for the password in cleartext over";
    for url in [
        c.url("cleartext_reader", "127.0.0.1", "?sslmode=require"),
        c.url("cleartext_reader", "127.0.0.1", "?sslmode=disable"),
        c.url_via("cleartext_reader", relay.port, "?sslmode=prefer"),
    ] {
        expect(&c, &url, Some(refusal));
    }
    assert!(
        contains(&relay.sent(), b"cleartext_reader"),
        "the relay saw nothing"
    );
    assert!(
        !contains(&relay.sent(), c.password.as_bytes()),
        "the password crossed in plain text"
    );
    let verified = format!("?sslrootcert={}", c.ca);
    expect(&c, &c.url("cleartext_reader", "127.0.0.1", &verified), None);
}

/// require_auth names the methods the server may ask for (or, negated, those it may not): a
/// server asking for another is refused, from the URL or PGREQUIREAUTH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_auth_limits_what_the_server_may_ask_for() {
    let Some(c) = Connection::new().await else {
        return;
    };
    for (role, require_auth, accepted) in [
        ("cleartext_reader", "password", true),
        ("cleartext_reader", "scram-sha-256", false),
        ("cleartext_reader", "!password", false),
        ("cleartext_reader", "md5,scram-sha-256", false),
        ("tls_reader", "scram-sha-256", true),
        ("tls_reader", "!password,!md5", true),
        ("tls_reader", "password,md5", false),
        ("tls_reader", "none", false),
    ] {
        let query = format!("?sslrootcert={}&require_auth={require_auth}", c.ca);
        let refusal = format!("which require_auth={require_auth} does not allow");
        let refused = (!accepted).then_some(refusal.as_str());
        expect(&c, &c.url(role, "127.0.0.1", &query), refused);
    }
    let url = c.url("tls_reader", "127.0.0.1", &format!("?sslrootcert={}", c.ca));
    let env = [
        ("PGPASSWORD", c.password.as_str()),
        ("PGREQUIREAUTH", "password"),
    ];
    let (code, _, stderr) = c.run(&url, &env);
    assert_eq!(code, 1, "PGREQUIREAUTH=password: accepted: {stderr}");
    assert!(
        stderr.contains("which require_auth=password does not allow"),
        "PGREQUIREAUTH=password: refused for another reason: {stderr}"
    );
}

/// channel_binding=require: SCRAM bound to the TLS connection by the hash of the server's
/// certificate (tls-server-end-point), which the server checks; over verified TLS and over
/// TLS that does not verify the server (the binding still defeats a relay holding another
/// certificate). A server asking for anything but SCRAM is refused; so is a connection
/// without TLS (see the tls module).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_binding_ties_scram_to_the_tls_connection() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let verified = format!("?sslrootcert={}&channel_binding=require", c.ca);
    for query in [
        verified.as_str(),
        "?sslmode=require&channel_binding=require",
    ] {
        for role in ["tls_reader", "password_reader"] {
            expect(&c, &c.url(role, "127.0.0.1", query), None);
        }
    }
    let cleartext = c.url("cleartext_reader", "127.0.0.1", &verified);
    expect(&c, &cleartext, Some("channel binding"));
}
