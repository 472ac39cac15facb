//! The writes of a sequence: creates, changes, deletes and bank-account writes, each taken into
//! the model as the answers describe it.

use super::{Known, Run};
use reqwest::Method;
use serde_json::{json, Value};

impl Run {
    pub(super) fn company_paths(&self, i: usize, suffix: &str) -> [String; 2] {
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

    pub(super) async fn create(&mut self) {
        let mut doc = self.document();
        let headers = self.idempotency("create", &mut doc);
        let paths = ["/companies".to_owned(), "/companies".to_owned()];
        let (status, [memory, dynamo]) = self
            .both(Method::POST, paths, headers, Some(doc), "create")
            .await;
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

    pub(super) async fn change(&mut self) {
        let Some(i) = self.some_company() else { return };
        let headers = self.if_match(i);
        let (method, body) = match self.rng.u8(..6) {
            0 => (Method::PUT, self.document()),
            1 => (Method::PATCH, json!({"declared_billing": self.money()})),
            2 => {
                let tax_id = if self.rng.bool() {
                    json!(null)
                } else {
                    json!(self.tax_id())
                };
                (Method::PATCH, json!({"tax_id": tax_id}))
            }
            _ => (Method::PATCH, json!({"company_name": self.name()})),
        };
        let paths = self.company_paths(i, "");
        let (status, [memory, dynamo]) = self
            .both(method, paths, headers, Some(body), "change")
            .await;
        if status == 200 {
            self.learn(i, &memory, &dynamo);
        }
    }

    pub(super) async fn delete(&mut self) {
        let Some(i) = self.some_company() else { return };
        let headers = self.if_match(i);
        let paths = self.company_paths(i, "");
        let (status, _) = self
            .both(Method::DELETE, paths, headers, None, "delete")
            .await;
        if status == 204 {
            self.companies[i].live = false;
        }
    }

    pub(super) async fn account(&mut self) {
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
            (
                Method::POST,
                self.company_paths(i, "/bank-accounts"),
                Some(body),
            )
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
                (Method::PATCH, paths, Some(body))
            } else {
                (Method::DELETE, paths, None)
            }
        };
        let (status, _) = self.both(method, paths, headers, body, "account").await;
        if (200..300).contains(&status) {
            // The company's new state, accounts and version, as the store now has it.
            let paths = self.company_paths(i, "");
            let (_, [memory, dynamo]) = self
                .both(Method::GET, paths, Vec::new(), None, "read back")
                .await;
            self.learn(i, &memory, &dynamo);
        }
    }
}
