//! End-to-end: the data-safety promises — idempotent creates, one company per CNPJ, and no lost
//! or duplicated write under races — on the in-memory store and on DynamoDB (where the races
//! are real: many writers at once against DynamoDB Local).

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use common::{acme, concurrently, error_fields, header, problem, Api};
use companies_store::testing::MarkerAudit;
use companies_store::Store;
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CNPJ: &str = "60.746.948/0001-12";
const CNPJ_DIGITS: &str = "60746948000112";
const OTHER_CNPJ: &str = "12.ABC.345/01DE-35";

fn with_cnpj(name: &str, cnpj: Option<&str>) -> Value {
    let mut body = acme();
    body["company_name"] = json!(name);
    if let Some(c) = cnpj {
        body["tax_id"] = json!(c);
    }
    body
}

async fn all_companies(api: &Api) -> Vec<Value> {
    let page: Value = api.get("/companies?limit=100").await.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Every marker points at a live company holding that CNPJ, and every CNPJ has its marker.
async fn assert_no_orphan_markers<S: MarkerAudit>(api: &Api, store: &S) {
    let markers: BTreeSet<(String, String)> = store
        .tax_id_markers()
        .await
        .unwrap()
        .into_iter()
        .map(|(c, id)| (c, id.to_string()))
        .collect();
    let held: BTreeSet<(String, String)> = all_companies(api)
        .await
        .iter()
        .filter_map(|c| {
            Some((
                c["tax_id"].as_str()?.to_owned(),
                c["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    assert_eq!(markers, held);
}

async fn idempotency_key_replays_the_first_answer<S: Store + MarkerAudit>(api: Api, _store: S) {
    let key = [("idempotency-key", "create-acme-1")];
    let body = with_cnpj("Acme", Some(CNPJ));
    let first = api.send_with("POST", "/companies", &key, Some(&body)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let (location, etag) = (header(&first, LOCATION), header(&first, ETAG));
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    for k in ["create-acme-1", "\"create-acme-1\""] {
        let again = api
            .send_with("POST", "/companies", &[("idempotency-key", k)], Some(&body))
            .await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(
            (header(&again, LOCATION), header(&again, ETAG)),
            (location.clone(), etag.clone())
        );
        assert_eq!(
            header(
                &again,
                reqwest::header::HeaderName::from_static("idempotent-replayed")
            ),
            "true"
        );
        assert_eq!(again.text().await.unwrap(), first_body);
    }
    // Same key, other body: refused, nothing written.
    let other = with_cnpj("Other", None);
    problem(
        api.send_with("POST", "/companies", &key, Some(&other))
            .await,
        422,
    )
    .await;
    assert_eq!(all_companies(&api).await.len(), 1);
    // Bad keys are a 400.
    for bad in ["", "has space", &"k".repeat(256)] {
        problem(
            api.send_with(
                "POST",
                "/companies",
                &[("idempotency-key", bad)],
                Some(&other),
            )
            .await,
            400,
        )
        .await;
    }
    // A request that failed validation stores nothing: the key is still free.
    let invalid = json!({"company_name": "", "phone": "1", "declared_billing": 1});
    let k2 = [("idempotency-key", "second")];
    problem(
        api.send_with("POST", "/companies", &k2, Some(&invalid))
            .await,
        400,
    )
    .await;
    assert_eq!(
        api.send_with("POST", "/companies", &k2, Some(&other))
            .await
            .status(),
        StatusCode::CREATED
    );

    // Bank account adds too.
    let id = location.rsplit('/').next().unwrap().to_owned();
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    let path = format!("/companies/{id}/bank-accounts");
    let k3 = [("idempotency-key", "add-account")];
    let a1 = api.send_with("POST", &path, &k3, Some(&account)).await;
    assert_eq!(a1.status(), StatusCode::CREATED);
    let a1_location = header(&a1, LOCATION);
    let a2 = api.send_with("POST", &path, &k3, Some(&account)).await;
    assert_eq!(
        (a2.status(), header(&a2, LOCATION)),
        (StatusCode::CREATED, a1_location)
    );
    let company: Value = api.get(&location).await.json().await.unwrap();
    assert_eq!(company["bank_accounts"].as_array().unwrap().len(), 1);
    assert_eq!(company["version"], 2);
}

async fn concurrent_creates_with_one_key_create_one_company<S: Store + MarkerAudit>(
    api: Api,
    _store: S,
) {
    let api = Arc::new(api);
    let outcomes = concurrently(&api, 20, |api, _| async move {
        let r = api
            .send_with(
                "POST",
                "/companies",
                &[("idempotency-key", "race")],
                Some(&acme()),
            )
            .await;
        (r.status().as_u16(), header(&r, LOCATION))
    })
    .await;
    let mut locations = HashSet::new();
    for (status, location) in outcomes {
        assert!(status == 201 || status == 409, "{status}");
        if status == 201 {
            locations.insert(location);
        }
    }
    assert_eq!(
        locations.len(),
        1,
        "every success names the same company: {locations:?}"
    );
    assert_eq!(all_companies(&api).await.len(), 1);
}

/// Requests that share one Idempotency-Key are one request: a twin that lost the race gets the
/// winner's answer (or the documented 409 "in progress"), never a conflict the winner caused.
async fn twins_with_one_key_never_conflict_with_each_other<S: Store + MarkerAudit>(
    api: Api,
    store: S,
) {
    let api = Arc::new(api);
    let locations = twins(&api, "/companies", "twins", with_cnpj("Twins", Some(CNPJ))).await;
    assert_eq!(locations.len(), 1, "{locations:?}");
    let location = locations.into_iter().next().unwrap();
    assert_eq!(all_companies(&api).await.len(), 1);
    assert_no_orphan_markers(&api, &store).await;

    // The same for one bank account added by twins.
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    let path = format!("{location}/bank-accounts");
    let accounts = twins(&api, &path, "twin-account", account).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let company: Value = api.get(&location).await.json().await.unwrap();
    assert_eq!(company["bank_accounts"].as_array().unwrap().len(), 1);
    assert_eq!(company["version"], 2);
}

/// 20 concurrent POSTs of `body` to `path` with the key `key`: the `Location`s of the 201s
/// (replays included). Every other answer must be the documented 409 "in progress".
async fn twins(api: &Arc<Api>, path: &str, key: &'static str, body: Value) -> HashSet<String> {
    let path = path.to_owned();
    let outcomes = concurrently(api, 20, move |api, _| {
        let (body, path) = (body.clone(), path.clone());
        async move {
            let r = api
                .send_with("POST", &path, &[("idempotency-key", key)], Some(&body))
                .await;
            if r.status() == StatusCode::CREATED {
                return Some(header(&r, LOCATION));
            }
            let problem = problem(r, 409).await;
            assert_eq!(
                problem["type"],
                "urn:companies:problem:idempotency-key-in-use"
            );
            None
        }
    })
    .await;
    outcomes.into_iter().flatten().collect()
}

/// 50 concurrent PATCHes without If-Match: each lands, or says it may not have (a 409 after
/// losing every retry to the others, or a 503 when the request's time budget ran out on a
/// loaded machine); versions 1..=N are contiguous with one history entry each, every 200 is
/// among them, and replaying the entries' patches yields the final company.
async fn fifty_concurrent_patches_leave_a_contiguous_history<S: Store + MarkerAudit>(
    api: Api,
    _store: S,
) {
    let api = Arc::new(api);
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let target = id.clone();
    let outcomes = concurrently(&api, 50, move |api, i| {
        let id = target.clone();
        async move {
            // Amounts none of which is the company's (10.00): each patch is a change.
            let r = api
                .patch(&id, &json!({"declared_billing": format!("{i}.01")}), None)
                .await;
            match r.status() {
                StatusCode::OK => true,
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(r.headers()["retry-after"], "1");
                    false
                }
                _ => {
                    let body = problem(r, 409).await;
                    assert_eq!(body["type"], "urn:companies:problem:edit-conflict");
                    false
                }
            }
        }
    })
    .await;
    let landed = outcomes.iter().filter(|ok| **ok).count() as u64;
    assert!(landed > 0, "none of 50 landed");
    let company: Value = api
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let version = company["version"].as_u64().unwrap();
    assert!(
        version > landed,
        "every 200 is a version: {version} vs {landed}"
    );
    let page: Value = api
        .get(&format!("/companies/{id}/history?limit=100"))
        .await
        .json()
        .await
        .unwrap();
    let mut entries = page["items"].as_array().unwrap().clone();
    entries.reverse();
    let versions: Vec<u64> = entries
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=version).collect::<Vec<_>>());
    let mut state = json!({});
    for entry in &entries {
        json_patch::merge(&mut state, &entry["changes"]);
    }
    assert_eq!(state["declared_billing"], company["declared_billing"]);
    assert_eq!(state["company_name"], company["company_name"]);
}

async fn one_company_per_cnpj<S: Store + MarkerAudit>(api: Api, store: S) {
    let a = api.create(&with_cnpj("A", Some(CNPJ))).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    let p = problem(api.post(&with_cnpj("B", Some(CNPJ_DIGITS))).await, 409).await;
    assert_eq!(error_fields(&p), ["tax_id"]);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains(&a_id));

    let b = api.create(&with_cnpj("B", Some(OTHER_CNPJ))).await;
    let b_id = b["id"].as_str().unwrap().to_owned();
    problem(api.patch(&b_id, &json!({"tax_id": CNPJ}), None).await, 409).await;
    problem(api.put(&b_id, &with_cnpj("B", Some(CNPJ)), None).await, 409).await;
    let unchanged: Value = api
        .get(&format!("/companies/{b_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, b, "a refused update writes nothing");

    // Lookup through the marker, in any punctuation.
    for form in [CNPJ, CNPJ_DIGITS] {
        let found: Value = api
            .get(&format!("/companies?tax_id={form}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(found["items"], json!([a]));
        assert_eq!(found["next_cursor"], Value::Null);
    }
    problem(api.get("/companies?tax_id=60746948000113").await, 400).await;
    problem(
        api.get(&format!("/companies?tax_id={CNPJ_DIGITS}&limit=5"))
            .await,
        400,
    )
    .await;

    // Clearing A's CNPJ frees it for B; deleting B frees it again.
    assert_eq!(
        api.patch(&a_id, &json!({"tax_id": null}), None)
            .await
            .status(),
        StatusCode::OK
    );
    let none: Value = api
        .get(&format!("/companies?tax_id={CNPJ_DIGITS}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]));
    assert_eq!(
        api.patch(&b_id, &json!({"tax_id": CNPJ}), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        api.delete(&b_id, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.patch(&a_id, &json!({"tax_id": CNPJ}), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_no_orphan_markers(&api, &store).await;
    assert_eq!(
        store
            .find_by_tax_id(&companies::Cnpj::parse(CNPJ).unwrap())
            .await
            .unwrap()
            .unwrap()
            .to_string(),
        a_id
    );
}

async fn fifty_concurrent_creates_with_one_cnpj<S: Store + MarkerAudit>(api: Api, store: S) {
    let api = Arc::new(api);
    let statuses = concurrently(&api, 50, |api, i| async move {
        api.post(&with_cnpj(&format!("C{i}"), Some(CNPJ)))
            .await
            .status()
            .as_u16()
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(all_companies(&api).await.len(), 1);
    assert_no_orphan_markers(&api, &store).await;
}

async fn cnpj_churn_leaves_no_orphan_marker<S: Store + MarkerAudit>(api: Api, store: S) {
    let cnpjs = [CNPJ, OTHER_CNPJ, "00.000.000/0001-91", "04.902.979/0001-44"];
    let api = Arc::new(api);
    concurrently(&api, 24, |api, i| async move {
        let r = api
            .post(&with_cnpj(&format!("C{i}"), Some(cnpjs[i % cnpjs.len()])))
            .await;
        if r.status() != StatusCode::CREATED {
            return;
        }
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let _ = api
            .patch(&id, &json!({"tax_id": cnpjs[(i + 1) % cnpjs.len()]}), None)
            .await;
        if i % 3 == 0 {
            let _ = api.patch(&id, &json!({"tax_id": null}), None).await;
        }
        if i % 2 == 0 {
            let _ = api.delete(&id, None).await;
        }
    })
    .await;
    assert_no_orphan_markers(&api, &store).await;
}

async fn fifty_patches_with_one_if_match_let_exactly_one_win<S: Store + MarkerAudit>(
    api: Api,
    _store: S,
) {
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let api = Arc::new(api);
    let statuses = concurrently(&api, 50, |api, i| {
        let id = id.clone();
        async move {
            let patch = json!({"company_name": format!("writer {i}")});
            api.patch(&id, &patch, Some("\"1\""))
                .await
                .status()
                .as_u16()
        }
    })
    .await;
    let successes = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(successes, 1, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        49,
        "{statuses:?}"
    );
    let now: Value = api
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["version"].as_u64().unwrap(), successes as u64 + 1);
}

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
        let current = api.get(&format!("/companies/{id}")).await;
        if current.status() != StatusCode::OK {
            continue;
        }
        let current: Value = current.json().await.unwrap();
        let if_match = format!("\"{}\"", current["version"]);
        let if_match = rng.bool().then_some(if_match.as_str());
        let accounts = current["bank_accounts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let r = match rng.u8(..20) {
            0..=4 => {
                let name = NAMES[rng.usize(..NAMES.len())];
                api.patch(id, &json!({"company_name": name}), if_match)
                    .await
            }
            5..=7 => {
                let cnpj = [json!(null), json!(CNPJS[rng.usize(..CNPJS.len())])];
                api.patch(id, &json!({"tax_id": cnpj[rng.usize(..2)]}), if_match)
                    .await
            }
            8 | 9 => {
                let billing = format!("{}.{:02}", rng.u32(..10_000), rng.u8(..100));
                api.patch(id, &json!({"declared_billing": billing}), if_match)
                    .await
            }
            10 => {
                let mut doc = with_cnpj(NAMES[rng.usize(..NAMES.len())], None);
                doc["bank_accounts"] =
                    json!([{"bank_code": "001", "agency": "1", "account_number": "10-1"}]);
                api.put(id, &doc, if_match).await
            }
            11..=15 => {
                let account = json!({"bank_code": "237", "agency": format!("{}", rng.u8(1..50)),
                                     "account_number": format!("{}-1", rng.u16(1..500))});
                let headers: Vec<(&str, &str)> =
                    if_match.iter().map(|m| ("if-match", *m)).collect();
                api.send_with(
                    "POST",
                    &format!("/companies/{id}/bank-accounts"),
                    &headers,
                    Some(&account),
                )
                .await
            }
            16..=18 if !accounts.is_empty() => {
                let account = accounts[rng.usize(..accounts.len())]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let path = format!("/companies/{id}/bank-accounts/{account}");
                let r = api.send("DELETE", &path, None, None, if_match).await;
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
                let r = api.delete(id, if_match).await;
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
        let (mut entries, _) = common::every_page(&api, &path).await;
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
                    assert_eq!(at(v), &common::canonical(body), "{id} v{v}");
                }
                Written::Account(v, account, body) => {
                    let held = at(v)["bank_accounts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|x| x["id"] == account.as_str());
                    let answered = body.as_ref().map(common::canonical);
                    assert_eq!(held, answered.as_ref(), "{id} v{v} account {account}");
                }
                Written::Deleted => {
                    assert_eq!(entries.last().unwrap()["operation"], "delete", "{id}");
                }
            }
        }
        let r = api.get(&format!("/companies/{id}")).await;
        if r.status() == StatusCode::OK {
            let company: Value = r.json().await.unwrap();
            assert_eq!(states.last(), Some(&common::canonical(&company)), "{id}");
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

e2e_with_store!(
    idempotency_key_replays_the_first_answer,
    concurrent_creates_with_one_key_create_one_company,
    twins_with_one_key_never_conflict_with_each_other,
    fifty_concurrent_patches_leave_a_contiguous_history,
    one_company_per_cnpj,
    fifty_concurrent_creates_with_one_cnpj,
    cnpj_churn_leaves_no_orphan_marker,
    fifty_patches_with_one_if_match_let_exactly_one_win,
    mixed_concurrent_writers_lose_nothing,
);
