//! Each DynamoDB call of a sampled request reaches the X-Ray daemon as one subsegment of the
//! function's segment, including what AWS does to a call (a retried throttle, a transaction
//! cancelled for a conflict and written again, a denied read), and carries no data of the
//! company: a UDP socket here plays the daemon. The store sends a call's document before the
//! call returns, so what the socket holds when the call is back is all it will get.

use std::cell::RefCell;
use std::net::SocketAddr;

use companies::telemetry::{serving, TraceHeader};
use companies::{Cnpj, Company};
use companies_store::dynamo::xray::{DAEMON_HEADER, MAX_DOCUMENT};
use companies_store::testing::sample_company;
use companies_store::{CompanyCreator, CompanyReader, StoreError};
use serde_json::{json, Value};

use super::proxied_store;
use crate::common::fault_proxy::Kind;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";
const CNPJ: &str = "60746948000112";

fn trace(sampled: bool) -> Option<TraceHeader> {
    TraceHeader::parse(&format!(
        "Root={ROOT};Parent={PARENT};Sampled={}",
        u8::from(sampled)
    ))
}

/// The daemon's side: a UDP socket on a free loopback port, and every datagram it got.
struct Daemon(std::net::UdpSocket, RefCell<Vec<String>>);

impl Daemon {
    fn start() -> Daemon {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Daemon(socket, RefCell::default())
    }

    fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap()
    }

    /// Every datagram received since the test began.
    fn all(&self) -> Vec<String> {
        self.1.borrow().clone()
    }

    /// Every datagram received so far, raw: each must be the daemon's header line and one
    /// document.
    fn received(&self) -> Vec<String> {
        let mut buf = vec![0u8; 2 * MAX_DOCUMENT];
        let mut out = Vec::new();
        while let Ok(n) = self.0.recv(&mut buf) {
            assert!(n <= MAX_DOCUMENT, "a datagram of {n} bytes");
            out.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        self.1.borrow_mut().extend(out.iter().cloned());
        out
    }

    /// The documents received so far, each checked to be a well-formed subsegment of the
    /// sampled invocation's function segment.
    fn subsegments(&self) -> Vec<Value> {
        self.received()
            .iter()
            .map(|raw| {
                let doc = raw
                    .strip_prefix(DAEMON_HEADER)
                    .unwrap_or_else(|| panic!("no daemon header: {raw}"));
                let doc: Value = serde_json::from_str(doc).unwrap();
                assert_eq!(doc["type"], "subsegment");
                assert_eq!(doc["name"], "DynamoDB");
                assert_eq!(doc["namespace"], "aws");
                assert_eq!(doc["trace_id"], ROOT);
                assert_eq!(doc["parent_id"], PARENT);
                let id = doc["id"].as_str().unwrap();
                assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()));
                let (start, end) = (doc["start_time"].as_f64(), doc["end_time"].as_f64());
                assert!(start.unwrap() > 1.6e9 && start <= end, "{doc}");
                doc
            })
            .collect()
    }
}

/// `work` as the work of a sampled request.
async fn sampled<F: std::future::Future>(work: F) -> F::Output {
    serving("create-company", trace(true), work).await
}

fn with_cnpj(name: &str) -> Company {
    let mut c = sample_company(name);
    c.tax_id = Some(Cnpj::parse(CNPJ).unwrap());
    c
}

/// What a subsegment must never carry of `company`: its name, CNPJ, account numbers (those
/// long enough not to turn up among a timestamp's digits), or an item at all.
fn assert_no_data(raw: &[String], company: &Company) {
    let mut secrets = vec![company.company_name.clone(), CNPJ.to_owned()];
    secrets.extend(
        company
            .bank_accounts
            .iter()
            .map(|a| a.account_number.as_str().to_owned())
            .filter(|n| n.len() >= 6),
    );
    assert!(secrets.len() > 2, "no account number to look for");
    for doc in raw {
        for secret in &secrets {
            assert!(!doc.contains(secret.as_str()), "{secret:?} sent in {doc}");
        }
        for field in ["\"Item\"", "\"S\":", "COMPANY#", "TAXID#"] {
            assert!(!doc.contains(field), "{field} sent in {doc}");
        }
    }
}

