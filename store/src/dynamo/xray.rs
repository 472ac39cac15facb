//! Every DynamoDB call of a sampled request, sent to the X-Ray daemon as a subsegment of the
//! function's segment: operation, table, region, attempts, consumed capacity, status and, on
//! failure, the error's class (`error`, `throttle`, `fault`) and type — never an item's data,
//! an expression or an error message (a condition failure's answer carries the old item).
//!
//! An SDK interceptor ([`XrayCalls`]) watches each call: it starts when the call does, counts
//! the SDK's attempts (retries included), and when the call ends writes one UDP datagram (the
//! daemon's JSON header, a newline, the document) to `AWS_XRAY_DAEMON_ADDRESS`. It sends from
//! the call's own task, so the document is out before the request's response is returned. A
//! call that never ends, because the request's deadline dropped it, is sent when it is dropped,
//! as a fault of type `Cancelled`: the slow call that spent the budget shows too. The
//! trace comes from the request being served ([`companies::telemetry::current_trace`]): a call
//! outside a request, or in an unsampled one, sends nothing. Sending never fails a call: a
//! datagram that cannot be sent is dropped (X-Ray is best-effort, as the daemon itself is).

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::{Deserialize, Serialize};

use companies::telemetry::{current_trace, TraceHeader};

/// The largest document the daemon takes in one datagram.
pub const MAX_DOCUMENT: usize = 64 * 1024;
/// What precedes every document sent to the daemon.
pub const DAEMON_HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// Error codes DynamoDB answers when it throttles a call.
const THROTTLING: [&str; 3] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

/// Where the daemon listens, read from `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or the
/// `udp:host:port tcp:host:port` form (documents go over UDP).
pub fn daemon_address(value: &str) -> Option<SocketAddr> {
    let udp = value
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .or_else(|| (!value.contains(' ')).then_some(value.trim()))?;
    udp.to_socket_addrs().ok()?.next()
}

/// The interceptor that reports a sampled request's DynamoDB calls to the daemon at `daemon`.
#[derive(Debug)]
pub struct XrayCalls {
    to: Arc<Daemon>,
}

/// Where documents go, and what every document says of the table.
#[derive(Debug)]
struct Daemon {
    daemon: SocketAddr,
    table: String,
    region: String,
    socket: OnceLock<Option<UdpSocket>>,
}

impl XrayCalls {
    pub fn new(daemon: SocketAddr, table: &str, region: &str) -> Self {
        XrayCalls {
            to: Arc::new(Daemon {
                daemon,
                table: table.to_owned(),
                region: region.to_owned(),
                socket: OnceLock::new(),
            }),
        }
    }
}

impl Daemon {
    /// Sends one document; bound on the first send (nothing is opened at start-up).
    fn send(&self, document: &[u8]) {
        let socket = self.socket.get_or_init(|| {
            let any: SocketAddr = if self.daemon.is_ipv6() {
                ([0u16; 8], 0).into()
            } else {
                ([0u8; 4], 0).into()
            };
            UdpSocket::bind(any)
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .ok()
        });
        match socket {
            Some(socket) => {
                if let Err(e) = socket.send_to(document, self.daemon) {
                    tracing::debug!(error = %e, "trace segment not sent");
                }
            }
            None => tracing::debug!("no socket for the trace daemon"),
        }
    }
}

/// One call being watched (in the call's config bag, which the call's future owns).
#[derive(Debug, Clone)]
struct Call(Arc<Watched>);

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
struct Watched {
    to: Arc<Daemon>,
    trace: TraceHeader,
    /// The operation's name, known from the call's first attempt on (not before it).
    operation: OnceLock<String>,
    started: f64,
    attempts: AtomicU32,
    /// Whether the call ended and its document went out.
    reported: AtomicBool,
}

/// A call dropped before it ended (the request's deadline, a cancelled task): a fault of type
/// `Cancelled`, with the attempts it made. One that never made an attempt (its request could
/// not be built) sent nothing to DynamoDB and is not reported.
impl Drop for Watched {
    fn drop(&mut self) {
        if !self.reported.load(Ordering::Relaxed) && self.attempts.load(Ordering::Relaxed) > 0 {
            self.report(
                None,
                &Answer::default(),
                None,
                Some(("fault", "Cancelled".to_owned())),
            );
        }
    }
}

