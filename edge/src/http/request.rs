//! Reading requests: path ids, query parameters, bodies (size, media type, JSON) and `If-Match`.

use std::cell::RefCell;
use std::collections::HashMap;

use lambda_http::http::{header, HeaderMap};
use lambda_http::{Body, Request, RequestExt};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Problem, MAX_BODY_BYTES};
use companies::{input, FieldError};

/// The `{id}` path parameter. An id that is not a UUID names no company: 404.
pub fn path_id(req: &Request, name: &str, what: &str) -> Result<Uuid, Problem> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| Problem::not_found(format!("No {what} with that id.")))
}

/// Query parameters, each at most once, none outside `allowed`.
pub fn query(req: &Request, allowed: &[&str]) -> Result<HashMap<String, String>, Problem> {
    let mut out = HashMap::new();
    let Some(params) = req.query_string_parameters_ref() else {
        return Ok(out);
    };
    for (name, _) in params.iter() {
        if !allowed.contains(&name) {
            let shown: String = name.chars().take(64).collect();
            return Err(Problem::bad_request(format!(
                "Unknown query parameter {shown:?}; accepted: {}.",
                allowed.join(", ")
            )));
        }
        let values = params.all(name).unwrap_or_default();
        if values.len() > 1 {
            return Err(Problem::bad_request(format!(
                "Query parameter {name:?} may appear only once."
            )));
        }
        if let Some(v) = values.first() {
            out.insert(name.to_owned(), (*v).to_owned());
        }
    }
    Ok(out)
}

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

/// Top-level fields whose JSON numbers are read from their exact source text (money never
/// passes through a float).
pub const EXACT_NUMBER_FIELDS: &[&str] = &["declared_billing"];

/// A request body read once: the JSON object, and the exact source text of each numeric
/// [`EXACT_NUMBER_FIELDS`] entry in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonBody {
    pub doc: Map<String, Value>,
    exact: HashMap<String, String>,
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
        let repeated = RefCell::new(None);
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let parsed = Fields {
            repeated: &repeated,
        }
        .deserialize(&mut reader)
        .and_then(|body| reader.end().map(|()| body));
        let error = match parsed {
            Ok(body) => return Ok(body),
            Err(e) => e,
        };
        if serde_json::from_slice::<IgnoredAny>(bytes).is_err() {
            return Err(Problem::malformed_json());
        }
        // One name twice in an object is read differently by different parsers (the first,
        // the last, an error): refused, so that what was checked is what is stored.
        if let Some(path) = repeated.into_inner() {
            return Err(Problem::validation(vec![FieldError::new(
                path,
                "appears more than once in its object",
            )]));
        }
        Err(Problem::bad_request(if error.is_data() {
            // Valid JSON of another kind: say what is wanted.
            "The request body must be a JSON object."
        } else {
            // Valid JSON that no reader could take as meant: a number beyond a double's range
            // outside `declared_billing` (whose exact text is kept), a lone UTF-16 surrogate.
            "The request body holds a number out of range or an unpaired \\u escape."
        }))
    }

    /// Another document with the exact number texts of this one (a merge patch's result).
    pub fn with_doc(&self, doc: Map<String, Value>) -> JsonBody {
        JsonBody {
            doc,
            exact: self.exact.clone(),
        }
    }

    /// The exact text of the top-level field `key` when it is a JSON number and one of
    /// [`EXACT_NUMBER_FIELDS`].
    pub fn number_text(&self, key: &str) -> Option<&str> {
        self.exact.get(key).map(String::as_str)
    }
}

/// Where a repeated member name was found (`bank_accounts[1].agency`), once the parse that met
/// it has unwound; `None` while none was.
type Repeated = RefCell<Option<String>>;

/// Fails the parse on the repeated member `name` (at the top of the path, so far).
fn repeat<E: serde::de::Error>(repeated: &Repeated, name: &str) -> E {
    *repeated.borrow_mut() = Some(input::field_name(name));
    E::custom("a repeated member name")
}

/// Puts `segment` (`name` or `[i]`) in front of the path of a repeat found below it, if any.
fn under<'a, E>(
    repeated: &'a Repeated,
    segment: impl FnOnce() -> String + 'a,
) -> impl FnOnce(E) -> E + 'a {
    move |e| {
        if let Some(path) = repeated.borrow_mut().as_mut() {
            let dot = if path.starts_with('[') { "" } else { "." };
            *path = format!("{}{dot}{path}", segment());
        }
        e
    }
}

/// Reads the body's top-level object into a [`JsonBody`].
struct Fields<'a> {
    repeated: &'a Repeated,
}

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = JsonBody;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<JsonBody, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = JsonBody;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonBody, A::Error> {
        let mut exact = HashMap::new();
        let strict = || Strict {
            repeated: self.repeated,
        };
        let doc = members(&mut map, self.repeated, |key, map| {
            if !EXACT_NUMBER_FIELDS.contains(&key) {
                return map.next_value_seed(strict());
            }
            let raw: &RawValue = map.next_value()?;
            let text = raw.get();
            if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                exact.insert(key.to_owned(), text.to_owned());
                // Beyond a double's range (`1e400`) the largest double stands in: only the
                // exact text kept above is read as the amount.
                Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::from(f64::MAX)))
            } else {
                strict()
                    .deserialize(&mut serde_json::Deserializer::from_str(text))
                    .map_err(serde::de::Error::custom)
            }
        })?;
        Ok(JsonBody { doc, exact })
    }
}