#[tokio::test]
async fn a_sampled_get_is_one_subsegment_and_unsampled_calls_send_nothing() {
    let Some((_proxy, _, direct)) = proxied_store().await else {
        return;
    };
    let daemon = Daemon::start();
    let store = direct.traced_to(daemon.addr());
    let company = with_cnpj("Traced Get Ltda");
    // Outside a request, and in an unsampled one, nothing is sent.
    store.create(&company, None, None).await.unwrap();
    serving("get-company", trace(false), store.get(company.id))
        .await
        .unwrap();
    serving("get-company", None, store.get(company.id))
        .await
        .unwrap();
    assert_eq!(daemon.received(), Vec::<String>::new());

    let got = serving("get-company", trace(true), store.get(company.id)).await;
    assert_eq!(got.unwrap().map(|c| c.id), Some(company.id));
    let docs = daemon.subsegments();
    assert_eq!(docs.len(), 1, "{docs:?}");
    let aws = &docs[0]["aws"];
    assert_eq!(aws["operation"], "GetItem");
    assert_eq!(aws["table_name"], store.table());
    assert_eq!(
        (aws["attempts"].as_u64(), aws["retries"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(aws["consumed_capacity_units"].as_f64() > Some(0.0), "{aws}");
    assert_eq!(docs[0]["http"]["response"]["status"], 200);
    for class in ["error", "fault", "throttle", "cause"] {
        assert!(docs[0].get(class).is_none(), "{class} on a good call");
    }
    assert_no_data(&daemon.all(), &company);
}

#[tokio::test]
async fn retries_conflicts_and_denials_are_reported_as_x_ray_classes_them() {
    let Some((proxy, store, _)) = proxied_store().await else {
        return;
    };
    let daemon = Daemon::start();
    let store = store.traced_to(daemon.addr());

    // A transaction cancelled because another held an item: the store writes it again.
    let company = with_cnpj("Traced Write Ltda");
    proxy.set(Kind::CancelConflict, "TransactWriteItems", 1);
    sampled(store.create(&company, None, None)).await.unwrap();
    assert!(proxy.used_up());
    let docs = daemon.subsegments();
    let ops: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["aws"]["operation"].as_str())
        .collect();
    assert_eq!(
        ops,
        ["TransactWriteItems", "TransactWriteItems"],
        "{docs:?}"
    );
    assert_eq!(docs[0]["error"], true);
    assert_eq!(
        docs[0]["cause"]["exceptions"][0]["type"],
        "TransactionCanceledException"
    );
    assert!(docs[1].get("error").is_none());
    assert!(docs[1]["aws"]["consumed_capacity_units"].as_f64() > Some(0.0));
    assert_ne!(docs[0]["id"], docs[1]["id"]);

    // A throttled read the SDK retries is one call of two attempts.
    proxy.set(Kind::Throttle, "GetItem", 1);
    sampled(store.get(company.id)).await.unwrap();
    let docs = daemon.subsegments();
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(
        (
            docs[0]["aws"]["attempts"].as_u64(),
            docs[0]["aws"]["retries"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert!(
        docs[0].get("throttle").is_none(),
        "the call itself succeeded"
    );

    // A denied read: an error of its type, no retry.
    proxy.set(Kind::Deny, "GetItem", 1);
    let denied = sampled(store.get(company.id)).await;
    assert!(denied.is_err());
    let docs = daemon.subsegments();
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0]["error"], true);
    assert_eq!(docs[0]["aws"]["attempts"], 1);
    assert_eq!(docs[0]["http"]["response"]["status"], 400);
    assert_eq!(
        docs[0]["cause"]["exceptions"][0]["type"],
        "AccessDeniedException"
    );

    // A throttle no retry cured, as its own class.
    proxy.set(Kind::Throttle, "GetItem", 10);
    assert!(sampled(store.get(company.id)).await.is_err());
    proxy.clear();
    let docs = daemon.subsegments();
    assert_eq!(
        (&docs[0]["throttle"], &docs[0]["error"]),
        (&json!(true), &json!(true)),
        "{docs:?}"
    );
    assert_eq!(
        docs[0]["cause"]["exceptions"][0]["type"],
        "ThrottlingException"
    );

    // A failed condition answers with the item it failed on (ALL_OLD): none of it is sent.
    let rival = with_cnpj("Traced Rival Ltda");
    let taken = sampled(store.create(&rival, None, None)).await;
    assert!(matches!(taken, Err(StoreError::TaxIdTaken(_))), "{taken:?}");
    assert!(!daemon.received().is_empty());
    assert_no_data(&daemon.all(), &company);
    assert_no_data(&daemon.all(), &rival);
}

/// A call the request's deadline cuts off (its future dropped while DynamoDB has not answered)
/// still shows, sent as it is dropped: a fault of type `Cancelled`, with the attempts it made
/// and no answer — the slow call that spent the request's budget.
#[tokio::test]
async fn a_call_cut_off_by_the_deadline_is_sent_as_cancelled() {
    let Some((proxy, store, _)) = proxied_store().await else {
        return;
    };
    let daemon = Daemon::start();
    let store = store.traced_to(daemon.addr());
    let company = with_cnpj("Traced Slow Ltda");
    proxy.set(Kind::Delay(10_000), "GetItem", 1);
    let deadline = std::time::Duration::from_millis(300);
    let cut = tokio::time::timeout(
        deadline,
        serving("get-company", trace(true), store.get(company.id)),
    )
    .await;
    assert!(cut.is_err(), "the call ended before the deadline: {cut:?}");
    let docs = daemon.subsegments();
    assert_eq!(docs.len(), 1, "{docs:?}");
    let doc = &docs[0];
    assert_eq!(doc["aws"]["operation"], "GetItem", "{doc}");
    assert_eq!(doc["aws"]["attempts"], 1, "{doc}");
    assert_eq!(doc["fault"], true, "{doc}");
    assert_eq!(doc["cause"]["exceptions"][0]["type"], "Cancelled", "{doc}");
    assert!(doc.get("http").is_none(), "{doc}");
    assert!(doc.get("error").is_none(), "{doc}");
    assert_no_data(&daemon.all(), &company);
}
