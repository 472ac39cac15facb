//! Exact money: a non-negative amount of reais with at most two decimal places, below 10^10
//! (the original service's DECIMAL(12,2)). Never touches floating point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// A validated amount of money, always held at scale 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

use super::limits::MAX_CODE_TEXT_CHARS as MAX_TEXT_LEN;

impl Money {
    /// Parses a decimal string exactly as the API documents it: 1 to 10 digits, optionally a
    /// point and 1 or 2 digits (`"1235.69"`, `"10"`, `"0.1"`). No sign, exponent or spaces.
    pub fn parse_string(text: &str) -> Result<Self, String> {
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str, max: usize| {
            (1..=max).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit())
        };
        if !digits(whole, 10) || fraction.is_some_and(|f| !digits(f, 2)) {
            return Err("must be a decimal string of up to 10 digits and 2 decimal places, such as \"1235.69\"".into());
        }
        Self::parse(text)
    }

    /// Parses the exact text of a JSON number (which may carry a sign or an exponent, e.g.
    /// `1.5e3`); the value must still be a valid amount.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.len() > MAX_TEXT_LEN {
            return Err("is too long to be an amount".into());
        }
        let valid_chars = text
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'));
        if !valid_chars {
            return Err("must be a decimal number such as \"1235.69\"".into());
        }
        // Decided on the text, before rust_decimal could round away digits it cannot hold
        // (it keeps at most 28 decimal places).
        if decimal_places(text).ok_or(INVALID)? > 2 {
            return Err("must have at most 2 decimal places".into());
        }
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str(text)
        };
        let value = parsed.map_err(|_| INVALID.to_string())?;
        Self::try_from(value)
    }

    /// The amount as an exact decimal.
    pub fn amount(&self) -> Decimal {
        self.0
    }
}

const INVALID: &str = "must be a decimal number such as \"1235.69\"";

/// How many decimal places the number written as `text` (digits, one optional point, an
/// optional sign and exponent) needs once trailing zeros are dropped: `"1.50"` → 1,
/// `"125E-2"` → 2, `"0.000000000000000000000000000001"` → 30. `None` if it is not such a number.
fn decimal_places(text: &str) -> Option<i64> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (text, 0),
    };
    let unsigned = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let trailing_zeros = digits.len() - digits.trim_end_matches('0').len();
    let places = i64::try_from(fraction.len()).ok()? - i64::try_from(trailing_zeros).ok()?;
    Some(places.saturating_sub(exponent).max(0))
}

impl TryFrom<Decimal> for Money {
    type Error = String;

    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        let value = value.normalize();
        if value.is_sign_negative() && !value.is_zero() {
            return Err("must not be negative".into());
        }
        if value.scale() > 2 {
            return Err("must have at most 2 decimal places".into());
        }
        if value >= Decimal::from(10_000_000_000_i64) {
            return Err("must be below 10000000000.00".into());
        }
        let mut value = value.abs();
        value.rescale(2);
        Ok(Money(value))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        match Money::parse(text) {
            Ok(m) => m.to_string(),
            Err(e) => panic!("{text} rejected: {e}"),
        }
    }

    #[test]
    fn always_renders_two_decimals() {
        assert_eq!(ok("1235.69"), "1235.69");
        assert_eq!(ok("0.1"), "0.10");
        assert_eq!(ok("10"), "10.00");
        assert_eq!(ok("0"), "0.00");
        assert_eq!(ok("-0"), "0.00");
        assert_eq!(ok("1.230"), "1.23");
        assert_eq!(ok("9999999999.99"), "9999999999.99");
        assert_eq!(ok("1.5e3"), "1500.00");
        assert_eq!(ok("125E-2"), "1.25");
    }

    #[test]
    fn counts_the_places_a_number_needs() {
        for (text, places) in [
            ("1.50", 1),
            ("125E-2", 2),
            ("1.5e3", 0),
            ("100e-2", 0),
            ("0", 0),
            ("0.000", 0),
            ("-0.01", 2),
            ("0.000000000000000000000000000001", 30),
        ] {
            assert_eq!(decimal_places(text), Some(places), "{text}");
        }
        for bad in ["", ".", "1e", "1..2", "e5", "1e99999999999999999999"] {
            assert_eq!(decimal_places(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keeps_values_that_floats_cannot_hold() {
        // 0.1 + 0.2 style values and large amounts survive exactly.
        assert_eq!(ok("0.30"), "0.30");
        assert_eq!(ok("9007199254.93"), "9007199254.93");
        let sum = Money::parse("0.1").unwrap().amount() + Money::parse("0.2").unwrap().amount();
        assert_eq!(sum.to_string(), "0.30");
    }

    #[test]
    fn strings_follow_the_documented_grammar() {
        assert_eq!(
            Money::parse_string("1235.69").unwrap().to_string(),
            "1235.69"
        );
        assert_eq!(Money::parse_string("0.1").unwrap().to_string(), "0.10");
        assert_eq!(
            Money::parse_string("9999999999.99").unwrap().to_string(),
            "9999999999.99"
        );
        for bad in [
            "1.230",
            " 12",
            "+5",
            "1e3",
            "-0",
            "00000000001",
            "1.",
            ".5",
            "",
            "1,5",
        ] {
            assert!(Money::parse_string(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rejects_out_of_range_and_imprecise_amounts() {
        for bad in [
            "-0.01",
            "-5",
            "10000000000",
            "10000000000.00",
            "1e10",
            "1.234",
            "0.001",
            "1235.6900000000001",
            "",
            "abc",
            "1,5",
            "NaN",
            "Infinity",
            "1..2",
            "0x10",
            "1 000",
            "1e999999999",
            "12345678901234567890123456789012345",
            // More places than rust_decimal holds must be refused, not rounded to zero.
            "0.000000000000000000000000000001",
            "1.0000000000000000000000000000001",
            "1e-30",
            "1.5e-2",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
