//! Finding companies by name over HTTP, on the in-memory store and on DynamoDB: word-prefix
//! search and the alphabetical list, their cursors and errors, and that a rename or delete is
//! reflected as soon as it answered, leaving no stale index entry behind.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::common::{concurrently, error_fields, every_page, header, names, problem, Api};
use companies_store::testing::{expected_name_index, MarkerAudit};
use companies_store::Store;
use reqwest::header::ETAG;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn company(name: &str) -> Value {
    json!({"company_name": name, "phone": "11978235674", "declared_billing": "1500.00"})
}

/// Every company a listing returns, following `next_cursor`, with the page sizes.
async fn walk(api: &Api, query: &str) -> (Vec<Value>, Vec<usize>) {
    every_page(api, &format!("/companies?{query}")).await
}

async fn search_pages_through_every_match_in_name_order<S: Store>(api: Api, _store: S) {
    let mut padarias = Vec::new();
    for (i, place) in [
        "São João",
        "Sao Jose",
        "Paulista",
        "Ipiranga",
        "Lapa",
        "Moóca",
    ]
    .iter()
    .cycle()
    .take(23)
    .enumerate()
    {
        let name = format!("Padaria {place} {i}");
        let created = api.create(&company(&name)).await;
        padarias.push((companies::search::name_key(&name), created));
    }
    for other in [
        "Açougue Central",
        "Mercado São João",
        "Transportes Paulistânia",
    ] {
        api.create(&company(other)).await;
    }
    padarias.sort_by(|a, b| (&a.0, a.1["id"].as_str()).cmp(&(&b.0, b.1["id"].as_str())));
    let expected: Vec<Value> = padarias.into_iter().map(|(_, c)| c).collect();
    let (found, sizes) = walk(&api, "q=PADARIA&limit=5").await;
    assert_eq!(found, expected, "every match once, by folded name then id");
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    // Accents and case on either side.
    assert_eq!(
        names(&walk(&api, "q=s%C3%A3o%20jo").await.0),
        [
            "Mercado São João",
            "Padaria São João 0",
            "Padaria São João 12",
            "Padaria São João 18",
            "Padaria São João 6",
            "Padaria Sao Jose 1",
            "Padaria Sao Jose 13",
            "Padaria Sao Jose 19",
            "Padaria Sao Jose 7",
        ]
    );
    assert_eq!(
        names(&walk(&api, "q=mooca+18").await.0),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&walk(&api, "q=mooca+17").await.0),
        ["Padaria Moóca 17"]
    );
    assert_eq!(
        names(&walk(&api, "q=paulist").await.0).len(),
        5,
        "four padarias and the transport company"
    );
    assert!(walk(&api, "q=ista").await.0.is_empty(), "prefixes only");
    // The alphabetical list holds everything, first the açougue.
    let (all, _) = walk(&api, "sort=name&limit=100").await;
    assert_eq!(all.len(), 26);
    assert_eq!(all[0]["company_name"], "Açougue Central");
    // The default listing is unchanged: newest first.
    let newest = walk(&api, "limit=100").await.0;
    assert_eq!(newest[0]["company_name"], "Transportes Paulistânia");
}

async fn bad_searches_are_400s<S: Store>(api: Api, _store: S) {
    for (query, field) in [
        ("q=", "q"),
        ("q=%20-%2F.", "q"),
        (&format!("q={}", "a".repeat(101)) as &str, "q"),
        ("sort=created", "sort"),
        ("q=padaria&limit=0", "limit"),
        ("sort=name&limit=101", "limit"),
    ] {
        let body = problem(api.get(format!("/companies?{query}")).await, 400).await;
        assert_eq!(error_fields(&body), [field], "{query}");
    }
    for query in [
        "q=padaria&tax_id=60746948000112",
        "sort=name&tax_id=60746948000112",
    ] {
        problem(api.get(format!("/companies?{query}")).await, 400).await;
    }
    for _ in 0..3 {
        api.create(&company("Padaria Central")).await;
    }
    // A cursor continues only the listing that issued it.
    let first = api.get("/companies?q=padaria&limit=1").read_json().await;
    let cursor = first["next_cursor"].as_str().unwrap();
    for other in [
        format!("q=central&limit=1&cursor={cursor}"),
        format!("sort=name&limit=1&cursor={cursor}"),
        format!("limit=1&cursor={cursor}"),
    ] {
        problem(api.get(format!("/companies?{other}")).await, 400).await;
    }
    let listing = api.get("/companies?limit=1").read_json().await;
    let list_cursor = listing["next_cursor"].as_str().unwrap();
    problem(
        api.get(format!("/companies?sort=name&cursor={list_cursor}"))
            .await,
        400,
    )
    .await;
    // A name that cannot be indexed is refused whole, with the reason.
    let words: Vec<String> = (0..26u8)
        .map(|i| format!("{}{i:02}x", char::from(b'a' + i)))
        .collect();
    let body = problem(
        api.post("/companies")
            .json(&company(&words.join(" ")))
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&body), ["company_name"]);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("too many distinct words"));
    // So is a name whose letters expand when folded beyond what a key holds (DynamoDB refused
    // its index entries: the create was a 503, retried for ever).
    let hangul = "각".repeat(150);
    let body = problem(api.post("/companies").json(&company(&hangul)).await, 400).await;
    assert_eq!(error_fields(&body), ["company_name"]);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("too long once folded"));
    let id = first["items"][0]["id"].as_str().unwrap();
    let body = problem(
        api.patch(format!("/companies/{id}"))
            .merge_patch(&json!({"company_name": hangul}))
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&body), ["company_name"]);
    assert_eq!(names(&walk(&api, "q=padaria").await.0).len(), 3);
}

