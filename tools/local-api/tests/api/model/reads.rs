//! The reads of a sequence: a company, its history page by page, and every listing read to its
//! last page and held to the model.

use std::fmt::Write as _;

use super::{Known, Run};
use crate::common::dump_errors;
use companies::search;
use reqwest::Method;
use serde_json::Value;

impl Run {
    pub(super) async fn read(&mut self) {
        let Some(i) = self.some_company() else { return };
        let suffix = if self.rng.bool() { "" } else { "/history" };
        let mut paths = self.company_paths(i, suffix);
        if suffix.is_empty() {
            self.both(Method::GET, paths, Vec::new(), None, "get").await;
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
                .both(Method::GET, paths_now, Vec::new(), None, "history")
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
                let (r, _) = self.send(s, Method::GET, &path, &[], None).await;
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
            dump_errors();
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

    /// Every company, newest first, against the model.
    pub(super) async fn newest_first(&mut self, limit: usize) {
        let found = self.walk("", limit, "newest first").await;
        let expected: Vec<usize> = (0..self.companies.len())
            .rev()
            .filter(|&i| self.companies[i].live)
            .collect();
        assert_eq!(found, Some(expected), "{}", self.context("newest first"));
    }

    /// Every company, by name, against the model.
    pub(super) async fn all_by_name(&mut self, limit: usize) {
        let found = self.walk("sort=name", limit, "by name").await;
        let expected = self.by_name(|_| true);
        assert_eq!(found, Some(expected), "{}", self.context("by name"));
    }

    pub(super) async fn list(&mut self) {
        let limit = self.pick(&[1, 2, 3, 7, 20, 100]);
        match self.rng.u8(..6) {
            0 => self.newest_first(limit).await,
            1 => self.all_by_name(limit).await,
            2 => {
                let raw = self.tax_id();
                let paths = [0, 1].map(|_| format!("/companies?tax_id={}", encode(raw)));
                let (status, [memory, _]) = self
                    .both(Method::GET, paths, Vec::new(), None, "by CNPJ")
                    .await;
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