/// The members of a JSON object, each value read by `value`; a name met twice fails the parse
/// (see [`repeat`]), and a repeat found inside a value gets the member's name on its path.
fn members<'de, A: MapAccess<'de>>(
    map: &mut A,
    repeated: &Repeated,
    mut value: impl FnMut(&str, &mut A) -> Result<Value, A::Error>,
) -> Result<Map<String, Value>, A::Error> {
    let mut members = Map::new();
    while let Some(key) = map.next_key::<String>()? {
        if members.contains_key(&key) {
            return Err(repeat(repeated, &key));
        }
        let read = value(&key, map).map_err(under(repeated, || input::field_name(&key)))?;
        members.insert(key, read);
    }
    Ok(members)
}

/// Reads any JSON value, as `serde_json::Value` does, but fails on an object that names a
/// member twice (which `Value` would silently keep the last of).
struct Strict<'a> {
    repeated: &'a Repeated,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let item = Strict {
                repeated: self.repeated,
            };
            let index = items.len();
            match seq
                .next_element_seed(item)
                .map_err(under(self.repeated, || format!("[{index}]")))?
            {
                Some(value) => items.push(value),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let repeated = self.repeated;
        members(&mut map, repeated, |_, map| {
            map.next_value_seed(Strict { repeated })
        })
        .map(Value::Object)
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

/// A parsed `If-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// The versions named by strong entity tags (weak ones never match, RFC 9110 §13.1.1).
    Versions(Vec<u64>),
}

impl IfMatch {
    /// `None` when the header is absent; 400 when it is not `*` or a comma-separated list of
    /// entity tags (RFC 9110: `"…"` or `W/"…"`, visible ASCII other than `"` inside; the
    /// OpenAPI contract states the same grammar).
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<IfMatch>, Problem> {
        let values: Vec<_> = headers.get_all(header::IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(None);
        }
        let bad = || {
            Problem::bad_request("If-Match must be \"*\" or a list of entity tags such as \"3\".")
        };
        let mut texts = Vec::with_capacity(values.len());
        for value in values {
            texts.push(value.to_str().map_err(|_| bad())?);
        }
        let text = texts.join(", ");
        if text == "*" {
            return Ok(Some(IfMatch::Any));
        }
        let etag_char = |c: u8| c == b'!' || (b'#'..=b'~').contains(&c) && c != b',';
        let mut versions = Vec::new();
        for piece in text.split(',') {
            let tag = piece.trim_matches(' ');
            let (weak, tag) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .ok_or_else(bad)?;
            if !inner.bytes().all(etag_char) {
                return Err(bad());
            }
            // A well-formed tag that this API never issued simply matches nothing.
            if let (false, Ok(v)) = (weak, inner.parse::<u64>()) {
                versions.push(v);
            }
        }
        Ok(Some(IfMatch::Versions(versions)))
    }

    pub fn matches(&self, version: u64) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Versions(v) => v.contains(&version),
        }
    }

    /// Whether the client pinned a version (as opposed to `*`).
    pub fn is_pinned(&self) -> bool {
        matches!(self, IfMatch::Versions(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn if_match(v: &str) -> Result<Option<IfMatch>, Problem> {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        IfMatch::from_headers(&h)
    }

    #[test]
    fn if_match_parses_lists_stars_and_weak_tags() {
        assert_eq!(IfMatch::from_headers(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match("*").unwrap(), Some(IfMatch::Any));
        assert_eq!(if_match("\"3\"").unwrap(), Some(IfMatch::Versions(vec![3])));
        assert_eq!(
            if_match("\"1\", \"2\"").unwrap(),
            Some(IfMatch::Versions(vec![1, 2]))
        );
        let weak = if_match("W/\"3\"").unwrap().unwrap();
        assert!(!weak.matches(3));
        assert!(!if_match("\"abc\"").unwrap().unwrap().matches(1));
        assert!(if_match("3").is_err());
        assert!(if_match("").is_err());
        assert!(if_match(" , ").is_err());
        assert!(if_match("*, \"1\"").is_err());
        assert!(if_match("\"a b\"").is_err());
        assert!(if_match("\"1\"\t,\"2\"").is_err());
        assert!(!if_match("\"a-b\"").unwrap().unwrap().matches(1));
        assert!(if_match("\"3").is_err());
    }

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
        let json = ["application/json"];
        let json_object = |req: &Request, accepted: &[&str]| JsonBody::read(req, accepted);
        let status = |r: Result<_, Problem>| r.map(|_| 200).unwrap_or_else(|p| p.status.as_u16());
        assert_eq!(
            status(json_object(&request(Some("application/json"), "{}"), &json)),
            200
        );
        assert_eq!(
            status(json_object(
                &request(Some("Application/JSON; charset=utf-8"), "{}"),
                &json
            )),
            200
        );
        assert_eq!(
            status(json_object(&request(Some("text/plain"), "{}"), &json)),
            415
        );
        assert_eq!(status(json_object(&request(None, "{}"), &json)), 415);
        assert_eq!(
            status(json_object(&request(Some("application/json"), "{"), &json)),
            400
        );
        assert_eq!(
            status(json_object(
                &request(Some("application/json"), "[1]"),
                &json
            )),
            400
        );
        assert_eq!(
            status(json_object(&request(Some("application/json"), ""), &json)),
            400
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(
            status(json_object(&request(Some("text/plain"), &big), &json)),
            413
        );
        let deep = "[".repeat(10_000);
        assert_eq!(
            status(json_object(
                &request(Some("application/json"), &deep),
                &json
            )),
            400
        );
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
