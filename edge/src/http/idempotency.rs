//! `Idempotency-Key` (IETF httpapi draft): a retried POST with the same key replays the first
//! answer instead of creating again. Keys are scoped to the caller (the JWT subject when the
//! API authenticates) and live 24 hours.

use lambda_http::http::{header, HeaderName, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Problem;
use companies_store::{unix_now, IdempotencyRecord, StoredAnswer};

/// How long a key is remembered.
pub const TTL_SECONDS: i64 = 24 * 60 * 60;
/// Longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 255;
/// The header name.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

/// A request's idempotency key, scoped and digested, and the fingerprint of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    key: String,
    fingerprint: String,
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The caller's identity from the JWT: its `sub`, or its `client_id` for a client-credentials
/// token that carries no subject.
pub fn caller(req: &Request) -> Option<String> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return None;
    };
    let claims = &ctx.authorizer.as_ref()?.jwt.as_ref()?.claims;
    claims
        .get("sub")
        .or_else(|| claims.get("client_id"))
        .filter(|id| !id.is_empty())
        .cloned()
}

/// Who makes a change: the caller, or `anonymous` where the API is open (the local API, `sam
/// local`). Behind the authorizer a token naming no caller cannot change anything: every change
/// and every idempotency key is attributed to someone.
pub fn actor(caller: Option<String>, authenticated: bool) -> Result<String, Problem> {
    match caller {
        Some(id) => Ok(id),
        None if authenticated => Err(Problem::forbidden(
            "The token identifies no caller (it carries neither sub nor client_id); changes need one.",
        )),
        None => Ok("anonymous".to_owned()),
    }
}

impl Idempotency {
    /// Reads the key, if any: 1–255 visible ASCII characters, bare or as a quoted string.
    /// `document` is the parsed body; with the method and path it forms the fingerprint.
    pub fn from_request(
        req: &Request,
        document: &Map<String, Value>,
    ) -> Result<Option<Self>, Problem> {
        let mut values = req.headers().get_all(IDEMPOTENCY_KEY).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        let invalid = || {
            Problem::bad_request(format!(
                "Idempotency-Key must appear once and hold 1 to {MAX_KEY_LEN} visible ASCII characters."
            ))
        };
        if values.next().is_some() {
            return Err(invalid());
        }
        let raw = value.to_str().map_err(|_| invalid())?.trim();
        let key = raw
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .unwrap_or(raw);
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid());
        }
        let subject = actor(caller(req), super::authenticated())?;
        let canonical = serde_json::to_string(document).unwrap_or_default();
        Ok(Some(Idempotency {
            key: hex_digest(&[subject.as_bytes(), key.as_bytes()]),
            fingerprint: hex_digest(&[
                req.method().as_str().as_bytes(),
                req.uri().path().as_bytes(),
                canonical.as_bytes(),
            ]),
        }))
    }

    /// The scoped key under which the record is stored.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The record of an answer to this request, to store with the write it made.
    pub fn record(&self, answer: &StoredAnswer) -> IdempotencyRecord {
        IdempotencyRecord {
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            answer: answer.clone(),
            expires_at: unix_now() + TTL_SECONDS,
        }
    }

    /// Replays a stored answer to the same request; a different request with the key is a 422.
    pub fn replay(&self, record: &IdempotencyRecord) -> Result<Response<Body>, Problem> {
        if record.fingerprint != self.fingerprint {
            return Err(Problem::idempotency_key_reused());
        }
        let mut response = response(&record.answer);
        response.headers_mut().insert(
            HeaderName::from_static(REPLAYED),
            HeaderValue::from_static("true"),
        );
        Ok(response)
    }
}