impl Watched {
    /// Takes the operation's name from the call's configuration, once.
    fn named(&self, cfg: &ConfigBag) {
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.operation.get_or_init(|| metadata.name().to_owned());
        }
    }

    /// Sends this call's document: its answer's status, consumed capacity and request id, and
    /// how it failed.
    fn report(
        &self,
        status: Option<u16>,
        answer: &Answer,
        request_id: Option<&str>,
        failed: Option<(&'static str, String)>,
    ) {
        self.reported.store(true, Ordering::Relaxed);
        let Some(parent_id) = self.trace.parent.as_deref() else {
            return;
        };
        let attempts = self.attempts.load(Ordering::Relaxed);
        let class = failed.as_ref().map(|(c, _)| *c);
        let document = Subsegment {
            name: "DynamoDB",
            id: segment_id(),
            trace_id: &self.trace.root,
            parent_id,
            kind: "subsegment",
            namespace: "aws",
            start_time: self.started,
            end_time: now(),
            aws: AwsFields {
                operation: self.operation.get().map_or("", String::as_str),
                table_name: &self.to.table,
                region: &self.to.region,
                attempts,
                retries: attempts.saturating_sub(1),
                request_id,
                consumed_capacity_units: answer.consumed.as_ref().map(Consumed::units),
            },
            http: status.map(|status| HttpFields {
                response: HttpResponse { status },
            }),
            // As the X-Ray SDKs do, a throttle is also an error (a 429-like client failure).
            error: matches!(class, Some("error" | "throttle")),
            throttle: class == Some("throttle"),
            fault: class == Some("fault"),
            cause: failed.map(|(_, kind)| Cause {
                exceptions: vec![Exception {
                    id: segment_id(),
                    kind,
                }],
            }),
        };
        let mut datagram = DAEMON_HEADER.as_bytes().to_vec();
        if serde_json::to_writer(&mut datagram, &document).is_ok() && datagram.len() <= MAX_DOCUMENT
        {
            self.to.send(&datagram);
        }
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// 16 random hex digits: a subsegment id (and an exception's).
fn segment_id() -> String {
    let bits = uuid::Uuid::new_v4().as_u128();
    format!("{:016x}", u64::try_from(bits >> 64).unwrap_or(1))
}

/// The parts of a DynamoDB answer a subsegment reports; everything else (items) is skipped
/// unread.
#[derive(Deserialize, Default)]
struct Answer {
    #[serde(rename = "__type")]
    error_type: Option<String>,
    #[serde(rename = "ConsumedCapacity")]
    consumed: Option<Consumed>,
}

/// One table's consumption (a single-table call) or one per table (batch and transactions).
#[derive(Deserialize)]
#[serde(untagged)]
enum Consumed {
    One(Capacity),
    Many(Vec<Capacity>),
}

#[derive(Deserialize)]
struct Capacity {
    #[serde(rename = "CapacityUnits")]
    units: Option<f64>,
}

impl Consumed {
    fn units(&self) -> f64 {
        match self {
            Consumed::One(c) => c.units.unwrap_or(0.0),
            Consumed::Many(all) => all.iter().filter_map(|c| c.units).sum(),
        }
    }
}

#[derive(Serialize)]
struct Subsegment<'a> {
    name: &'static str,
    id: String,
    trace_id: &'a str,
    parent_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    namespace: &'static str,
    start_time: f64,
    end_time: f64,
    aws: AwsFields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<HttpFields>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    error: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    throttle: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    fault: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<Cause>,
}

#[derive(Serialize)]
struct AwsFields<'a> {
    operation: &'a str,
    table_name: &'a str,
    region: &'a str,
    attempts: u32,
    retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity_units: Option<f64>,
}

#[derive(Serialize)]
struct HttpFields {
    response: HttpResponse,
}

#[derive(Serialize)]
struct HttpResponse {
    status: u16,
}

#[derive(Serialize)]
struct Cause {
    exceptions: Vec<Exception>,
}

