//! One request to both stores, and their answers compared once ids and times are given the
//! names the model knows them by.

use super::{Headers, Run};
use crate::common::dump_errors;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// What one request got from one store, ids and times replaced by what the model calls them.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    etag: Option<String>,
    location: Option<String>,
    replayed: Option<String>,
    body: Value,
}

impl Run {
    /// Sends the request to both stores, compares the answers, and returns both bodies as sent
    /// (index 0: in memory), once the ids they introduce have their aliases.
    pub(super) async fn both(
        &mut self,
        method: Method,
        paths: [String; 2],
        headers: Headers,
        body: Option<Value>,
        what: &str,
    ) -> (u16, [Value; 2]) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (mut raw, mut met) = (Vec::new(), None);
        for (s, path) in paths.iter().enumerate() {
            let (r, fault) = self
                .send(s, method.clone(), path, &headers, body.as_ref())
                .await;
            met = met.or(fault);
            let header = |name: &str| {
                r.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap_or("<not text>").to_owned())
            };
            let head = (
                r.status().as_u16(),
                header("etag"),
                header("location"),
                header("idempotent-replayed"),
            );
            let text = r.text().await.unwrap_or_default();
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            raw.push((head, body));
        }
        let (memory, dynamo) = (raw.remove(0), raw.remove(0));
        *self
            .seen
            .entry(format!("{what} {}", memory.0 .0))
            .or_default() += 1;
        let refused = matches!(memory.0 .0, 404 | 409 | 412);
        if refused && dynamo.0 .0 == 503 && met.is_some_and(|f| f.times > 1) {
            // Every answer to the refused write was lost: it may only be a 503 (nothing written).
            *self
                .seen
                .entry(format!("{what} unknown outcome"))
                .or_default() += 1;
            return (memory.0 .0, [memory.1, dynamo.1]);
        }
        if memory.0 .0 != dynamo.0 .0 {
            dump_errors();
        }
        self.pair_ids(&memory.1, &dynamo.1);
        let [a, b] = [&memory, &dynamo].map(|((status, etag, location, replayed), body)| Answer {
            status: *status,
            etag: etag.clone(),
            location: location.as_deref().map(|l| self.normalise_text(l)),
            replayed: replayed.clone(),
            body: self.normalise(body),
        });
        assert_eq!(
            a,
            b,
            "the stores answered {method} {} differently: {}",
            paths[0],
            self.context(what)
        );
        (a.status, [memory.1, dynamo.1])
    }

    /// Gives every id that appears in the answers for the first time (at the same place in
    /// both) one alias.
    fn pair_ids(&mut self, memory: &Value, dynamo: &Value) {
        match (memory, dynamo) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    if let Some(w) = b.get(k) {
                        self.pair_ids(v, w);
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                for (v, w) in a.iter().zip(b) {
                    self.pair_ids(v, w);
                }
            }
            (Value::String(a), Value::String(b))
                if Uuid::parse_str(a).is_ok()
                    && Uuid::parse_str(b).is_ok()
                    && !self.aliases.contains_key(a)
                    && !self.aliases.contains_key(b) =>
            {
                let alias = format!("<id {}>", self.aliases.len() / 2);
                self.aliases.insert(a.clone(), alias.clone());
                self.aliases.insert(b.clone(), alias);
            }
            _ => {}
        }
    }

    fn normalise_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (id, alias) in &self.aliases {
            if out.contains(id.as_str()) {
                out = out.replace(id.as_str(), alias);
            }
        }
        out
    }

    pub(super) fn normalise(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = match k.as_str() {
                            "created" | "updated" | "at" if v.is_string() => json!("<time>"),
                            "request_id" => json!("<request>"),
                            "next_cursor" if v.is_string() => json!("<cursor>"),
                            _ => self.normalise(v),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.normalise(v)).collect()),
            Value::String(s) => Value::String(self.normalise_text(s)),
            other => other.clone(),
        }
    }
}
