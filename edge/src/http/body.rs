//! Reading request bodies: the size bound, the media type, the JSON object read once (keeping
//! the exact text of money), and merge patches applied to it.

use std::collections::HashMap;

use lambda_http::http::{header, HeaderMap};
use lambda_http::{Body, Request};
use serde_json::{Map, Value};

use super::strict_json::{self, Refusal};
use super::Problem;
use companies::FieldError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Top-level fields whose JSON numbers are read from their exact source text (money never
/// passes through a float).
pub const EXACT_NUMBER_FIELDS: &[&str] = &["declared_billing"];

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(s) => s.as_bytes(),
        Body::Binary(b) => b,
        // `Body` is non-exhaustive; an unknown kind carries nothing we can read.
        _ => &[],
    }
}

/// The media type of the request, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(essence)
}

/// A request body read once: the JSON object, and the exact source text of each numeric
/// [`EXACT_NUMBER_FIELDS`] entry in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonBody {
    pub doc: Map<String, Value>,
    number_texts: HashMap<String, String>,
}

impl JsonBody {
    /// Reads the body as a JSON object, after checking its size and media type.
    pub fn read(req: &Request, accepted: &[&str]) -> Result<JsonBody, Problem> {
        let bytes = body_bytes(req);
        if bytes.len() > MAX_BODY_BYTES {
            return Err(Problem::payload_too_large(MAX_BODY_BYTES));
        }
        match media_type(req.headers()) {
            Some(m) if accepted.contains(&m.as_str()) => {}
            _ => return Err(Problem::unsupported_media_type(&accepted.join(" or "))),
        }
        match strict_json::read_object(bytes, EXACT_NUMBER_FIELDS) {
            Ok(object) => Ok(JsonBody {
                doc: object.members,
                number_texts: object.number_texts,
            }),
            Err(Refusal::Malformed) => Err(Problem::malformed_json()),
            // One name twice in an object is read differently by different parsers (the first,
            // the last, an error): refused, so that what was checked is what is stored.
            Err(Refusal::RepeatedName(path)) => Err(Problem::validation(vec![FieldError::new(
                path,
                "appears more than once in its object",
            )])),
            // Valid JSON of another kind: say what is wanted.
            Err(Refusal::Unacceptable(error)) if error.is_data() => Err(Problem::bad_request(
                "The request body must be a JSON object.",
            )),
            // Valid JSON that no reader could take as meant: a number beyond a double's range
            // outside `declared_billing` (whose exact text is kept), a lone UTF-16 surrogate.
            Err(Refusal::Unacceptable(_)) => Err(Problem::bad_request(
                "The request body holds a number out of range or an unpaired \\u escape.",
            )),
        }
    }

    /// Another document with the exact number texts of this one (a merge patch's result).
    pub fn with_doc(&self, doc: Map<String, Value>) -> JsonBody {
        JsonBody {
            doc,
            number_texts: self.number_texts.clone(),
        }
    }

    /// The exact text of the top-level field `key` when it is a JSON number and one of
    /// [`EXACT_NUMBER_FIELDS`].
    pub fn number_text(&self, key: &str) -> Option<&str> {
        self.number_texts.get(key).map(String::as_str)
    }
}

/// Applies a JSON Merge Patch object (RFC 7396) to a document object.
pub fn merge_patch(target: Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut doc = Value::Object(target);
    json_patch::merge(&mut doc, &Value::Object(patch.clone()));
    match doc {
        Value::Object(merged) => merged,
        // Merging an object into an object always yields an object.
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/companies");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn body_checks_size_then_type_then_json() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let deep = "[".repeat(10_000);
        let cases = [
            (Some("application/json"), "{}", 200),
            (Some("Application/JSON; charset=utf-8"), "{}", 200),
            (Some("text/plain"), "{}", 415),
            (None, "{}", 415),
            (Some("application/json"), "{", 400),
            (Some("application/json"), "[1]", 400),
            (Some("application/json"), "", 400),
            (Some("text/plain"), big.as_str(), 413),
            (Some("application/json"), deep.as_str(), 400),
        ];
        for (content_type, body, expected) in cases {
            let status = JsonBody::read(&request(content_type, body), &["application/json"])
                .map(|_| 200)
                .unwrap_or_else(|p| p.status.as_u16());
            assert_eq!(status, expected, "{content_type:?} {:.40}", body);
        }
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let req = request(
            Some("application/json"),
            r#"{"declared_billing": 1235.6900000000001, "s": "1"}"#,
        );
        let body = JsonBody::read(&req, &["application/json"]).unwrap();
        assert_eq!(
            body.number_text("declared_billing"),
            Some("1235.6900000000001")
        );
        assert_eq!(body.number_text("s"), None);
        assert_eq!(body.number_text("missing"), None);
        assert_eq!(body.doc["s"], "1");
        let text = request(Some("application/json"), r#"{"declared_billing": "12.30"}"#);
        let body = JsonBody::read(&text, &["application/json"]).unwrap();
        assert_eq!(body.number_text("declared_billing"), None);
        assert_eq!(body.doc["declared_billing"], "12.30");
        // Beyond a double's range: still read, by its text.
        let huge = request(Some("application/json"), r#"{"declared_billing": 1e400}"#);
        let body = JsonBody::read(&huge, &["application/json"]).unwrap();
        assert_eq!(body.number_text("declared_billing"), Some("1e400"));
    }

    fn refusal(body: &str) -> Problem {
        JsonBody::read(
            &request(Some("application/json"), body),
            &["application/json"],
        )
        .expect_err(body)
    }

    fn repeated(body: &str) -> Vec<String> {
        let problem = refusal(body);
        assert_eq!(problem.status, 400, "{body}");
        problem.errors.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_name_twice_in_one_object_is_refused_with_its_path() {
        assert_eq!(
            repeated(r#"{"company_name": "A", "company_name": "B"}"#),
            ["company_name"]
        );
        assert_eq!(
            repeated(r#"{"address": {"street": "A", "city": "X", "street": "B"}}"#),
            ["address.street"]
        );
        assert_eq!(
            repeated(r#"{"bank_accounts": [{"agency": "1"}, {"agency": "1", "agency": "2"}]}"#),
            ["bank_accounts[1].agency"]
        );
        assert_eq!(repeated(r#"{"a": [[{"b": 1, "b": 1}]]}"#), ["a[0][0].b"]);
        // The same name in different objects, and escapes that spell other names, are fine.
        let fine =
            r#"{"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 2}], "x": 1, "\u0078y": 2}"#;
        let body = JsonBody::read(
            &request(Some("application/json"), fine),
            &["application/json"],
        );
        assert!(body.is_ok(), "{body:?}");
        // Escaped, a repeated name is still the same name.
        assert_eq!(repeated(r#"{"x": 1, "\u0078": 2}"#), ["x"]);
    }

    #[test]
    fn valid_json_no_reader_takes_as_meant_is_a_clear_400() {
        for body in [
            r#"{"phone": 1e400}"#,
            r#"{"address": {"number": -1e999}}"#,
            r#"{"company_name": "\ud800"}"#,
        ] {
            let problem = refusal(body);
            assert_eq!(problem.status, 400, "{body}");
            assert!(
                problem.detail.contains("out of range"),
                "{body}: {problem:?}"
            );
        }
        assert!(refusal("[]").detail.contains("must be a JSON object"));
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(refusal(&deep).status, 400);
        assert_eq!(refusal(r#"{"a": 1"#).title, "Malformed JSON");
    }
}
