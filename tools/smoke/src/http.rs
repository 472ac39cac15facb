//! Requests to the API under test and the checks on their answers: status, content type,
//! headers, JSON and problem details, each failing with a sentence that says what was expected
//! and what came.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Client, Method, Url};
use serde_json::Value;

use crate::access::Secret;

/// The HTTP client of the run: HTTP/1.1 over rustls, no redirects followed (an API answer is
/// never a redirect, and a token must not follow one), `timeout` per request.
pub fn client(timeout: Duration) -> Result<Client> {
    Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")
}

/// The API under test: its base URL and the bearer token, if any, sent with every request.
pub struct Api {
    http: Client,
    base: String,
    bearer: Option<Secret>,
}

impl Api {
    pub fn new(http: Client, base: &Url, bearer: Option<Secret>) -> Api {
        Api {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
            bearer,
        }
    }

    /// A request for `path` (with its query) under the base URL.
    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            api: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.request(Method::GET, path)
    }

    /// The URL of `path` under the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Where a `Location` of `location` leads, resolved against the base URL as a client
    /// resolves it.
    pub fn resolve(&self, location: &str) -> Result<Url> {
        Url::parse(&format!("{}/", self.base))
            .and_then(|base| base.join(location))
            .with_context(|| format!("Location {location:?} is not a URI reference"))
    }
}

/// A request being built; [`Call::send`] sends it.
pub struct Call<'a> {
    api: &'a Api,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, String)>,
}

impl Call<'_> {
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `value` as the body, of `content_type`.
    pub fn body(mut self, content_type: &'static str, value: &Value) -> Self {
        self.body = Some((content_type, value.to_string()));
        self
    }

    pub async fn send(self) -> Result<Answer> {
        let url = format!("{}{}", self.api.base, self.path);
        let mut request = self.api.http.request(self.method.clone(), &url).header(
            USER_AGENT,
            concat!("companies-smoke/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(token) = &self.api.bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        if let Some((content_type, body)) = self.body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{} {} got no answer", self.method, self.path))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("{} {}: the answer's body was cut", self.method, self.path))?
            .to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// An answer, read whole.
pub struct Answer {
    pub status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    /// Fails unless the status is `status`, saying what came instead and, for an error, its
    /// problem's title and detail (or API Gateway's `message`).
    pub fn expect(&self, status: u16) -> Result<()> {
        if self.status == status {
            return Ok(());
        }
        bail!("expected {status}, got {}{}", self.status, self.why())
    }

    /// What an error answer says about itself, in a few public words, or nothing.
    fn why(&self) -> String {
        if self.status < 400 {
            return String::new();
        }
        let said = serde_json::from_slice::<Value>(&self.body)
            .ok()
            .map(|body| {
                let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
                match (text("title"), text("detail"), text("message")) {
                    (Some(title), Some(detail), _) => format!("{title} ({detail})"),
                    (Some(title), None, _) => title,
                    (None, _, Some(message)) => message,
                    _ => String::new(),
                }
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        let said: String = said.chars().filter(|c| !c.is_control()).take(200).collect();
        if said.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", said.trim())
        }
    }

    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Fails unless header `name` is exactly `value`.
    pub fn expect_header(&self, name: &str, value: &str) -> Result<()> {
        match self.header(name) {
            Some(v) if v == value => Ok(()),
            Some(v) => bail!("header {name}: expected {value:?}, got {v:?}"),
            None => bail!("header {name}: expected {value:?}, got none"),
        }
    }

    /// The media type of the body (`Content-Type` without its parameters), lower case.
    fn media_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// The body as JSON of `media_type`.
    fn parsed(&self, media_type: &str) -> Result<Value> {
        let got = self.media_type();
        ensure!(
            got == media_type,
            "content type: expected {media_type}, got {}",
            if got.is_empty() { "none" } else { &got }
        );
        serde_json::from_slice(&self.body)
            .with_context(|| format!("the body is not JSON, though sent as {media_type}"))
    }

    /// The body as `application/json`.
    pub fn json(&self) -> Result<Value> {
        self.parsed("application/json")
    }

    /// Fails unless this is a problem (RFC 9457) of `status`: `application/problem+json` with
    /// `type`, `title` and `detail` and the same `status`. Returns the problem.
    pub fn problem(&self, status: u16) -> Result<Value> {
        self.expect(status)?;
        let problem = self.parsed("application/problem+json")?;
        for field in ["type", "title", "detail"] {
            field_str(&problem, field).with_context(|| format!("the problem's {field}"))?;
        }
        ensure!(
            problem.get("status").and_then(Value::as_u64) == Some(u64::from(status)),
            "the problem's status: expected {status}, got {}",
            problem.get("status").unwrap_or(&Value::Null)
        );
        Ok(problem)
    }
}

/// The string member `name` of `value`, or a failure naming it.
pub fn field_str<'a>(value: &'a Value, name: &str) -> Result<&'a str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .with_context(|| format!("no string \"{name}\" in {}", shape(value)))
}

/// The array member `name` of `value`, or a failure naming it.
pub fn field_array<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>> {
    value
        .get(name)
        .and_then(Value::as_array)
        .with_context(|| format!("no list \"{name}\" in {}", shape(value)))
}

/// A page's `next_cursor`: a string, or null on the last page; absent is a failure.
pub fn next_cursor(page: &Value) -> Result<Option<String>> {
    match page.get("next_cursor") {
        Some(Value::Null) => Ok(None),
        Some(Value::String(cursor)) => Ok(Some(cursor.clone())),
        Some(other) => bail!("next_cursor: expected a string or null, got {other}"),
        None => bail!("no \"next_cursor\" in {}", shape(page)),
    }
}

/// What kind of JSON `value` is, with its member names for an object: enough to see what
/// came without showing its data (which may hold bank details).
fn shape(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let names: Vec<&str> = map.keys().map(String::as_str).take(12).collect();
            format!("an object with {{{}}}", names.join(", "))
        }
        Value::Array(_) => "a list".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

/// `text` for a query string: unreserved characters as they are, every other byte
/// percent-encoded (cursors are opaque; names may hold anything).
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
        Answer {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_wrong_status_says_what_the_problem_says() {
        let problem = r#"{"type":"about:blank","title":"Precondition Failed","status":412,"detail":"Changed."}"#;
        let a = answer(412, "application/problem+json", problem);
        let said = a.expect(200).unwrap_err().to_string();
        assert_eq!(
            said,
            "expected 200, got 412: Precondition Failed (Changed.)"
        );
        let gateway = answer(403, "application/json", r#"{"message":"Forbidden"}"#);
        assert_eq!(
            gateway.expect(200).unwrap_err().to_string(),
            "expected 200, got 403: Forbidden"
        );
        assert!(a.problem(412).is_ok());
    }

    #[test]
    fn content_type_and_shape_are_checked() {
        let text = answer(200, "text/plain", "hello");
        assert_eq!(
            text.json().unwrap_err().to_string(),
            "content type: expected application/json, got text/plain"
        );
        let ok = answer(200, "application/json; charset=utf-8", r#"{"items":[]}"#);
        let body = ok.json().unwrap();
        assert!(field_array(&body, "items").unwrap().is_empty());
        let missing = next_cursor(&body).unwrap_err().to_string();
        assert_eq!(missing, "no \"next_cursor\" in an object with {items}");
        assert_eq!(next_cursor(&json!({"next_cursor": null})).unwrap(), None);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("smoke test"), "smoke%20test");
        assert_eq!(query_value("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(query_value("São"), "S%C3%A3o");
    }
}
