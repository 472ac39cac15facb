//! In-process handler overhead (event in → response out) on the in-memory store, and seeding
//! the DynamoDB table the runtime benchmarks read from.

use std::time::Instant;

use companies::{input, now, Audit, ChangeKind, Company};
use companies_edge::http::IntoResponse;
use companies_edge::routes::{self, Resolved, Route};
use companies_store::{CompanyCreator, DynamoStore, MemoryStore, StoreError};
use serde_json::json;

use crate::{flag, percentile};

/// The company a sample event names (its `pathParameters.id`), at version 1.
fn seed_company(event: &str) -> Result<Option<Company>, String> {
    let v: serde_json::Value = serde_json::from_str(event).map_err(|e| e.to_string())?;
    let Some(id) = v["pathParameters"]["id"].as_str() else {
        return Ok(None);
    };
    let doc = json!({
        "company_name": "Benchmark Ltda", "phone": "11978235674", "declared_billing": "1235.69",
        "address": {"street": "Av. Paulista", "number": "1000", "city": "São Paulo", "state": "SP",
                    "postal_code": "01310-100"},
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "12431243"}]
    });
    let mut company = Company::create(
        input::company(doc.as_object().ok_or("bad seed")?).map_err(|e| format!("{e:?}"))?,
        now(),
    );
    company.id = id.parse().map_err(|e| format!("{e}"))?;
    // An event naming an account (`PATCH`/`DELETE …/bank-accounts/{account_id}`) finds it.
    if let Some(account) = v["pathParameters"]["account_id"].as_str() {
        if let Some(first) = company.bank_accounts.first_mut() {
            first.id = account.parse().map_err(|e| format!("{e}"))?;
        }
    }
    Ok(Some(company))
}

/// `seed --event F`: creates the table (if missing) and the company the event names.
pub async fn seed(args: &[String]) -> Result<String, String> {
    let path: String = flag(args, "--event", String::new())?;
    let event = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let store = DynamoStore::from_env()?;
    store.ensure_table().await.map_err(|e| e.to_string())?;
    seed_event(&store, &event).await?;
    Ok(json!({"seeded": path}).to_string())
}

/// Writes the company `event` names, with its first history entry as the API writes it,
/// unless it exists already.
pub async fn seed_event(store: &DynamoStore, event: &str) -> Result<(), String> {
    let Some(company) = seed_company(event)? else {
        return Ok(());
    };
    let entry = Audit {
        operation: ChangeKind::Create,
        actor: "bench".into(),
        request_id: "seed".into(),
        lambda_request_id: None,
    }
    .created(&company);
    match store.create(&company, None, Some(&entry)).await {
        Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The company id a sample event names (`pathParameters.id`), if any.
pub fn company_id(event: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(event).ok()?;
    v["pathParameters"]["id"].as_str().map(str::to_owned)
}

/// The route a sample event's method and path resolve to.
fn route_of(event: &str) -> Result<Route, String> {
    let probe = lambda_http::request::from_str(event).map_err(|e| e.to_string())?;
    match routes::resolve(probe.method().as_str(), probe.uri().path()) {
        Resolved::Found(route, _) => Ok(route),
        _ => Err("the event matches no route".into()),
    }
}

/// `overhead --event F --iterations N`: times N calls of the event's handler in process.
pub async fn run(args: &[String]) -> Result<String, String> {
    let path: String = flag(args, "--event", String::new())?;
    let iterations: usize = flag(args, "--iterations", 10_000)?;
    let event = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let store = MemoryStore::new();
    if let Some(company) = seed_company(&event)? {
        store
            .create(&company, None, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let route = route_of(&event)?;
    let mut samples = Vec::with_capacity(iterations);
    let mut first = None;
    let mut status = 0;
    for i in 0..iterations + iterations / 10 {
        // Parsing the event is part of the overhead: the runtime hands the handler raw JSON.
        let started = Instant::now();
        let request = lambda_http::request::from_str(&event).map_err(|e| e.to_string())?;
        let (response, _) = routes::dispatch(&store, route.handler, request)
            .await
            .into_parts();
        let took = started.elapsed().as_secs_f64() * 1e6;
        status = response.status().as_u16();
        first.get_or_insert(took);
        if i >= iterations / 10 {
            samples.push(took); // the first tenth warms caches and is not counted
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(json!({
        "event": path,
        "function": route.function,
        "status": status,
        "iterations": iterations,
        "first_us": first,
        "p50_us": percentile(&samples, 50.0),
        "p99_us": percentile(&samples, 99.0),
        "max_us": samples.last(),
    })
    .to_string())
}

/// `probe --event F`: where a first invocation's time goes, in one process, on the DynamoDB
/// store of the environment: building the client, the event's handler once (the process's
/// one-time work, a new connection, the database), again (the database alone), then on a second
/// client (a new connection, without the process's one-time work). `{{n}}` in the event becomes
/// a number unique to each call, as in `run`.
pub async fn probe(args: &[String]) -> Result<String, String> {
    let path: String = flag(args, "--event", String::new())?;
    let event = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let route = route_of(&event)?;
    let nonce = std::process::id();
    let call = |store: DynamoStore, n: u32| {
        let event = event.replace("{{n}}", &format!("{nonce}{n:03}"));
        async move {
            let request = lambda_http::request::from_str(&event).map_err(|e| e.to_string())?;
            let started = Instant::now();
            let (response, _) = routes::dispatch(&store, route.handler, request)
                .await
                .into_parts();
            Ok::<_, String>((
                started.elapsed().as_secs_f64() * 1e3,
                response.status().as_u16(),
            ))
        }
    };
    let t = Instant::now();
    let store = DynamoStore::from_env()?;
    let build = t.elapsed().as_secs_f64() * 1e3;
    let (first, status) = call(store.clone(), 1).await?;
    let (second, _) = call(store, 2).await?;
    let (other_first, _) = call(DynamoStore::from_env()?, 3).await?;
    Ok(json!({
        "function": route.function, "status": status, "client_ms": build,
        "first_call_ms": first, "second_call_ms": second, "new_client_first_call_ms": other_first,
    })
    .to_string())
}
