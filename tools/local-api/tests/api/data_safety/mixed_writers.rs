//! Writers of every kind at once on a few companies: whatever the interleaving, nothing is lost
//! or invented.

use std::collections::HashSet;
use std::sync::Arc;

use super::{assert_no_orphan_markers, with_cnpj, CNPJ, OTHER_CNPJ};
use crate::common::{canonical, every_page, header, Api, Request};
use companies_store::testing::MarkerAudit;
use companies_store::Store;
use reqwest::header::ETAG;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// One 2xx answer of a write to company `id`.
struct Answered {
    id: String,
    what: Written,
}

/// What a write answered.
enum Written {
    /// The company's document at this version.
    Company(u64, Value),
    /// At this version of the company, this account (by id) as answered, `None` once removed.
    Account(u64, String, Option<Value>),
    /// The company was deleted (the history's last entry).
    Deleted,
}

/// One writer's work: `steps` random writes on `ids`, some after reading the company to send its
/// version as `If-Match`. Returns every write answered 2xx.
async fn mixed_writer(api: Arc<Api>, ids: Vec<String>, seed: u64, steps: usize) -> Vec<Answered> {
    const NAMES: &[&str] = &[
        "Padaria São João",
        "Padaria Sao Jose",
        "Mercado Novo",
        "Pão & Cia",
    ];
    const CNPJS: &[&str] = &[CNPJ, OTHER_CNPJ, "04.902.979/0001-44"];
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut answered = Vec::new();
    for _ in 0..steps {
        let id = &ids[rng.usize(..ids.len())];
        let location = format!("/companies/{id}");
        let current = api.get(&location).await;
        if current.status() != StatusCode::OK {
            continue;
        }
        let current: Value = current.json().await.unwrap();
        let if_match = format!("\"{}\"", current["version"]);
        let if_match = rng.bool().then_some(if_match.as_str());
        let guarded = |request: Request| match if_match {
            Some(tag) => request.if_match(tag),
            None => request,
        };
        let accounts = current["bank_accounts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let request = match rng.u8(..20) {
            0..=4 => {
                let name = NAMES[rng.usize(..NAMES.len())];
                api.patch(&location)
                    .merge_patch(&json!({"company_name": name}))
            }
            5..=7 => {
                let cnpj = [json!(null), json!(CNPJS[rng.usize(..CNPJS.len())])];
                api.patch(&location)
                    .merge_patch(&json!({"tax_id": cnpj[rng.usize(..2)]}))
            }
            8 | 9 => {
                let billing = format!("{}.{:02}", rng.u32(..10_000), rng.u8(..100));
                api.patch(&location)
                    .merge_patch(&json!({"declared_billing": billing}))
            }
            10 => {
                let mut doc = with_cnpj(NAMES[rng.usize(..NAMES.len())], None);
                doc["bank_accounts"] =
                    json!([{"bank_code": "001", "agency": "1", "account_number": "10-1"}]);
                api.put(&location).json(&doc)
            }
            11..=15 => {
                let account = json!({"bank_code": "237", "agency": format!("{}", rng.u8(1..50)),
                                     "account_number": format!("{}-1", rng.u16(1..500))});
                api.post(format!("{location}/bank-accounts")).json(&account)
            }
            16..=18 if !accounts.is_empty() => {
                let account = accounts[rng.usize(..accounts.len())]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let path = format!("{location}/bank-accounts/{account}");
                let r = guarded(api.delete(&path)).await;
                if r.status() == StatusCode::NO_CONTENT {
                    let what = Written::Account(etag_version(&r), account, None);
                    answered.push(Answered {
                        id: id.clone(),
                        what,
                    });
                }
                continue;
            }
            19 if rng.u8(..4) == 0 => {
                let r = guarded(api.delete(&location)).await;
                if r.status() == StatusCode::NO_CONTENT {
                    let what = Written::Deleted;
                    answered.push(Answered {
                        id: id.clone(),
                        what,
                    });
                }
                continue;
            }
            _ => continue,
        };
        let r = guarded(request).await;
        let status = r.status();
        assert!(
            [200, 201, 404, 409, 412].contains(&status.as_u16()),
            "a write answered {status}"
        );
        if status.is_success() {
            let version = etag_version(&r);
            let body: Value = r.json().await.unwrap();
            let what = if body["company_name"].is_string() {
                Written::Company(version, body)
            } else {
                Written::Account(version, body["id"].as_str().unwrap().to_owned(), Some(body))
            };
            answered.push(Answered {
                id: id.clone(),
                what,
            });
        }
    }
    answered
}

