//! Random sequences of requests, sent to the local API on the in-memory store and on DynamoDB
//! side by side (the in-memory store is what `make run` and client authors develop against; a
//! difference between the two is a surprise in production). For every request both must answer
//! alike: status, `ETag`, `Location`, replay header and body, ids and times aside. And every
//! listing (newest first, by name, a search, by CNPJ), read to its last page, must return exactly
//! the companies the answers so far say exist, in the documented order: a reference model kept
//! from those answers, not from either store.
//!
//! A third sequence runs with DynamoDB behind the fault proxy, one request in three meeting a
//! transient fault (see [`TRANSIENT`]), which the answers must not show.
//!
//! The sequences are seeded: a failure names its seed and step. `MODEL_SEED=… MODEL_STEPS=…`
//! (and `MODEL_FAULTS=1` for faults) runs one sequence of your choice
//! (`scripts/dynamodb-local.sh cargo test -p local-api --test model`; without DynamoDB Local,
//! as in `make unit`, the in-memory store alone is held to the model, and the run with faults
//! is skipped).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use common::fault_proxy::{FaultProxy, Kind};
use common::Api;
use companies::search;
use companies_store::DynamoStore;
use serde_json::{json, Value};
use uuid::Uuid;

/// Words of names and queries: accents and case that fold alike, prefixes of one another, words
/// longer than an index term (10 characters), ordinals, digits, compatibility forms.
const WORDS: &[&str] = &[
    "São",
    "Sao",
    "SÃO",
    "Paulo",
    "Paulista",
    "Padaria",
    "Pão",
    "Pães",
    "Comércio",
    "Comercial",
    "Com",
    "Distribuidora",
    "Distribuição",
    "Participações",
    "1º",
    "Ofício",
    "oficio",
    "Cartório",
    "2024",
    "20",
    "Ａｂｃ",
    "abc",
    "d'Ávila",
    "Irmãos",
    "e",
    "Ltda",
    "LTDA.",
    "S/A",
    "Auto-Peças",
    "x",
];

/// Separators between words of a name or a query.
const GLUE: &[&str] = &[" ", " ", " ", " - ", ", ", " & ", "/"];

/// Valid CNPJs (one alphanumeric), punctuated as people type them.
const TAX_IDS: &[&str] = &[
    "60.746.948/0001-12",
    "11.222.333/0001-81",
    "12.ABC.345/01DE-35",
];

/// Codes of banks in the registry.
const BANKS: &[&str] = &["001", "237", "341", "260"];

