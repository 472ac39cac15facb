//! One request per operation that writes nothing, sent to a new version of its function before
//! it takes traffic: the API Gateway (HTTP API, payload 2.0) event it is sent as, and what its
//! answer must be. Reads list or get what exists or answer 404 for an id that does not; writes
//! target an id that does not exist (404: nothing found, nothing written) or carry a body the
//! API refuses (400). The match on [`Handler`] is exhaustive: an operation added to the
//! registry without its probe does not compile.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::operations::{Handler, Operation};

/// The caller the synthesized requests name (what the JWT authorizer would put in the claims).
pub const PROBE_CALLER: &str = "codedeploy-pre-traffic-hook";

/// What a probe's answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// 200 with a JSON object whose `field` is an array (a listing).
    Json { field: &'static str },
    /// A problem (RFC 9457) of this status.
    Problem(u16),
}

/// One request for a new version of `operation`'s function.
#[derive(Debug, Clone)]
pub struct Probe {
    pub operation: &'static Operation,
    pub method: &'static str,
    /// The route key's path template, e.g. `/companies/{id}`.
    pub route: &'static str,
    /// The path with its parameters filled in.
    pub path: String,
    pub path_parameters: Vec<(&'static str, String)>,
    pub query: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Option<Value>,
    pub expect: Expect,
}

/// The probe of `operation` (its first route), on ids that no company has; an operation
/// without a route cannot be probed (a finding, not a pass).
pub fn probe(operation: &'static Operation) -> Result<Probe, String> {
    let unknown = Uuid::now_v7().to_string();
    let account = Uuid::now_v7().to_string();
    let route = operation
        .routes
        .first()
        .ok_or("the operation has no route to probe")?;
    let mut params = Vec::new();
    if route.path.contains("{id}") {
        params.push(("id", unknown));
    }
    if route.path.contains("{account_id}") {
        params.push(("account_id", account));
    }
    let mut path = route.path.to_owned();
    for (name, value) in &params {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let json_body = ("content-type", "application/json");
    let merge_patch = ("content-type", "application/merge-patch+json");
    let version_one = ("if-match", "\"1\"");
    let (query, headers, body, expect) = match operation.handler {
        Handler::GetBanks => ("", vec![], None, Expect::Json { field: "items" }),
        Handler::ListCompanies => ("limit=1", vec![], None, Expect::Json { field: "items" }),
        Handler::GetCompany | Handler::GetCompanyHistory => {
            ("", vec![], None, Expect::Problem(404))
        }
        // A company without its required fields: refused before the store is asked.
        Handler::CreateCompany => ("", vec![json_body], Some(json!({})), Expect::Problem(400)),
        Handler::UpdateCompany => (
            "",
            vec![merge_patch, version_one],
            Some(json!({"phone": "11978235674"})),
            Expect::Problem(404),
        ),
        Handler::DeleteCompany => ("", vec![version_one], None, Expect::Problem(404)),
        Handler::AddBankAccount => (
            "",
            vec![json_body],
            Some(json!({"bank_code": "001", "agency": "0001-9", "account_number": "12345-6"})),
            Expect::Problem(404),
        ),
        Handler::UpdateBankAccount => (
            "",
            vec![merge_patch, version_one],
            Some(json!({"agency": "0001-9"})),
            Expect::Problem(404),
        ),
        Handler::DeleteBankAccount => ("", vec![version_one], None, Expect::Problem(404)),
    };
    Ok(Probe {
        operation,
        method: route.method,
        route: route.path,
        path,
        path_parameters: params,
        query,
        headers,
        body,
        expect,
    })
}

impl Probe {
    /// The API Gateway v2 event of this probe, carrying the JWT claims the authorizer would
    /// (the operation's scope, a named caller).
    pub fn event(&self) -> Value {
        let now = time::OffsetDateTime::now_utc();
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .chain([
                ("accept".to_owned(), json!("application/json")),
                ("user-agent".to_owned(), json!(PROBE_CALLER)),
            ])
            .collect();
        let path_parameters: serde_json::Map<String, Value> = self
            .path_parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let route_key = format!("{} {}", self.method, self.route);
        let scope = self.operation.scope.as_str();
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": "pre-traffic-hook",
                "apiId": "pre-traffic-hook",
                "domainName": "pre-traffic-hook.invalid",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": PROBE_CALLER,
                },
                "requestId": format!("pre-traffic-{}", Uuid::now_v7()),
                "routeKey": route_key,
                "stage": "$default",
                "time": "",
                "timeEpoch": now.unix_timestamp() * 1000,
                "authorizer": {"jwt": {
                    "claims": {"sub": PROBE_CALLER, "client_id": PROBE_CALLER, "scope": scope},
                    "scopes": [scope],
                }},
            },
            "isBase64Encoded": false,
        });
        if !path_parameters.is_empty() {
            event["pathParameters"] = Value::Object(path_parameters);
        }
        if !self.query.is_empty() {
            let pairs: serde_json::Map<String, Value> = self
                .query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect();
            event["queryStringParameters"] = Value::Object(pairs);
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body.to_string());
        }
        event
    }

    /// Whether `answer` (the function's API Gateway v2 response) is what this probe expects;
    /// otherwise what is wrong with it.
    pub fn check(&self, answer: &Value) -> Result<(), String> {
        let status = answer["statusCode"]
            .as_u64()
            .ok_or("the answer has no statusCode")?;
        let header = |name: &str| {
            answer["headers"]
                .as_object()
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let content_type = header("content-type");
        // Read after the status and content type are checked: those say more about an answer
        // that is not JSON.
        let body: Option<Value> = match answer["body"].as_str() {
            Some(text) if !text.is_empty() => serde_json::from_str(text).ok(),
            _ => Some(Value::Null),
        };
        let titled = |b: &Option<Value>| b.as_ref().map(title).unwrap_or_default();
        match self.expect {
            Expect::Json { field } => {
                if status != 200 {
                    return Err(format!("expected 200, got {status}{}", titled(&body)));
                }
                if !content_type.starts_with("application/json") {
                    return Err(format!("expected application/json, got {content_type:?}"));
                }
                let body = body.ok_or("the body is not JSON")?;
                if !body[field].is_array() {
                    return Err("the body is not the listing expected".into());
                }
            }
            Expect::Problem(expected) => {
                if status != u64::from(expected) {
                    return Err(format!(
                        "expected {expected}, got {status}{}",
                        titled(&body)
                    ));
                }
                if content_type != "application/problem+json" {
                    return Err(format!(
                        "expected application/problem+json, got {content_type:?}"
                    ));
                }
                let body = body.ok_or("the body is not JSON")?;
                let shaped = body["type"].is_string()
                    && body["title"].is_string()
                    && body["status"].as_u64() == Some(status);
                if !shaped {
                    return Err("the body is not a problem (type, title, status)".into());
                }
            }
        }
        Ok(())
    }
}

/// `: <title>` of a problem body, to say what a wrong answer was.
fn title(body: &Value) -> String {
    body["title"]
        .as_str()
        .map(|t| format!(": {t}"))
        .unwrap_or_default()
}