async fn names_are_found_as_people_type_them<S: Store>(api: Api, _store: S) {
    for name in [
        "Cartório do 1º Ofício de Notas",
        "2ª Vara Cível Serviços",
        "ＡＢＣ Ｉｍｐｏｒｔａçãｏ",
        "Oﬁcina Flores",
    ] {
        api.create(&company(name)).await;
    }
    for (q, found) in [
        ("1o+oficio", &["Cartório do 1º Ofício de Notas"][..]),
        ("1%C2%BA", &["Cartório do 1º Ofício de Notas"]),
        ("2a+vara", &["2ª Vara Cível Serviços"]),
        ("abc+importacao", &["ＡＢＣ Ｉｍｐｏｒｔａçãｏ"]),
        ("oficina", &["Oﬁcina Flores"]),
        ("of", &["Cartório do 1º Ofício de Notas", "Oﬁcina Flores"]),
    ] {
        assert_eq!(names(&walk(&api, &format!("q={q}")).await.0), found, "{q}");
    }
    // Sorted by the folded name: "2a vara" before "abc" before "cartorio" before "oficina".
    assert_eq!(
        names(&walk(&api, "sort=name").await.0),
        [
            "2ª Vara Cível Serviços",
            "ＡＢＣ Ｉｍｐｏｒｔａçãｏ",
            "Cartório do 1º Ofício de Notas",
            "Oﬁcina Flores",
        ]
    );
}

async fn a_rename_is_found_by_its_new_name_once_it_answered<S: Store + MarkerAudit>(
    api: Api,
    store: S,
) {
    let c = api.create(&company("Padaria Velha")).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
    let r = api
        .patch(&location)
        .merge_patch(&json!({"company_name": "Mercado Novo"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(walk(&api, "q=velha").await.0.is_empty());
    assert_eq!(names(&walk(&api, "q=novo").await.0), ["Mercado Novo"]);
    let mut whole = company("Armazém Bom Preço");
    whole["phone"] = json!("11912345678");
    let r = api.put(&location).json(&whole).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(walk(&api, "q=mercado").await.0.is_empty());
    assert_eq!(
        names(&walk(&api, "q=armazem+preco").await.0),
        ["Armazém Bom Preço"]
    );
    let current = store.get(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        store.name_index().await.unwrap(),
        expected_name_index([&current])
    );
    let r = api.delete(&location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(walk(&api, "q=armazem").await.0.is_empty());
    assert!(walk(&api, "sort=name").await.0.is_empty());
    assert!(store.name_index().await.unwrap().is_empty());
}

async fn concurrent_renames_leave_no_stale_entry<S: Store + MarkerAudit>(api: Api, store: S) {
    let c = api.create(&company("Padaria Original")).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let api = Arc::new(api);
    let outcomes = concurrently(&api, 12, move |api, i| {
        let id = id.clone();
        async move {
            let r = api
                .patch(format!("/companies/{id}"))
                .merge_patch(&json!({"company_name": format!("Loja Renomeada {i}")}))
                .await;
            (r.status(), header(&r, ETAG))
        }
    })
    .await;
    // On a loaded machine a rename may lose every round (409) or run out of time (503); the
    // index must match the company whatever happened.
    assert!(outcomes.iter().any(|(s, _)| *s == StatusCode::OK));
    assert!(outcomes
        .iter()
        .all(|(s, _)| [200, 409, 503].contains(&s.as_u16())));
    let current = store
        .get(c["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.name_index().await.unwrap(),
        expected_name_index([&current])
    );
    let found = walk(&api, "q=loja").await.0;
    assert_eq!(names(&found), std::slice::from_ref(&current.company_name));
    assert!(walk(&api, "q=original").await.0.is_empty());
    let by_name: BTreeSet<String> = names(&walk(&api, "sort=name").await.0)
        .into_iter()
        .collect();
    assert_eq!(by_name, BTreeSet::from([current.company_name]));
}

e2e_with_store!(
    search_pages_through_every_match_in_name_order,
    bad_searches_are_400s,
    names_are_found_as_people_type_them,
    a_rename_is_found_by_its_new_name_once_it_answered,
    concurrent_renames_leave_no_stale_entry,
);