/// Request headers: name, value.
type Headers = Vec<(&'static str, String)>;

/// A fault AWS produces now and then.
struct Transient {
    kind: Kind,
    /// The calls it applies to (`X-Amz-Target` suffix, "" = any).
    target: &'static str,
    /// How many of them in a row: 1, which the SDK's retry absorbs, or every attempt of a
    /// transaction, after which the store must find out whether its write landed.
    times: u32,
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

/// A company as the answers so far describe it.
struct Known {
    /// Its id on each store: in memory, on DynamoDB.
    ids: [String; 2],
    name: String,
    tax_id: Option<String>,
    /// Its accounts' ids on each store.
    accounts: Vec<[String; 2]>,
    version: u64,
    live: bool,
}

/// What one request got from one store, ids and times replaced by what the model calls them.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    etag: Option<String>,
    location: Option<String>,
    replayed: Option<String>,
    body: Value,
}

struct Run {
    apis: [Api; 2],
    /// Between the DynamoDB-backed API and DynamoDB, in the runs with faults.
    faults: Option<FaultProxy>,
    rng: fastrand::Rng,
    seed: u64,
    step: usize,
    companies: Vec<Known>,
    /// Every id either store has answered with → the name both share in comparisons.
    aliases: HashMap<String, String>,
    /// Idempotency keys used so far, with where and what they were first sent.
    keys: Vec<(String, String, Value)>,
    /// How many answers of each kind and status, and how many companies listings returned:
    /// printed at the end, to see what a sequence exercised.
    seen: BTreeMap<String, usize>,
}

impl Run {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(..items.len())]
    }

    fn context(&self, what: &str) -> String {
        format!(
            "seed {} step {} ({what}); rerun with MODEL_SEED={} MODEL_STEPS={}{}",
            self.seed,
            self.step,
            self.seed,
            self.step + 1,
            if self.faults.is_some() {
                " MODEL_FAULTS=1"
            } else {
                ""
            }
        )
    }

    fn name(&mut self) -> String {
        match self.rng.u8(..40) {
            0 => String::new(),
            1 => "  ".to_owned(),
            2 => "Ç".repeat(151),
            _ => {
                let mut name = self.pick(WORDS).to_owned();
                for _ in 0..self.rng.usize(..4) {
                    name.push_str(self.pick(GLUE));
                    name.push_str(self.pick(WORDS));
                }
                name
            }
        }
    }

    /// A CNPJ of [`TAX_IDS`], or now and then one whose check digits are wrong.
    fn tax_id(&mut self) -> &'static str {
        if self.rng.u8(..12) == 0 {
            "11.222.333/0001-82"
        } else {
            self.pick(TAX_IDS)
        }
    }

    /// A bank of [`BANKS`], or now and then a code no bank has.
    fn bank(&mut self) -> &'static str {
        if self.rng.u8(..12) == 0 {
            "999"
        } else {
            self.pick(BANKS)
        }
    }

    fn money(&mut self) -> Value {
        match self.rng.u8(..30) {
            0 => json!("-1.00"),
            1 => json!("1.234"),
            2 => json!(1500),
            _ => json!(format!(
                "{}.{:02}",
                self.rng.u32(..100_000),
                self.rng.u8(..100)
            )),
        }
    }

    fn new_account(&mut self) -> Value {
        json!({
            "bank_code": self.bank(),
            "agency": format!("{}", self.rng.u16(1..40)),
            "account_number": format!("{}-{}", self.rng.u16(100..140), self.rng.u8(..10)),
        })
    }

    fn document(&mut self) -> Value {
        let mut doc = json!({
            "company_name": self.name(),
            "phone": "11978235674",
            "declared_billing": self.money(),
        });
        if self.rng.u8(..3) == 0 {
            doc["tax_id"] = json!(self.tax_id());
        }
        let accounts: Vec<Value> = (0..self.rng.usize(..3))
            .map(|_| self.new_account())
            .collect();
        if !accounts.is_empty() {
            doc["bank_accounts"] = json!(accounts);
        }
        doc
    }

    /// A company the model knows (live or deleted), or none when there is none yet.
    fn some_company(&mut self) -> Option<usize> {
        if self.companies.is_empty() {
            return None;
        }
        let live: Vec<usize> = (0..self.companies.len())
            .filter(|&i| self.companies[i].live)
            .collect();
        Some(if live.is_empty() || self.rng.u8(..8) == 0 {
            self.rng.usize(..self.companies.len())
        } else {
            self.pick(&live)
        })
    }

    /// The headers of a write to company `i`: no `If-Match`, one with its current version or
    /// one with an older one.
    fn if_match(&mut self, i: usize) -> Headers {
        let version = self.companies[i].version;
        match self.rng.u8(..6) {
            0 => vec![("if-match", format!("\"{version}\""))],
            1 if version > 1 => vec![("if-match", format!("\"{}\"", version - 1))],
            _ => Vec::new(),
        }
    }

    /// Sends the request to both stores, compares the answers, and returns both bodies as sent
    /// (index 0: in memory), once the ids they introduce have their aliases.
    async fn both(
        &mut self,
        method: &str,
        paths: [String; 2],
        headers: Headers,
        body: Option<Value>,
        what: &str,
    ) -> (u16, [Value; 2]) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (mut raw, mut met) = (Vec::new(), None);
        for (s, path) in paths.iter().enumerate() {
            let (r, fault) = self.send(s, method, path, &headers, body.as_ref()).await;
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
            common::dump_errors();
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

    /// Sends one request to store `s` (0: in memory, 1: DynamoDB). In the runs with faults,
    /// one request in three to DynamoDB meets a transient fault on one of its calls: returned
    /// when the request met it in full.
    async fn send(
        &mut self,
        s: usize,
        method: &str,
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
        let r = self.apis[s].send_with(method, path, headers, body).await;
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

    fn normalise(&self, value: &Value) -> Value {
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

    fn company_paths(&self, i: usize, suffix: &str) -> [String; 2] {
        self.companies[i]
            .ids
            .clone()
            .map(|id| format!("/companies/{id}{suffix}"))
    }

    /// Takes what a company's answer (in memory) says into the model.
    fn learn(&mut self, i: usize, company: &Value, dynamo: &Value) {
        let known = &mut self.companies[i];
        known.name = company["company_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        known.tax_id = company["tax_id"].as_str().map(str::to_owned);
        known.version = company["version"].as_u64().unwrap_or(known.version);
        let ids = |c: &Value| -> Vec<String> {
            c["bank_accounts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        known.accounts = ids(company)
            .into_iter()
            .zip(ids(dynamo))
            .map(|(a, b)| [a, b])
            .collect();
    }

    /// Now and then an `Idempotency-Key` from a few shared by every create and account add
    /// (so a key comes back with its first request, with another body, or at another
    /// resource), and then, half the time, the body it was first sent with to `target`.
    fn idempotency(&mut self, target: &str, body: &mut Value) -> Headers {
        if self.rng.u8(..4) != 0 {
            return Vec::new();
        }
        let key = format!("model-{}-{}", self.seed, self.rng.usize(..4));
        match self.keys.iter().find(|(k, _, _)| *k == key) {
            Some((_, first, sent)) if first == target && self.rng.bool() => *body = sent.clone(),
            Some(_) => {}
            None => self
                .keys
                .push((key.clone(), target.to_owned(), body.clone())),
        }
        vec![("idempotency-key", key)]
    }

    async fn create(&mut self) {
        let mut doc = self.document();
        let headers = self.idempotency("create", &mut doc);
        let paths = ["/companies".to_owned(), "/companies".to_owned()];
        let (status, [memory, dynamo]) =
            self.both("POST", paths, headers, Some(doc), "create").await;
        if status == 201 {
            let ids = [&memory, &dynamo].map(|c| c["id"].as_str().unwrap_or_default().to_owned());
            if !self.companies.iter().any(|k| k.ids[0] == ids[0]) {
                self.companies.push(Known {
                    ids,
                    name: String::new(),
                    tax_id: None,
                    accounts: Vec::new(),
                    version: 1,
                    live: true,
                });
                let i = self.companies.len() - 1;
                self.learn(i, &memory, &dynamo);
            }
        }
    }

    async fn change(&mut self) {
        let Some(i) = self.some_company() else { return };
        let headers = self.if_match(i);
        let (method, body) = match self.rng.u8(..6) {
            0 => ("PUT", self.document()),
            1 => ("PATCH", json!({"declared_billing": self.money()})),
            2 => {
                let tax_id = if self.rng.bool() {
                    json!(null)
                } else {
                    json!(self.tax_id())
                };
                ("PATCH", json!({"tax_id": tax_id}))
            }
            _ => ("PATCH", json!({"company_name": self.name()})),
        };
        let paths = self.company_paths(i, "");
        let (status, [memory, dynamo]) = self
            .both(method, paths, headers, Some(body), "change")
            .await;
        if status == 200 {
            self.learn(i, &memory, &dynamo);
        }
    }

    async fn delete(&mut self) {
        let Some(i) = self.some_company() else { return };
        let headers = self.if_match(i);
        let paths = self.company_paths(i, "");
        let (status, _) = self.both("DELETE", paths, headers, None, "delete").await;
        if status == 204 {
            self.companies[i].live = false;
        }
    }

    async fn account(&mut self) {
        let Some(i) = self.some_company() else { return };
        let accounts = self.companies[i].accounts.clone();
        let mut headers = self.if_match(i);
        let choice = if accounts.is_empty() {
            0
        } else {
            self.rng.u8(..3)
        };
        let (method, paths, body) = if choice == 0 {
            let mut body = self.new_account();
            headers.extend(self.idempotency(&format!("account of {i}"), &mut body));
            ("POST", self.company_paths(i, "/bank-accounts"), Some(body))
        } else {
            let account = accounts[self.rng.usize(..accounts.len())].clone();
            let paths = [0, 1].map(|s| {
                format!(
                    "/companies/{}/bank-accounts/{}",
                    self.companies[i].ids[s], account[s]
                )
            });
            if choice == 1 {
                let body = match self.rng.u8(..3) {
                    0 => json!({"agency": format!("{}", self.rng.u16(1..40))}),
                    1 => json!({"bank_code": self.bank()}),
                    _ => json!({"account_number": format!("{}-1", self.rng.u16(100..140))}),
                };
                ("PATCH", paths, Some(body))
            } else {
                ("DELETE", paths, None)
            }
        };
        let (status, _) = self.both(method, paths, headers, body, "account").await;
        if (200..300).contains(&status) {
            // The company's new state, accounts and version, as the store now has it.
            let paths = self.company_paths(i, "");
            let (_, [memory, dynamo]) =
                self.both("GET", paths, Vec::new(), None, "read back").await;
            self.learn(i, &memory, &dynamo);
        }
    }

    async fn read(&mut self) {
        let Some(i) = self.some_company() else { return };
        let suffix = if self.rng.bool() { "" } else { "/history" };
        let mut paths = self.company_paths(i, suffix);
        if suffix.is_empty() {
            self.both("GET", paths, Vec::new(), None, "get").await;
            return;
        }
        // The history, page by page: newest first, one entry per version, none missing.
        let limit = self.rng.usize(1..6);
        let mut versions = Vec::new();
        for page in 0.. {
            assert!(page < 200, "{}", self.context("history does not end"));
            let paths_now = paths.clone().map(|p| {
                let sep = if p.contains('?') { '&' } else { '?' };
                format!("{p}{sep}limit={limit}")
            });
            let (status, [memory, dynamo]) = self
                .both("GET", paths_now, Vec::new(), None, "history")
                .await;
            if status != 200 {
                return;
            }
            let items = memory["items"].as_array().cloned().unwrap_or_default();
            assert!(items.len() <= limit, "{}", self.context("history page"));
            versions.extend(items.iter().filter_map(|e| e["version"].as_u64()));
            let cursors = [&memory, &dynamo].map(|b| b["next_cursor"].as_str().map(str::to_owned));
            match cursors {
                [Some(a), Some(b)] => {
                    paths = [0, 1].map(|s| {
                        format!(
                            "/companies/{}/history?cursor={}",
                            self.companies[i].ids[s],
                            [&a, &b][s]
                        )
                    });
                }
                _ => break,
            }
        }
        // A deleted company's history ends with its deletion, one version after the last the
        // model saw.
        let known = &self.companies[i];
        let last = known.version + u64::from(!known.live);
        let expected: Vec<u64> = (1..=last).rev().collect();
        assert_eq!(versions, expected, "{}", self.context("history versions"));
    }

    /// A listing read to its last page on each store: the companies it returned, in the
    /// model's numbering, once both stores returned the same ones (or refused it alike). Pages
    /// are not compared one by one: a search may end a page early (see the API reference), on
    /// one store and not the other.
    async fn walk(&mut self, query: &str, limit: usize, what: &str) -> Option<Vec<usize>> {
        let label = format!("{what}: {query} limit {limit}");
        let mut found: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        let mut refused: [Option<(u16, Value)>; 2] = [None, None];
        for s in 0..2 {
            let mut cursor: Option<String> = None;
            for page in 0.. {
                let endless = format!("{label}: more than 500 pages");
                assert!(page < 500, "{}", self.context(&endless));
                let mut path = format!("/companies?{query}&limit={limit}");
                if let Some(c) = &cursor {
                    let _ = write!(path, "&cursor={c}");
                }
                let (r, _) = self.send(s, "GET", &path, &[], None).await;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                if status != 200 {
                    refused[s] = Some((status, self.normalise(&body)));
                    break;
                }
                let items = body["items"].as_array().cloned().unwrap_or_default();
                assert!(items.len() <= limit, "{}", self.context(&label));
                for item in items {
                    let id = item["id"].as_str().unwrap_or_default();
                    let i = self.companies.iter().position(|k| k.ids[s] == id);
                    let i = i.unwrap_or_else(|| panic!("unknown {id}: {}", self.context(&label)));
                    found[s].push(i);
                }
                cursor = body["next_cursor"].as_str().map(str::to_owned);
                if cursor.is_none() {
                    break;
                }
            }
        }
        if refused[0] != refused[1] {
            common::dump_errors();
        }
        assert_eq!(refused[0], refused[1], "{}", self.context(&label));
        if let Some((status, _)) = &refused[0] {
            *self.seen.entry(format!("{what} {status}")).or_default() += 1;
            return None;
        }
        assert_eq!(found[0], found[1], "{}", self.context(&label));
        *self.seen.entry(format!("{what} 200")).or_default() += 1;
        *self
            .seen
            .entry(format!("{what}: companies found"))
            .or_default() += found[0].len();
        let [memory, _] = found;
        Some(memory)
    }

    /// The live companies in name order (folded name, then id: the ids of each store sort as
    /// their creation order, so one order holds for both).
    fn by_name(&self, keep: impl Fn(&Known) -> bool) -> Vec<usize> {
        let mut found: Vec<usize> = (0..self.companies.len())
            .filter(|&i| self.companies[i].live && keep(&self.companies[i]))
            .collect();
        found.sort_by_cached_key(|&i| (search::name_key(&self.companies[i].name), i));
        found
    }

    fn query(&mut self) -> String {
        match self.rng.u8(..25) {
            0 => String::new(),
            1 => "!!".to_owned(),
            2 => "zzz".to_owned(),
            _ => {
                // Half of the queries are made of words of a name the model knows, as written.
                let known: Vec<String> = match self.some_company() {
                    Some(i) if self.rng.bool() => self.companies[i]
                        .name
                        .split(|c: char| c.is_whitespace() || ",&/-".contains(c))
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                };
                let mut q = String::new();
                for n in 0..=self.rng.usize(..2) {
                    if n > 0 {
                        q.push_str(self.pick(GLUE));
                    }
                    let word: Vec<char> = if known.is_empty() {
                        self.pick(WORDS).chars().collect()
                    } else {
                        known[self.rng.usize(..known.len())].chars().collect()
                    };
                    let cut = self.rng.usize(1..=word.len());
                    q.extend(&word[..cut]);
                }
                q
            }
        }
    }

    /// Every company, newest first, against the model.
    async fn newest_first(&mut self, limit: usize) {
        let found = self.walk("", limit, "newest first").await;
        let expected: Vec<usize> = (0..self.companies.len())
            .rev()
            .filter(|&i| self.companies[i].live)
            .collect();
        assert_eq!(found, Some(expected), "{}", self.context("newest first"));
    }

    /// Every company, by name, against the model.
    async fn all_by_name(&mut self, limit: usize) {
        let found = self.walk("sort=name", limit, "by name").await;
        let expected = self.by_name(|_| true);
        assert_eq!(found, Some(expected), "{}", self.context("by name"));
    }

    async fn list(&mut self) {
        let limit = self.pick(&[1, 2, 3, 7, 20, 100]);
        match self.rng.u8(..6) {
            0 => self.newest_first(limit).await,
            1 => self.all_by_name(limit).await,
            2 => {
                let raw = self.tax_id();
                let paths = [0, 1].map(|_| format!("/companies?tax_id={}", encode(raw)));
                let (status, [memory, _]) =
                    self.both("GET", paths, Vec::new(), None, "by CNPJ").await;
                if status == 200 {
                    let digits: String = raw.chars().filter(char::is_ascii_alphanumeric).collect();
                    let expected: Vec<&str> = self
                        .companies
                        .iter()
                        .filter(|k| k.live && k.tax_id.as_deref() == Some(digits.as_str()))
                        .map(|k| k.ids[0].as_str())
                        .collect();
                    let found: Vec<&str> = memory["items"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|c| c["id"].as_str()).collect())
                        .unwrap_or_default();
                    assert_eq!(found, expected, "{}", self.context("by CNPJ"));
                }
            }
            _ => {
                let q = self.query();
                let query = format!("q={}", encode(&q));
                if let Some(found) = self.walk(&query, limit, "search").await {
                    let words = search::words(&q);
                    let expected = self.by_name(|k| {
                        let name = search::words(&k.name);
                        words
                            .iter()
                            .all(|w| name.iter().any(|n| n.starts_with(w.as_str())))
                    });
                    let label = format!("search {q:?}");
                    assert_eq!(found, expected, "{}", self.context(&label));
                }
            }
        }
    }

    async fn step(&mut self) {
        match self.rng.u8(..20) {
            0..=4 => self.create().await,
            5..=8 => self.change().await,
            9 => self.delete().await,
            10..=12 => self.account().await,
            13 | 14 => self.read().await,
            _ => self.list().await,
        }
    }
}

/// Percent-encodes a query parameter's value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn run(seed: u64, steps: usize, faults: bool) {
    let memory = Api::start(companies_store::MemoryStore::new()).await;
    // Without faults, the calls go through the recorder, which checks them against the
    // functions' IAM grants at the end.
    let recorder = common::recorder::Recorder::start().await;
    let (dynamo, proxy) = match companies_store::testing::dynamo_store("model").await {
        Some(store) if faults => {
            let proxy = FaultProxy::start().await;
            let through = DynamoStore::connect_to(store.table(), Some(&proxy.url)).await;
            (Api::start(through).await, Some(proxy))
        }
        Some(store) => (Api::start(recorder.store_for(&store).await).await, None),
        None if faults => return,
        // Without DynamoDB Local (`make unit`), the in-memory store is still held to the model
        // (and to a second instance of itself).
        None => (Api::start(companies_store::MemoryStore::new()).await, None),
    };
    let mut run = Run {
        apis: [memory, dynamo],
        faults: proxy,
        rng: fastrand::Rng::with_seed(seed),
        seed,
        step: 0,
        companies: Vec::new(),
        aliases: HashMap::new(),
        keys: Vec::new(),
        seen: BTreeMap::new(),
    };
    for step in 0..steps {
        run.step = step;
        run.step().await;
    }
    // Whatever the sequence left, both listings of every company agree with the model.
    run.step = steps;
    for limit in [7, 100] {
        run.newest_first(limit).await;
        run.all_by_name(limit).await;
    }
    eprintln!("seed {seed}: {:#?}", run.seen);
    common::assert_logs_masked();
    if !faults {
        recorder.assert_within_grants();
    }
}

/// `MODEL_SEED`, `MODEL_STEPS` (300 unless set) and `MODEL_FAULTS` (`1`: with faults).
fn explicit() -> Option<(u64, usize, bool)> {
    let seed = std::env::var("MODEL_SEED").ok()?.parse().ok()?;
    let steps = std::env::var("MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let faults = std::env::var("MODEL_FAULTS").is_ok_and(|v| v == "1");
    Some((seed, steps, faults))
}

#[tokio::test]
async fn the_stores_agree_with_each_other_and_the_model_seed_1() {
    let (seed, steps, faults) = explicit().unwrap_or((1, 300, false));
    run(seed, steps, faults).await;
}

#[tokio::test]
async fn the_stores_agree_with_each_other_and_the_model_seed_2() {
    if explicit().is_none() {
        run(2, 300, false).await;
    }
}

/// The same with DynamoDB behind the fault proxy: one request in three meets a fault that AWS
/// produces now and then (throttling, a 500 or 503, a connection closed before or after the
/// write committed, a reply lost, a transaction cancelled for a conflict or for throttling or
/// still in progress when retried, a batch read left wholly or partly unprocessed), on one of
/// its calls. Each must be absorbed: the answers stay
/// those of the in-memory store, which meets no fault.
#[tokio::test]
async fn the_stores_agree_through_transient_faults_seed_3() {
    if explicit().is_none() {
        run(3, 150, true).await;
    }
}
