//! A fresh valid CNPJ for each run, so that two runs never hold the same one (one company at a
//! time may): the 2026 alphanumeric form, `SM` and ten random characters of `0-9A-Z`, then the
//! two mod-11 check digits as `shared/src/cnpj.rs` computes them (each character worth its
//! ASCII code minus 48). Ten random characters of 36 make meeting another run's CNPJ, or a real
//! company's (letters appear in CNPJs issued from July 2026 only), vanishingly unlikely.

use uuid::Uuid;

const FIRST_WEIGHTS: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const SECOND_WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

/// A new CNPJ, 14 characters without punctuation.
pub fn generate() -> String {
    // A v4 UUID's bytes are random but for the version (byte 6) and variant (byte 8) bits.
    let random = Uuid::new_v4();
    let mut cnpj: String = "SM".to_owned();
    cnpj.extend(
        random
            .as_bytes()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 6 && *i != 8)
            .take(10)
            .map(|(_, b)| {
                char::from_digit(u32::from(*b) % 36, 36)
                    .unwrap_or('0')
                    .to_ascii_uppercase()
            }),
    );
    let first = check_digit(&cnpj, &FIRST_WEIGHTS);
    cnpj.push(first);
    let second = check_digit(&cnpj, &SECOND_WEIGHTS);
    cnpj.push(second);
    cnpj
}

fn check_digit(chars: &str, weights: &[u32]) -> char {
    let sum: u32 = chars
        .bytes()
        .zip(weights)
        .map(|(c, w)| u32::from(c.saturating_sub(b'0')) * w)
        .sum();
    let rest = sum % 11;
    let digit = if rest < 2 { 0 } else { 11 - rest };
    char::from_digit(digit, 10).unwrap_or('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_cnpj_is_valid_and_new() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let cnpj = generate();
            let parsed = companies::Cnpj::parse(&cnpj).unwrap_or_else(|e| panic!("{cnpj}: {e}"));
            assert_eq!(parsed.as_str(), cnpj);
            assert!(cnpj.starts_with("SM"));
            assert!(seen.insert(cnpj));
        }
    }

    #[test]
    fn check_digits_match_a_known_cnpj() {
        assert_eq!(check_digit("607469480001", &FIRST_WEIGHTS), '1');
        assert_eq!(check_digit("6074694800011", &SECOND_WEIGHTS), '2');
        assert_eq!(check_digit("12ABC34501DE", &FIRST_WEIGHTS), '3');
        assert_eq!(check_digit("12ABC34501DE3", &SECOND_WEIGHTS), '5');
    }
}
