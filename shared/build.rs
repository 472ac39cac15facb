//! Compiles the bank registry (`data/banks.csv`) into a static table sorted by code, so that no
//! function parses CSV at run time: parsing it on the first request that named a bank took about
//! half a millisecond on the benchmark machine, several times that on a 128 MB Lambda's share of
//! a CPU (BENCHMARKS.md). A malformed file or a code listed twice fails the build.

use std::fmt::Write as _;
use std::path::Path;

const FIELDS: [&str; 5] = ["compe", "ispb", "cnpj", "long_name", "short_name"];

fn main() {
    println!("cargo:rerun-if-changed=data/banks.csv");
    let mut reader = csv::Reader::from_path("data/banks.csv").expect("read data/banks.csv");
    let headers = reader
        .headers()
        .expect("the header of data/banks.csv")
        .clone();
    let columns = FIELDS.map(|field| {
        headers
            .iter()
            .position(|h| h == field)
            .unwrap_or_else(|| panic!("data/banks.csv has no column {field}"))
    });
    let mut rows: Vec<[String; 5]> = reader
        .records()
        .map(|record| {
            let record = record.expect("a well-formed row of data/banks.csv");
            columns.map(|i| record.get(i).unwrap_or_default().trim().to_owned())
        })
        .collect();
    rows.sort();
    for pair in rows.windows(2) {
        assert_ne!(
            pair[0][0], pair[1][0],
            "bank code listed twice in data/banks.csv"
        );
    }
    let mut table = String::from("[\n");
    for [code, ispb, cnpj, name, short_name] in &rows {
        writeln!(
            table,
            "    Bank {{ code: {code:?}, ispb: {ispb:?}, cnpj: {cnpj:?}, name: {name:?}, \
             short_name: {short_name:?} }},"
        )
        .expect("write to a String");
    }
    table.push(']');
    let out = std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo");
    std::fs::write(Path::new(&out).join("banks.rs"), table).expect("write the bank table");
}
