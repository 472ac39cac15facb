//! The local DynamoDB server of the suites (DynamoDB Local, started by scripts/dynamodb-local.sh)
//! is closed at its edges: a web page from elsewhere cannot read its answers (CORS is an exact
//! allow list of local origins, not its help's `*`), and it sends no telemetry. Run against
//! `AWS_ENDPOINT_URL_DYNAMODB`; skipped when that is unset, a failure with `REQUIRE_DYNAMODB=1`
//! (what `make test` sets), as for the DynamoDB runs of the contract.
//!
//! Plain HTTP/1.1 over a std `TcpStream`: two requests need no client library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The origins scripts/dynamodb-local.sh allows (`-cors`).
const ALLOWED: [&str; 2] = ["http://localhost", "http://127.0.0.1"];

/// Origins that must not read its answers: a page from anywhere else, a page on another local
/// port (the list is exact), a file:// page or sandboxed frame (`Origin: null`).
const REFUSED: [&str; 3] = ["https://evil.example", "http://localhost:8080", "null"];

/// `host:port` of the server, or `None` (skip) when no endpoint is configured.
fn server(test: &str) -> Option<String> {
    let Some(endpoint) = std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB") else {
        assert!(
            !required(),
            "REQUIRE_DYNAMODB=1 but AWS_ENDPOINT_URL_DYNAMODB is not set"
        );
        eprintln!("AWS_ENDPOINT_URL_DYNAMODB is not set: skipping {test}");
        return None;
    };
    let endpoint = endpoint.to_string_lossy().into_owned();
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("expected an http:// endpoint, not {endpoint}"));
    Some(authority.trim_end_matches('/').to_owned())
}

fn required() -> bool {
    std::env::var("REQUIRE_DYNAMODB").as_deref() == Ok("1")
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn request(server: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut stream = TcpStream::connect(server).unwrap_or_else(|e| panic!("{server}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} / HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer { status, headers }
}

/// The CORS preflight a browser sends before an SDK's DynamoDB call from `origin`.
fn preflight(server: &str, origin: &str) -> Answer {
    request(
        server,
        "OPTIONS",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization,content-type,x-amz-date,x-amz-target",
            ),
        ],
        "",
    )
}

/// A ListTables call from a page at `origin` (DynamoDB Local checks no signature).
fn list_tables(server: &str, origin: &str) -> Answer {
    request(
        server,
        "POST",
        &[
            ("Origin", origin),
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ("X-Amz-Date", "20260101T000000Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-target, Signature=00",
            ),
        ],
        "{}",
    )
}

#[test]
fn a_page_from_elsewhere_cannot_read_its_answers() {
    let Some(server) = server("a_page_from_elsewhere_cannot_read_its_answers") else {
        return;
    };
    for origin in REFUSED {
        let call = list_tables(&server, origin);
        // The call itself is answered (a browser would just not show the page the answer).
        assert_eq!(call.status, 200, "ListTables from {origin}");
        for (what, answer) in [
            ("preflight", preflight(&server, origin)),
            ("ListTables", call),
        ] {
            let allowed = answer.header("Access-Control-Allow-Origin");
            assert!(
                !allowed.iter().any(|a| *a == "*" || *a == origin),
                "{what} from {origin}: Access-Control-Allow-Origin {allowed:?}"
            );
        }
    }
}

/// CORS is the script's allow list, not the server's default: without `-cors` no origin is
/// allowed by this DynamoDB Local (and any by those that honour their documented `*`).
#[test]
fn only_the_listed_local_origins_may() {
    let Some(server) = server("only_the_listed_local_origins_may") else {
        return;
    };
    for origin in ALLOWED {
        for (what, answer) in [
            ("preflight", preflight(&server, origin)),
            ("ListTables", list_tables(&server, origin)),
        ] {
            assert_eq!(
                answer.header("Access-Control-Allow-Origin"),
                [origin],
                "{what} from {origin}: the server does not run with the script's -cors list"
            );
        }
    }
}

/// Telemetry off: the process answering on the endpoint's port runs with `-disableTelemetry`,
/// and has written no telemetry metadata file (an installation id, dynamodb-local-metadata.json,
/// which DynamoDB Local writes at start-up into its working directory unless telemetry is off;
/// the script removes an old one before it starts the server).
#[cfg(target_os = "linux")]
#[test]
fn it_sends_no_telemetry() {
    let Some(server) = server("it_sends_no_telemetry") else {
        return;
    };
    let port: u16 = server
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {server}"));
    let process = listener(port).filter(|pid| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains("DynamoDBLocal.jar")
    });
    let Some(pid) = process else {
        // Not a DynamoDB Local process of this machine (a container, another host, another
        // server): nothing to inspect.
        assert!(
            !required(),
            "REQUIRE_DYNAMODB=1 but no DynamoDB Local process of this machine listens on port {port}"
        );
        eprintln!("no local DynamoDB Local process on port {port}: skipping it_sends_no_telemetry");
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(
        args.iter().any(|a| a == "-disableTelemetry"),
        "DynamoDB Local (pid {pid}) runs without -disableTelemetry: {args:?}"
    );
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    let metadata = cwd.join("dynamodb-local-metadata.json");
    assert!(
        !metadata.exists(),
        "DynamoDB Local wrote its telemetry metadata: {}",
        metadata.display()
    );
}

/// The process listening on TCP `port` (IPv4 or IPv6) in this network namespace: the socket's
/// inode from /proc/net/tcp{,6}, then the process holding it among /proc/*/fd.
#[cfg(target_os = "linux")]
fn listener(port: u16) -> Option<u32> {
    const LISTEN: &str = "0A";
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    // sl local_address rem_address st ... inode
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit_once(':')?.1;
                    if u16::from_str_radix(local_port, 16).ok()? != port
                        || *fields.get(3)? != LISTEN
                    {
                        return None;
                    }
                    fields.get(9).map(|inode| inode.to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let sockets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if sockets.iter().any(|s| target.as_os_str() == s.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}
