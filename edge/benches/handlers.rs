//! Handler overhead, event in → response out, on the in-memory store (no database): parsing the
//! API Gateway event, routing, validation, the store call and serialising the response.
//! `make bench` runs it; results land in target/criterion and BENCHMARKS.md. The events are
//! bench/events/ (the create event carries no CNPJ, so repeated creates do not clash).

use std::hint::black_box;

use companies::{input, now, Company};
use companies_edge::http::IntoResponse;
use companies_edge::operations::Handler;
use companies_edge::routes;
use companies_store::{CompanyCreator, MemoryStore};
use criterion::{criterion_group, criterion_main, Criterion};

fn event(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../bench/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn handlers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let get = event("get-company");
    let id = serde_json::from_str::<serde_json::Value>(&get).unwrap()["pathParameters"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let doc = serde_json::json!({"company_name": "Bench", "phone": "11978235674", "declared_billing": 1,
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "12431243"}]});
    let mut seed = Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
    seed.id = id;
    rt.block_on(store.create(&seed, None, None)).unwrap();

    for (name, handler) in [
        ("get-company", Handler::GetCompany),
        ("create-company", Handler::CreateCompany),
    ] {
        let text = event(name);
        c.bench_function(name, |b| {
            b.iter(|| {
                let request = lambda_http::request::from_str(black_box(&text)).unwrap();
                let (response, _) = rt
                    .block_on(routes::dispatch(&store, handler, request))
                    .into_parts();
                assert!(response.status().is_success());
                response
            })
        });
    }
}

criterion_group!(benches, handlers);
criterion_main!(benches);