/// The response a stored answer stands for: the same status, headers and body as when it was
/// first sent.
pub fn response(answer: &StoredAnswer) -> Response<Body> {
    let mut response = Response::new(Body::Text(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in [
        (header::LOCATION, &answer.location),
        (header::ETAG, &answer.etag),
    ] {
        if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: Option<&str>, path: &str) -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method("POST")
            .uri(path);
        if let Some(k) = key {
            b = b.header(IDEMPOTENCY_KEY, k);
        }
        b.body(Body::Empty).unwrap()
    }

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn keys_are_bounded_visible_ascii_bare_or_quoted() {
        let d = doc(serde_json::json!({"a": 1}));
        assert!(Idempotency::from_request(&request(None, "/companies"), &d)
            .unwrap()
            .is_none());
        let bare = Idempotency::from_request(&request(Some("abc-123"), "/companies"), &d)
            .unwrap()
            .unwrap();
        let quoted = Idempotency::from_request(&request(Some("\"abc-123\""), "/companies"), &d)
            .unwrap()
            .unwrap();
        assert_eq!(bare, quoted);
        for bad in ["", "\"\"", "a b", &"x".repeat(256)] {
            assert!(
                Idempotency::from_request(&request(Some(bad), "/companies"), &d).is_err(),
                "{bad:?}"
            );
        }
        assert!(
            Idempotency::from_request(&request(Some(&"x".repeat(255)), "/companies"), &d).is_ok()
        );
    }

    #[test]
    fn the_fingerprint_covers_path_and_body_but_not_key_order() {
        let a = Idempotency::from_request(
            &request(Some("k"), "/companies"),
            &doc(serde_json::json!({"a": 1, "b": 2})),
        );
        let b = Idempotency::from_request(
            &request(Some("k"), "/companies"),
            &doc(serde_json::json!({"b": 2, "a": 1})),
        );
        let c = Idempotency::from_request(
            &request(Some("k"), "/companies"),
            &doc(serde_json::json!({"a": 2, "b": 2})),
        );
        let d = Idempotency::from_request(
            &request(Some("k"), "/elsewhere"),
            &doc(serde_json::json!({"a": 1, "b": 2})),
        );
        let (a, b, c, d) = (
            a.unwrap().unwrap(),
            b.unwrap().unwrap(),
            c.unwrap().unwrap(),
            d.unwrap().unwrap(),
        );
        assert_eq!(a, b);
        assert_eq!(a.key, c.key);
        assert_ne!(a.fingerprint, c.fingerprint);
        assert_ne!(a.fingerprint, d.fingerprint);
    }

    fn with_claims(claims: &[(&str, &str)]) -> Request {
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        let mut authorizer =
            lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizer::default();
        let mut jwt =
            lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        authorizer.jwt = Some(jwt);
        ctx.authorizer = Some(authorizer);
        request(Some("k"), "/companies").with_request_context(RequestContext::ApiGatewayV2(ctx))
    }

    #[test]
    fn keys_belong_to_the_subject_or_the_client() {
        assert_eq!(
            caller(&with_claims(&[("sub", "u1")])).as_deref(),
            Some("u1")
        );
        assert_eq!(
            caller(&with_claims(&[("client_id", "c1")])).as_deref(),
            Some("c1")
        );
        assert_eq!(caller(&with_claims(&[])), None);
        assert_eq!(caller(&request(Some("k"), "/companies")), None);
        let d = doc(serde_json::json!({"a": 1}));
        let a = Idempotency::from_request(&with_claims(&[("client_id", "c1")]), &d);
        let b = Idempotency::from_request(&with_claims(&[("client_id", "c2")]), &d);
        assert_ne!(a.unwrap().unwrap().key, b.unwrap().unwrap().key);
        // Behind the authorizer, no identity is refused; on an open API it is anonymous.
        assert_eq!(actor(None, true).unwrap_err().status, 403);
        assert_eq!(actor(None, false).unwrap(), "anonymous");
        assert_eq!(actor(Some("u1".into()), true).unwrap(), "u1");
    }

    #[test]
    fn replays_the_same_request_and_refuses_another() {
        let first = Idempotency::from_request(
            &request(Some("k"), "/companies"),
            &doc(serde_json::json!({"a": 1})),
        )
        .unwrap()
        .unwrap();
        let answer = StoredAnswer {
            status: 201,
            location: Some("/companies/1".into()),
            etag: Some("\"1\"".into()),
            body: "{}".into(),
        };
        let record = first.record(&answer);
        let replayed = first.replay(&record).unwrap();
        assert_eq!(replayed.status(), 201);
        assert_eq!(replayed.headers()[header::LOCATION], "/companies/1");
        assert_eq!(replayed.headers()[REPLAYED], "true");
        let other = Idempotency::from_request(
            &request(Some("k"), "/companies"),
            &doc(serde_json::json!({"a": 2})),
        )
        .unwrap()
        .unwrap();
        assert_eq!(other.replay(&record).unwrap_err().status, 422);
    }
}
