//! The bearer token: obtained with the OAuth2 client credentials grant (RFC 6749 §4.4) from
//! the stack's Cognito domain, or given in `SMOKE_TOKEN`; and what it allows, read from its
//! claims so that the checks expect what API Gateway's authorizer will answer.

use anyhow::{bail, ensure, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::ACCEPT;
use reqwest::{Client, Url};
use serde_json::Value;

use crate::access::Secret;
use crate::report::Step;

/// Asks `token_url` for an access token with `scopes`, authenticating as the client with
/// HTTP Basic (as Cognito expects). Nothing of the secret, or of the token, is ever shown:
/// a refusal is reported by its OAuth2 `error` code alone.
pub async fn client_credentials(
    http: &Client,
    token_url: &Url,
    id: &str,
    secret: &Secret,
    scopes: &str,
) -> Result<Step<Secret>> {
    let response = http
        .post(token_url.clone())
        .basic_auth(id, Some(secret.expose()))
        .header(ACCEPT, "application/json")
        .form(&[("grant_type", "client_credentials"), ("scope", scopes)])
        .send()
        .await
        .context("the token endpoint did not answer")?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 200 {
        let error = body.get("error").and_then(Value::as_str).unwrap_or("");
        bail!(
            "expected 200, got {status}{}{}",
            if error.is_empty() { "" } else { ": " },
            // An OAuth2 error code is one of a few words (invalid_client, invalid_scope, …).
            error.chars().take(60).collect::<String>()
        );
    }
    if let Some(kind) = body.get("token_type").and_then(Value::as_str) {
        ensure!(
            kind.eq_ignore_ascii_case("bearer"),
            "the token endpoint issued a {kind:?} token, not a bearer token"
        );
    }
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .context("the token endpoint's answer holds no access_token")?;
    Ok(Step::ok(Secret::new(token.to_owned()), status).note(format!("scopes {scopes}")))
}

/// What the caller may do, as far as the suite can tell before asking the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No authorizer (the local API, `sam local`): every route answers.
    Open,
    /// A JWT with these scopes (its `scope` claim, as Cognito writes it, or `scp`).
    Scopes(Vec<String>),
    /// A token that is not a readable JWT: the authorizer will judge it.
    Unknown,
}

impl Access {
    /// What `token` carries; an expired JWT is refused here (`now`: Unix seconds), as the
    /// authorizer would refuse it, with a clearer word.
    pub fn of_token(token: &Secret, now: i64) -> Result<Access> {
        let Some(claims) = claims(token.expose()) else {
            return Ok(Access::Unknown);
        };
        if let Some(exp) = claims.get("exp").and_then(Value::as_i64) {
            ensure!(
                exp > now,
                "the token expired {} s ago: get a fresh one",
                now - exp
            );
        }
        let words = |v: &Value| -> Vec<String> {
            match v {
                Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let scopes = claims
            .get("scope")
            .or_else(|| claims.get("scp"))
            .map(words)
            .unwrap_or_default();
        Ok(Access::Scopes(scopes))
    }

    /// Whether a request needing `scope` gets through: `None` when the suite cannot tell.
    pub fn allows(&self, scope: &str) -> Option<bool> {
        match self {
            Access::Open => Some(true),
            Access::Scopes(scopes) => Some(scopes.iter().any(|s| s == scope)),
            Access::Unknown => None,
        }
    }

    /// The scopes, for a message (never the token).
    pub fn describe(&self) -> String {
        match self {
            Access::Open => "no authorizer".to_owned(),
            Access::Scopes(scopes) if scopes.is_empty() => "no scopes".to_owned(),
            Access::Scopes(scopes) => scopes.join(" "),
            Access::Unknown => "scopes unknown (not a JWT)".to_owned(),
        }
    }
}

/// The claims of a JWT (its middle part, base64url JSON), read without checking the
/// signature: the suite only plans its checks by them, the authorizer verifies the token.
fn claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(claims: Value) -> Secret {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        Secret::new(format!(
            "{}.{}.signature",
            part(&json!({"alg": "RS256"})),
            part(&claims)
        ))
    }

    #[test]
    fn scopes_come_from_the_scope_or_scp_claim() {
        let cognito = jwt(json!({"scope": "companies/read companies/audit", "exp": 2000}));
        let access = Access::of_token(&cognito, 1000).unwrap();
        assert_eq!(access.allows("companies/audit"), Some(true));
        assert_eq!(access.allows("companies/write"), Some(false));
        let okta = jwt(json!({"scp": ["companies/read", "companies/write"]}));
        let access = Access::of_token(&okta, 1000).unwrap();
        assert_eq!(access.allows("companies/write"), Some(true));
        let none = Access::of_token(&jwt(json!({"sub": "x"})), 1000).unwrap();
        assert_eq!(none, Access::Scopes(vec![]));
        assert_eq!(none.describe(), "no scopes");
    }

    #[test]
    fn an_opaque_token_is_unknown_and_an_expired_jwt_refused() {
        for opaque in ["abc", "a.b.c", "a.!!!.c", "a.b.c.d"] {
            let access = Access::of_token(&Secret::new(opaque.into()), 0).unwrap();
            assert_eq!(access, Access::Unknown, "{opaque}");
            assert_eq!(access.allows("companies/read"), None);
        }
        let expired = jwt(json!({"scope": "companies/read", "exp": 1000}));
        let refused = Access::of_token(&expired, 1500).unwrap_err().to_string();
        assert!(refused.contains("expired 500 s ago"), "{refused}");
        assert_eq!(Access::Open.allows("companies/audit"), Some(true));
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let shown = format!("{:?}", Secret::new("hunter2".into()));
        assert!(!shown.contains("hunter2"));
    }
}
