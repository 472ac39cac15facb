//! Compiles the bank registry (`data/banks.csv`) into a static table sorted by code, so that no
//! function parses CSV at run time, on the first request that names a bank (what that cost is
//! in BENCHMARKS.md). A malformed file or a code listed twice fails the build.

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
    // Every field of every row, one after another in one string, and where each field ends:
    // the table holds offsets, not pointers, so it needs no relocation when the executable is
    // loaded (a table of `&str` would be five pointers a bank, pages the loader writes on every
    // cold start).
    let mut text = String::new();
    let mut ends = String::new();
    for field in rows.iter().flatten() {
        text.push_str(field);
        write!(ends, "{},", text.len()).expect("write to a String");
    }
    let table = format!(
        "/// Every field of every bank, in code order.\n\
         const TEXT: &str = {text:?};\n\
         /// Where field `f` of bank `i` ends in `TEXT`: `ENDS[i * 5 + f]`.\n\
         static ENDS: [u32; {}] = [{ends}];\n",
        rows.len() * FIELDS.len()
    );
    let out = std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo");
    std::fs::write(Path::new(&out).join("banks.rs"), table).expect("write the bank table");
}