fn etag_version(r: &reqwest::Response) -> u64 {
    header(r, ETAG).trim_matches('"').parse().unwrap()
}

/// Writers at once on a few companies, each write of a random kind (renames, CNPJ changes
/// among a few, billing, PUT, account adds and removals, deletes), half of them with `If-Match`.
/// Whatever interleaving the store allowed, nothing is lost or invented: every company's
/// history is contiguous and its patches rebuild exactly what each 2xx answer returned at the
/// version it claimed (two answers claiming one version answered the same state: a write that
/// changed nothing); every CNPJ marker belongs to the live company holding it and no two live
/// companies hold one; the name index is exactly that of the live companies.
async fn mixed_concurrent_writers_lose_nothing<S: Store + MarkerAudit>(api: Api, store: S) {
    let mut ids = Vec::new();
    for (name, cnpj) in [
        ("Empresa A", Some(CNPJ)),
        ("Empresa B", None),
        ("Empresa C", None),
    ] {
        ids.push(
            api.create(&with_cnpj(name, cnpj)).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let api = Arc::new(api);
    let tasks: Vec<_> = (0..6)
        .map(|w| tokio::spawn(mixed_writer(Arc::clone(&api), ids.clone(), w, 25)))
        .collect();
    let mut answered = Vec::new();
    for task in tasks {
        answered.extend(task.await.unwrap());
    }
    assert!(
        answered.len() > 30,
        "too few writes went through: {}",
        answered.len()
    );
    let mut live = Vec::new();
    for id in &ids {
        // Every version, oldest first, rebuilt from the patches.
        let path = format!("/companies/{id}/history?limit=100");
        let (mut entries, _) = every_page(&api, &path).await;
        entries.reverse();
        let mut states = vec![Value::Null];
        let mut state = json!({});
        for (n, entry) in entries.iter().enumerate() {
            assert_eq!(entry["version"], n as u64 + 1, "history of {id}");
            if entry["operation"] == "delete" {
                state = Value::Null;
            } else {
                json_patch::merge(&mut state, &entry["changes"]);
            }
            states.push(state.clone());
        }
        let mine: Vec<&Answered> = answered.iter().filter(|a| &a.id == id).collect();
        let deletes = mine
            .iter()
            .filter(|a| matches!(a.what, Written::Deleted))
            .count();
        assert!(deletes <= 1, "{id} deleted {deletes} times");
        let at = |version: &u64| {
            states.get(*version as usize).unwrap_or_else(|| {
                let end = entries.len();
                panic!("{id}: an answer claims version {version}, the history ends at {end}")
            })
        };
        for a in mine {
            match &a.what {
                Written::Company(v, body) => {
                    assert_eq!(at(v), &canonical(body), "{id} v{v}");
                }
                Written::Account(v, account, body) => {
                    let held = at(v)["bank_accounts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|x| x["id"] == account.as_str());
                    let answered = body.as_ref().map(canonical);
                    assert_eq!(held, answered.as_ref(), "{id} v{v} account {account}");
                }
                Written::Deleted => {
                    assert_eq!(entries.last().unwrap()["operation"], "delete", "{id}");
                }
            }
        }
        let r = api.get(format!("/companies/{id}")).await;
        if r.status() == StatusCode::OK {
            let company: Value = r.json().await.unwrap();
            assert_eq!(states.last(), Some(&canonical(&company)), "{id}");
            live.push(store.get(id.parse().unwrap()).await.unwrap().unwrap());
        } else {
            assert_eq!(states.last(), Some(&Value::Null), "{id}");
        }
    }
    assert_no_orphan_markers(&api, &store).await;
    let held: Vec<String> = live
        .iter()
        .filter_map(|c| c.tax_id.as_ref().map(|t| t.to_string()))
        .collect();
    assert_eq!(
        held.len(),
        held.iter().collect::<HashSet<_>>().len(),
        "{held:?}"
    );
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index(&live)
    );
}

e2e_with_store!(mixed_concurrent_writers_lose_nothing,);
