//! The log lines the local API writes, captured in memory, and the check that no CNPJ or
//! account number a test sent appears in them unmasked. Both are process-wide: every test of a
//! binary adds to them, and the check holds every log line against every value sent so far.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Mutex, Once};

use serde_json::Value;

/// Every log line the local API wrote during this test binary's run.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Every CNPJ and account number (long enough to be recognisable) sent in a request.
static SENSITIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the production log subscriber, writing into [`LOGS`], once per process.
pub fn capture() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| companies::telemetry::init_with(|| Capture));
}

/// Remembers the sensitive values of a request body: `tax_id` and `account_number` anywhere.
pub fn remember_sensitive(body: &str) {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if let (true, Some(s)) = (k == "tax_id" || k == "account_number", v.as_str()) {
                        let normalised: String = s
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                            .collect();
                        for value in [s.to_owned(), normalised.to_uppercase()] {
                            // Shorter values can occur by chance in ids and timestamps.
                            if value.len() >= 6 {
                                out.insert(value);
                            }
                        }
                        let digits: String =
                            s.chars().filter(char::is_ascii_alphanumeric).collect();
                        if k == "tax_id" && digits.len() == 14 {
                            out.insert(digits.to_uppercase());
                        }
                    }
                    walk(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        walk(&v, &mut SENSITIVE.lock().unwrap());
    }
}

/// Every log line written so far.
pub fn captured() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Whether any log line written so far contains `text`.
pub fn logs_contain(text: &str) -> bool {
    captured().contains(text)
}

/// Fails if any CNPJ or account number sent so far appears unmasked in the logs written so far.
pub fn assert_logs_masked() {
    let logs = captured();
    assert!(
        logs.contains("\"message\":\"request\""),
        "no access log lines were captured"
    );
    let sensitive = SENSITIVE.lock().unwrap().clone();
    for value in &sensitive {
        assert!(
            !logs.contains(value.as_str()),
            "unmasked {value} in the logs"
        );
    }
}
