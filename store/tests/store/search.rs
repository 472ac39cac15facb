//! The name index: searches match word prefixes in name order, pages are complete, and a
//! rename or delete moves the company in the index without leaving a stale entry.

use super::*;

/// Every company `query` lists, page by page of `limit`, with the page sizes.
pub async fn walk_by_name<S: Store>(
    store: &S,
    query: &NameQuery,
    limit: usize,
) -> (Vec<Company>, Vec<usize>) {
    let (mut all, mut sizes, mut after) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let page = store.by_name(query, limit, after.as_deref()).await.unwrap();
        sizes.push(page.items.len());
        all.extend(page.items);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return (all, sizes),
        }
    }
}

fn search(q: &str) -> NameQuery {
    NameQuery::Matching(Search::parse(q).unwrap())
}

fn names(companies: &[Company]) -> Vec<&str> {
    companies.iter().map(|c| c.company_name.as_str()).collect()
}

pub async fn search_matches_word_prefixes_in_name_order<S: Store + MarkerAudit>(store: S) {
    let mut created = Vec::new();
    for name in [
        "Transportes Sao Jose",
        "Padaria São João Ltda",
        "Padaria Paulista",
        "AÇOUGUE DO ZÉ",
        "Açougue Central",
        "Sao Joaquim Ferragens",
    ] {
        let c = sample_company(name);
        store.create(&c, None, None).await.unwrap();
        created.push(c);
    }
    let find = |q: &'static str| {
        let store = &store;
        async move { names(&walk_by_name(store, &search(q), 20).await.0).join(" | ") }
    };
    assert_eq!(
        find("sao jo").await,
        "Padaria São João Ltda | Sao Joaquim Ferragens | Transportes Sao Jose"
    );
    assert_eq!(find("SÃO JOÃO").await, "Padaria São João Ltda");
    assert_eq!(find("paul").await, "Padaria Paulista");
    assert_eq!(find("ista").await, "");
    assert_eq!(find("acougue").await, "Açougue Central | AÇOUGUE DO ZÉ");
    assert_eq!(find("ze acou").await, "AÇOUGUE DO ZÉ");
    assert_eq!(find("padaria jose").await, "");
    assert_eq!(
        find("ferragenss").await,
        "",
        "a query word longer than any name word"
    );
    let all = walk_by_name(&store, &NameQuery::All, 20).await.0;
    assert_eq!(
        names(&all).join(" | "),
        "Açougue Central | AÇOUGUE DO ZÉ | Padaria Paulista | Padaria São João Ltda | \
         Sao Joaquim Ferragens | Transportes Sao Jose"
    );
    // Items come back whole.
    assert!(all.iter().all(|c| created.contains(c)));
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index(&created)
    );
}

pub async fn pages_by_name_are_complete_and_ordered<S: Store>(store: S) {
    // Equal names too: the id breaks the tie.
    let mut created = Vec::new();
    for i in [7, 3, 11, 0, 5, 5, 9, 1, 12, 2, 8, 4, 10, 6] {
        let c = sample_company(&format!("Padaria {i:02}"));
        store.create(&c, None, None).await.unwrap();
        created.push(c);
    }
    store
        .create(&sample_company("Mercado"), None, None)
        .await
        .unwrap();
    let mut expected: Vec<(String, Uuid)> = created
        .iter()
        .map(|c| (c.company_name.clone(), c.id))
        .collect();
    expected.sort();
    let (found, sizes) = walk_by_name(&store, &search("pad"), 4).await;
    let found: Vec<(String, Uuid)> = found
        .iter()
        .map(|c| (c.company_name.clone(), c.id))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(sizes, [4, 4, 4, 2]);
    let (all, sizes) = walk_by_name(&store, &NameQuery::All, 5).await;
    assert_eq!(all.len(), 15);
    assert_eq!(
        sizes,
        [5, 5, 5],
        "an exact multiple ends without an empty page"
    );
    assert_eq!(all[0].company_name, "Mercado");
}

pub async fn a_rename_or_delete_moves_the_company_in_the_index<S: Store + MarkerAudit>(store: S) {
    let c = sample_company("Padaria Velha");
    store.create(&c, None, None).await.unwrap();
    let renamed = renamed(&c, "Mercado Novo");
    store.replace(&c, &renamed, None, None).await.unwrap();
    assert!(walk_by_name(&store, &search("velha"), 10)
        .await
        .0
        .is_empty());
    assert_eq!(
        walk_by_name(&store, &search("nov"), 10).await.0,
        std::slice::from_ref(&renamed)
    );
    // A change that keeps the name keeps the entries.
    let mut doc = renamed.to_document();
    doc.insert("phone".into(), json!("11912345678"));
    let rephoned = renamed.replaced_by(input::company(&doc).unwrap(), now());
    store
        .replace(&renamed, &rephoned, None, None)
        .await
        .unwrap();
    assert_eq!(
        walk_by_name(&store, &search("mercado"), 10).await.0,
        std::slice::from_ref(&rephoned)
    );
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index([&rephoned])
    );
    store.delete(&rephoned, None).await.unwrap();
    assert!(walk_by_name(&store, &search("mercado"), 10)
        .await
        .0
        .is_empty());
    assert!(walk_by_name(&store, &NameQuery::All, 10).await.0.is_empty());
    assert!(store.name_index().await.unwrap().is_empty());
}

pub async fn a_rename_of_long_names_leaves_no_stale_entry<S: Store + MarkerAudit>(store: S) {
    let old =
        "Associação dos Moradores e Amigos do Bairro Jardim São Paulo e Adjacências de Campinas";
    let new = "Cooperativa Habitacional dos Trabalhadores Metalúrgicos Unidos de Ribeirão Preto e \
               Franca Ltda";
    // More entries than one transaction holds with the company: some go after it.
    let terms = |n: &str| companies::search::index_terms(n).len();
    assert!(
        terms(old) + terms(new) > 98,
        "{} + {}",
        terms(old),
        terms(new)
    );
    let c = sample_company(old);
    store.create(&c, None, None).await.unwrap();
    let renamed = renamed(&c, new);
    store.replace(&c, &renamed, None, None).await.unwrap();
    assert!(walk_by_name(&store, &search("adjacencias"), 10)
        .await
        .0
        .is_empty());
    assert_eq!(
        walk_by_name(&store, &search("metalurgicos ribeirao"), 10)
            .await
            .0,
        std::slice::from_ref(&renamed)
    );
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index([&renamed])
    );
}