#[derive(Serialize)]
struct Exception {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

/// How a call failed, for X-Ray: a throttle, a fault (the service's or no answer at all) or an
/// error (the caller's, e.g. a failed condition), and its type.
fn failure(status: Option<u16>, error_type: Option<&str>) -> Option<(&'static str, String)> {
    // `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` → the last part.
    let kind = error_type.map(|t| t.rsplit('#').next().unwrap_or(t).to_owned());
    match (status, kind) {
        (Some(s), None) if s < 400 => None,
        (_, Some(k)) if THROTTLING.contains(&k.as_str()) => Some(("throttle", k)),
        (Some(s), k) if s >= 500 => Some(("fault", k.unwrap_or_else(|| format!("HTTP {s}")))),
        (Some(_), Some(k)) => Some(("error", k)),
        (Some(s), None) => Some(("error", format!("HTTP {s}"))),
        (None, k) => Some(("fault", k.unwrap_or_else(|| "NoResponse".to_owned()))),
    }
}

impl Intercept for XrayCalls {
    fn name(&self) -> &'static str {
        "XrayCalls"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(trace) = current_trace() {
            cfg.interceptor_state().store_put(Call(Arc::new(Watched {
                to: Arc::clone(&self.to),
                trace,
                operation: OnceLock::new(),
                started: now(),
                attempts: AtomicU32::new(0),
                reported: AtomicBool::new(false),
            })));
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = cfg.load::<Call>() {
            call.0.attempts.fetch_add(1, Ordering::Relaxed);
            call.0.named(cfg);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Call(call)) = cfg.load::<Call>() else {
            return Ok(());
        };
        call.named(cfg);
        let response = context.inner().response();
        let status = response.map(|r| r.status().as_u16());
        let answer: Answer = response
            .and_then(|r| r.body().bytes())
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let request_id = response.and_then(|r| r.headers().get("x-amzn-requestid"));
        let failed = if context.inner().is_failed() || status.is_some_and(|s| s >= 400) {
            failure(status, answer.error_type.as_deref())
        } else {
            None
        };
        call.report(status, &answer, request_id, failed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_address_in_both_forms() {
        assert_eq!(
            daemon_address("127.0.0.1:2000"),
            Some(([127, 0, 0, 1], 2000).into())
        );
        assert_eq!(
            daemon_address("tcp:127.0.0.1:2001 udp:127.0.0.2:2000"),
            Some(([127, 0, 0, 2], 2000).into())
        );
        assert_eq!(daemon_address("tcp:127.0.0.1:2001"), None);
        assert_eq!(daemon_address("not an address"), None);
    }

    #[test]
    fn failures_are_classed_as_x_ray_classes_them() {
        let ddb = |t: &str| format!("com.amazonaws.dynamodb.v20120810#{t}");
        assert_eq!(failure(Some(200), None), None);
        assert_eq!(
            failure(Some(400), Some(&ddb("ConditionalCheckFailedException"))),
            Some(("error", "ConditionalCheckFailedException".into()))
        );
        assert_eq!(
            failure(
                Some(400),
                Some(&ddb("ProvisionedThroughputExceededException"))
            ),
            Some(("throttle", "ProvisionedThroughputExceededException".into()))
        );
        assert_eq!(
            failure(Some(400), Some("AccessDeniedException")),
            Some(("error", "AccessDeniedException".into()))
        );
        assert_eq!(
            failure(Some(500), Some(&ddb("InternalServerError"))),
            Some(("fault", "InternalServerError".into()))
        );
        assert_eq!(failure(Some(503), None), Some(("fault", "HTTP 503".into())));
        assert_eq!(failure(None, None), Some(("fault", "NoResponse".into())));
    }

    #[test]
    fn consumed_capacity_of_one_table_or_many() {
        let one: Answer = serde_json::from_str(
            r#"{"Item":{"pk":{"S":"x"}},"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#,
        )
        .unwrap();
        assert_eq!(one.consumed.map(|c| c.units()), Some(1.0));
        let many: Answer = serde_json::from_str(
            r#"{"ConsumedCapacity":[{"TableName":"t","CapacityUnits":4.0},{"TableName":"u","CapacityUnits":2.5}]}"#,
        )
        .unwrap();
        assert_eq!(many.consumed.map(|c| c.units()), Some(6.5));
    }
}
