//! Postal addresses. Brazilian ones (the default) carry a [`Uf`] and a [`Cep`]; foreign ones a
//! country code and free-text state and postal code. An [`Address`] read from anywhere (a
//! client, the table) has passed the same validation.

use serde::{Deserialize, Serialize};

use super::field::{FieldError, RawField};
use super::limits::{
    MAX_ADDRESS_LINE_CHARS, MAX_CEP_TEXT_CHARS, MAX_CODE_TEXT_CHARS, MAX_FOREIGN_POSTAL_CODE_CHARS,
    MAX_HOUSE_NUMBER_CHARS, MAX_STREET_CHARS,
};

/// The 27 federative units of Brazil.
pub const UFS: [&str; 27] = [
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE",
    "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
];

/// A Brazilian state code (UF), upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uf(String);

impl Uf {
    /// Validates a UF (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        let up = s.trim().to_ascii_uppercase();
        if UFS.contains(&up.as_str()) {
            Ok(Uf(up))
        } else {
            Err("must be a Brazilian state code (UF) such as \"SP\"".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Brazilian postal code (CEP): 8 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cep(String);

impl Cep {
    /// Validates a CEP (`01310-100` or `01310100`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let digits: String = s.chars().filter(|c| *c != '-' && *c != '.').collect();
        if s.len() <= 10 && digits.len() == 8 && digits.bytes().all(|c| c.is_ascii_digit()) {
            Ok(Cep(digits))
        } else {
            Err("must be a CEP of 8 digits such as \"01310-100\"".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountryCode(String);

impl CountryCode {
    /// Validates a country code (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        let up = s.trim().to_ascii_uppercase();
        if up.len() == 2 && up.bytes().all(|c| c.is_ascii_uppercase()) {
            Ok(CountryCode(up))
        } else {
            Err("must be a two-letter ISO 3166-1 country code such as \"BR\"".into())
        }
    }

    pub fn brazil() -> Self {
        CountryCode("BR".into())
    }

    pub fn is_brazil(&self) -> bool {
        self.0 == "BR"
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an address is: in Brazil with a UF and CEP, or abroad with the country's own forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Region {
    Brazil {
        state: Uf,
        postal_code: Cep,
    },
    Abroad {
        country: CountryCode,
        state: String,
        postal_code: String,
    },
}

/// A validated address. Serialised flat, as the API and the table hold it:
/// `{street, number, complement, district, city, state, postal_code, country}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AddressFields", into = "AddressFields")]
pub struct Address {
    pub street: String,
    pub number: Option<String>,
    pub complement: Option<String>,
    pub district: Option<String>,
    pub city: String,
    pub region: Region,
}

/// The parts of an address as a document gives them, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct AddressParts<'a> {
    pub street: RawField<'a>,
    pub number: RawField<'a>,
    pub complement: RawField<'a>,
    pub district: RawField<'a>,
    pub city: RawField<'a>,
    pub state: RawField<'a>,
    pub postal_code: RawField<'a>,
    /// Absent means Brazil.
    pub country: RawField<'a>,
}

impl Address {
    /// Checks an address part by part (a client's, or one read back from the table); each
    /// error names its part under `path` (`address.state`).
    pub fn from_parts(parts: AddressParts<'_>, path: &str) -> Result<Address, Vec<FieldError>> {
        let mut errors = Vec::new();
        let errors = &mut errors;
        let at = |key: &str| format!("{path}.{key}");
        let country = match parts.country {
            RawField::Absent => Some(CountryCode::brazil()),
            given => given.parsed(&at("country"), 2, CountryCode::parse, errors),
        };
        let street = parts
            .street
            .required_text(&at("street"), MAX_STREET_CHARS, errors);
        let number = parts
            .number
            .text(&at("number"), MAX_HOUSE_NUMBER_CHARS, errors);
        let complement = parts
            .complement
            .text(&at("complement"), MAX_ADDRESS_LINE_CHARS, errors);
        let district = parts
            .district
            .text(&at("district"), MAX_ADDRESS_LINE_CHARS, errors);
        let city = parts
            .city
            .required_text(&at("city"), MAX_ADDRESS_LINE_CHARS, errors);
        for (key, given) in [("state", parts.state), ("postal_code", parts.postal_code)] {
            if given == RawField::Absent {
                errors.push(FieldError::new(at(key), "is required"));
            }
        }
        let region = match country {
            Some(country) if country.is_brazil() => {
                let state =
                    parts
                        .state
                        .parsed(&at("state"), MAX_CODE_TEXT_CHARS, Uf::parse, errors);
                let postal_code = parts.postal_code.parsed(
                    &at("postal_code"),
                    MAX_CEP_TEXT_CHARS,
                    Cep::parse,
                    errors,
                );
                state
                    .zip(postal_code)
                    .map(|(state, postal_code)| Region::Brazil { state, postal_code })
            }
            country => {
                let state = parts
                    .state
                    .text(&at("state"), MAX_ADDRESS_LINE_CHARS, errors);
                let postal_code = parts.postal_code.text(
                    &at("postal_code"),
                    MAX_FOREIGN_POSTAL_CODE_CHARS,
                    errors,
                );
                match (country, state, postal_code) {
                    (Some(country), Some(state), Some(postal_code)) => Some(Region::Abroad {
                        country,
                        state,
                        postal_code,
                    }),
                    _ => None,
                }
            }
        };
        match (street, city, region) {
            (Some(street), Some(city), Some(region)) if errors.is_empty() => Ok(Address {
                street,
                number,
                complement,
                district,
                city,
                region,
            }),
            _ => Err(std::mem::take(errors)),
        }
    }

    pub fn state(&self) -> &str {
        match &self.region {
            Region::Brazil { state, .. } => state.as_str(),
            Region::Abroad { state, .. } => state,
        }
    }

    pub fn postal_code(&self) -> &str {
        match &self.region {
            Region::Brazil { postal_code, .. } => postal_code.as_str(),
            Region::Abroad { postal_code, .. } => postal_code,
        }
    }

    pub fn country(&self) -> &str {
        match &self.region {
            Region::Brazil { .. } => "BR",
            Region::Abroad { country, .. } => country.as_str(),
        }
    }
}

/// The flat shape of an address on the wire and in the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressFields {
    street: String,
    number: Option<String>,
    complement: Option<String>,
    district: Option<String>,
    city: String,
    state: String,
    postal_code: String,
    country: String,
}

impl From<Address> for AddressFields {
    fn from(a: Address) -> Self {
        let (state, postal_code, country) = match a.region {
            Region::Brazil { state, postal_code } => (state.0, postal_code.0, "BR".to_owned()),
            Region::Abroad {
                country,
                state,
                postal_code,
            } => (state, postal_code, country.0),
        };
        AddressFields {
            street: a.street,
            number: a.number,
            complement: a.complement,
            district: a.district,
            city: a.city,
            state,
            postal_code,
            country,
        }
    }
}

/// Read back from the table: the same validation as a client's address.
impl TryFrom<AddressFields> for Address {
    type Error = String;

    fn try_from(fields: AddressFields) -> Result<Self, Self::Error> {
        let parts = AddressParts {
            street: RawField::Text(&fields.street),
            number: fields.number.as_deref().into(),
            complement: fields.complement.as_deref().into(),
            district: fields.district.as_deref().into(),
            city: RawField::Text(&fields.city),
            state: RawField::Text(&fields.state),
            postal_code: RawField::Text(&fields.postal_code),
            country: RawField::Text(&fields.country),
        };
        Address::from_parts(parts, "address").map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uf_is_one_of_the_27() {
        assert_eq!(Uf::parse("sp").unwrap().as_str(), "SP");
        assert_eq!(Uf::parse("DF").unwrap().as_str(), "DF");
        assert!(Uf::parse("XX").is_err());
        assert!(Uf::parse("São Paulo").is_err());
        assert!(Uf::parse("").is_err());
    }

    #[test]
    fn cep_has_eight_digits() {
        assert_eq!(Cep::parse("01310-100").unwrap().as_str(), "01310100");
        assert_eq!(Cep::parse("01310100").unwrap().as_str(), "01310100");
        assert!(Cep::parse("1310-100").is_err());
        assert!(Cep::parse("01310-1000").is_err());
        assert!(Cep::parse("0131O-100").is_err());
    }

    #[test]
    fn country_is_two_letters() {
        assert_eq!(CountryCode::parse("br").unwrap().as_str(), "BR");
        assert!(CountryCode::parse("BRA").is_err());
        assert!(CountryCode::parse("B1").is_err());
    }

    #[test]
    fn an_invalid_stored_address_cannot_be_read() {
        let stored = serde_json::json!({"street": "Rua A", "city": "Recife", "state": "XX",
            "postal_code": "50000-000", "country": "BR", "number": null, "complement": null,
            "district": null});
        let err = serde_json::from_value::<Address>(stored).unwrap_err();
        assert!(err.to_string().contains("address.state"), "{err}");
        let good = serde_json::json!({"street": "Rua A", "city": "Recife", "state": "PE",
            "postal_code": "50000000", "country": "BR", "number": null, "complement": null,
            "district": null});
        let a: Address = serde_json::from_value(good.clone()).unwrap();
        assert_eq!(
            (a.state(), a.postal_code(), a.country()),
            ("PE", "50000000", "BR")
        );
        assert_eq!(serde_json::to_value(&a).unwrap(), good);
    }
}
