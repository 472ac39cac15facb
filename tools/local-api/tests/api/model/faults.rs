//! The transient faults of the run with faults, and how a request to DynamoDB meets one.

use super::Run;
use crate::common::fault_proxy::Kind;
use reqwest::Method;
use serde_json::Value;

/// A fault AWS produces now and then.
pub(super) struct Transient {
    kind: Kind,
    /// The calls it applies to (`X-Amz-Target` suffix, "" = any).
    target: &'static str,
    /// How many of them in a row: 1, which the SDK's retry absorbs, or every attempt of a
    /// transaction, after which the store must find out whether its write landed.
    pub(super) times: u32,
    weight: u32,
}

/// The faults of the runs with faults, which the answers must not show. A write whose every
/// attempt committed without an answer must be answered as done; one whose every attempt was
/// refused unseen (a failed condition: 404, 409, 412) may only be a 503, as nothing tells the
/// store what happened.
const TRANSIENT: &[Transient] = &[
    Transient::once(Kind::Throttle, "", 4),
    Transient::once(Kind::ServerError, "", 3),
    Transient::once(Kind::Unavailable, "", 2),
    Transient::once(Kind::HangUp, "", 3),
    Transient::once(Kind::HangUpAfterCommit, "", 3),
    Transient::once(Kind::CancelConflict, "TransactWriteItems", 3),
    Transient::once(Kind::CancelThrottled, "TransactWriteItems", 3),
    Transient::once(Kind::Unprocessed, "BatchGetItem", 2),
    Transient::once(Kind::PartlyUnprocessed, "BatchGetItem", 2),
    // Costs the SDK's 2 s attempt timeout.
    Transient::once(Kind::LoseReply, "", 1),
    Transient::every_attempt(Kind::HangUpAfterCommit, 2),
    Transient::every_attempt(Kind::InProgressAfterCommit, 2),
];

impl Transient {
    const fn once(kind: Kind, target: &'static str, weight: u32) -> Self {
        Transient {
            kind,
            target,
            times: 1,
            weight,
        }
    }

    /// On every attempt of a transaction.
    const fn every_attempt(kind: Kind, weight: u32) -> Self {
        Transient {
            kind,
            target: "TransactWriteItems",
            times: companies_store::dynamo::MAX_ATTEMPTS,
            weight,
        }
    }
}

impl Run {
    /// Sends one request to store `s` (0: in memory, 1: DynamoDB). In the runs with faults,
    /// one request in three to DynamoDB meets a transient fault on one of its calls: returned
    /// when the request met it in full.
    pub(super) async fn send(
        &mut self,
        s: usize,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (reqwest::Response, Option<&'static Transient>) {
        let armed = match &self.faults {
            Some(proxy) if s == 1 && self.rng.u8(..3) == 0 => {
                let total: u32 = TRANSIENT.iter().map(|f| f.weight).sum();
                let mut pick = self.rng.u32(..total);
                let mut fault = &TRANSIENT[0];
                for f in TRANSIENT {
                    if pick < f.weight {
                        fault = f;
                        break;
                    }
                    pick -= f.weight;
                }
                // Any call of the request (most make one to three); a write's first transaction.
                let skip = if fault.target.is_empty() {
                    self.rng.u32(..3)
                } else {
                    0
                };
                proxy.set_after(fault.kind, fault.target, skip, fault.times);
                Some(fault)
            }
            _ => None,
        };
        let mut request = self.apis[s].request(method, path);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let r = request.await;
        let mut met = None;
        if let (Some(fault), Some(proxy)) = (armed, &self.faults) {
            if proxy.used_up() {
                let every = if fault.times > 1 {
                    " every attempt"
                } else {
                    ""
                };
                let name = format!("fault {:?}{every}", fault.kind);
                *self.seen.entry(name).or_default() += 1;
                met = Some(fault);
            }
            proxy.clear();
        }
        (r, met)
    }
}
