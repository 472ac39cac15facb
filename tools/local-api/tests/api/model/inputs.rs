//! What the sequences send: names, CNPJs, banks, amounts, accounts, companies, queries, and the
//! `If-Match` and `Idempotency-Key` headers of writes, drawn from the run's seeded generator.

use super::{Headers, Run};
use serde_json::{json, Value};

/// Words of names and queries: accents and case that fold alike, prefixes of one another, words
/// longer than an index term (10 characters), ordinals, digits, compatibility forms.
const WORDS: &[&str] = &[
    "São",
    "Sao",
    "SÃO",
    "Paulo",
    "Paulista",
    "Padaria",
    "Pão",
    "Pães",
    "Comércio",
    "Comercial",
    "Com",
    "Distribuidora",
    "Distribuição",
    "Participações",
    "1º",
    "Ofício",
    "oficio",
    "Cartório",
    "2024",
    "20",
    "Ａｂｃ",
    "abc",
    "d'Ávila",
    "Irmãos",
    "e",
    "Ltda",
    "LTDA.",
    "S/A",
    "Auto-Peças",
    "x",
];

/// Separators between words of a name or a query.
const GLUE: &[&str] = &[" ", " ", " ", " - ", ", ", " & ", "/"];

/// Valid CNPJs (one alphanumeric), punctuated as people type them.
const TAX_IDS: &[&str] = &[
    "60.746.948/0001-12",
    "11.222.333/0001-81",
    "12.ABC.345/01DE-35",
];

/// Codes of banks in the registry.
const BANKS: &[&str] = &["001", "237", "341", "260"];

impl Run {
    pub(super) fn name(&mut self) -> String {
        match self.rng.u8(..40) {
            0 => String::new(),
            1 => "  ".to_owned(),
            2 => "Ç".repeat(151),
            _ => {
                let mut name = self.pick(WORDS).to_owned();
                for _ in 0..self.rng.usize(..4) {
                    name.push_str(self.pick(GLUE));
                    name.push_str(self.pick(WORDS));
                }
                name
            }
        }
    }

    /// A CNPJ of [`TAX_IDS`], or now and then one whose check digits are wrong.
    pub(super) fn tax_id(&mut self) -> &'static str {
        if self.rng.u8(..12) == 0 {
            "11.222.333/0001-82"
        } else {
            self.pick(TAX_IDS)
        }
    }

    /// A bank of [`BANKS`], or now and then a code no bank has.
    pub(super) fn bank(&mut self) -> &'static str {
        if self.rng.u8(..12) == 0 {
            "999"
        } else {
            self.pick(BANKS)
        }
    }

    pub(super) fn money(&mut self) -> Value {
        match self.rng.u8(..30) {
            0 => json!("-1.00"),
            1 => json!("1.234"),
            2 => json!(1500),
            _ => json!(format!(
                "{}.{:02}",
                self.rng.u32(..100_000),
                self.rng.u8(..100)
            )),
        }
    }

    pub(super) fn new_account(&mut self) -> Value {
        json!({
            "bank_code": self.bank(),
            "agency": format!("{}", self.rng.u16(1..40)),
            "account_number": format!("{}-{}", self.rng.u16(100..140), self.rng.u8(..10)),
        })
    }

    pub(super) fn document(&mut self) -> Value {
        let mut doc = json!({
            "company_name": self.name(),
            "phone": "11978235674",
            "declared_billing": self.money(),
        });
        if self.rng.u8(..3) == 0 {
            doc["tax_id"] = json!(self.tax_id());
        }
        let accounts: Vec<Value> = (0..self.rng.usize(..3))
            .map(|_| self.new_account())
            .collect();
        if !accounts.is_empty() {
            doc["bank_accounts"] = json!(accounts);
        }
        doc
    }

    /// A company the model knows (live or deleted), or none when there is none yet.
    pub(super) fn some_company(&mut self) -> Option<usize> {
        if self.companies.is_empty() {
            return None;
        }
        let live: Vec<usize> = (0..self.companies.len())
            .filter(|&i| self.companies[i].live)
            .collect();
        Some(if live.is_empty() || self.rng.u8(..8) == 0 {
            self.rng.usize(..self.companies.len())
        } else {
            self.pick(&live)
        })
    }

    /// The headers of a write to company `i`: no `If-Match`, one with its current version or
    /// one with an older one.
    pub(super) fn if_match(&mut self, i: usize) -> Headers {
        let version = self.companies[i].version;
        match self.rng.u8(..6) {
            0 => vec![("if-match", format!("\"{version}\""))],
            1 if version > 1 => vec![("if-match", format!("\"{}\"", version - 1))],
            _ => Vec::new(),
        }
    }

    /// Now and then an `Idempotency-Key` from a few shared by every create and account add
    /// (so a key comes back with its first request, with another body, or at another
    /// resource), and then, half the time, the body it was first sent with to `target`.
    pub(super) fn idempotency(&mut self, target: &str, body: &mut Value) -> Headers {
        if self.rng.u8(..4) != 0 {
            return Vec::new();
        }
        let key = format!("model-{}-{}", self.seed, self.rng.usize(..4));
        match self.keys.iter().find(|(k, _, _)| *k == key) {
            Some((_, first, sent)) if first == target && self.rng.bool() => *body = sent.clone(),
            Some(_) => {}
            None => self
                .keys
                .push((key.clone(), target.to_owned(), body.clone())),
        }
        vec![("idempotency-key", key)]
    }

    pub(super) fn query(&mut self) -> String {
        match self.rng.u8(..25) {
            0 => String::new(),
            1 => "!!".to_owned(),
            2 => "zzz".to_owned(),
            _ => {
                // Half of the queries are made of words of a name the model knows, as written.
                let known: Vec<String> = match self.some_company() {
                    Some(i) if self.rng.bool() => self.companies[i]
                        .name
                        .split(|c: char| c.is_whitespace() || ",&/-".contains(c))
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                };
                let mut q = String::new();
                for n in 0..=self.rng.usize(..2) {
                    if n > 0 {
                        q.push_str(self.pick(GLUE));
                    }
                    let word: Vec<char> = if known.is_empty() {
                        self.pick(WORDS).chars().collect()
                    } else {
                        known[self.rng.usize(..known.len())].chars().collect()
                    };
                    let cut = self.rng.usize(1..=word.len());
                    q.extend(&word[..cut]);
                }
                q
            }
        }
    }
}
