//! Reading a JSON object more strictly than `serde_json::Value` does: a member name repeated in
//! one object is refused (with the path of the repeat), and the numbers of chosen top-level
//! fields keep their exact source text. Nothing here knows HTTP; [`super::body`] says what a
//! refusal means to the client.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use companies::input;

/// A JSON object read by [`read_object`].
pub struct JsonObject {
    pub members: Map<String, Value>,
    /// The exact source text of each of the requested top-level fields that holds a number.
    pub number_texts: HashMap<String, String>,
}

/// Why [`read_object`] took no object.
pub enum Refusal {
    /// The bytes are not JSON.
    Malformed,
    /// An object names a member twice: the path of that member (`bank_accounts[1].agency`).
    RepeatedName(String),
    /// Valid JSON this reader does not take (another kind of value than an object, a number
    /// beyond a double's range outside the exact fields, an unpaired UTF-16 surrogate), with the
    /// reader's error.
    Unacceptable(serde_json::Error),
}

/// Reads `bytes` as one JSON object; the numbers of its top-level fields named in
/// `exact_number_fields` keep their source text.
pub fn read_object(bytes: &[u8], exact_number_fields: &[&str]) -> Result<JsonObject, Refusal> {
    let repeated_name = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let top_level = TopLevelObject {
        exact_number_fields,
        repeated_name: &repeated_name,
    };
    let parsed = (&mut reader)
        .deserialize_map(top_level)
        .and_then(|object| reader.end().map(|()| object));
    let error = match parsed {
        Ok(object) => return Ok(object),
        Err(e) => e,
    };
    if serde_json::from_slice::<IgnoredAny>(bytes).is_err() {
        return Err(Refusal::Malformed);
    }
    match repeated_name.into_inner() {
        Some(path) => Err(Refusal::RepeatedName(path)),
        None => Err(Refusal::Unacceptable(error)),
    }
}

/// Where a repeated member name was found (`bank_accounts[1].agency`), once the parse that met
/// it has unwound; `None` while none was.
type RepeatedName = RefCell<Option<String>>;

/// Fails the parse on the repeated member `name` (at the top of the path, so far).
fn repeated_name_error<E: serde::de::Error>(repeated_name: &RepeatedName, name: &str) -> E {
    *repeated_name.borrow_mut() = Some(input::field_name(name));
    E::custom("a repeated member name")
}

/// Puts `segment` (`name` or `[i]`) in front of the path of a repeat found below it, if any.
fn prefix_repeat_path<'a, E>(
    repeated_name: &'a RepeatedName,
    segment: impl FnOnce() -> String + 'a,
) -> impl FnOnce(E) -> E + 'a {
    move |e| {
        if let Some(path) = repeated_name.borrow_mut().as_mut() {
            let dot = if path.starts_with('[') { "" } else { "." };
            *path = format!("{}{dot}{path}", segment());
        }
        e
    }
}

/// Reads the top-level object into a [`JsonObject`].
struct TopLevelObject<'a> {
    exact_number_fields: &'a [&'a str],
    repeated_name: &'a RepeatedName,
}

impl<'de> Visitor<'de> for TopLevelObject<'_> {
    type Value = JsonObject;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut number_texts = HashMap::new();
        let strict = || StrictValue {
            repeated_name: self.repeated_name,
        };
        let members = object_members(&mut map, self.repeated_name, |key, map| {
            if !self.exact_number_fields.contains(&key) {
                return map.next_value_seed(strict());
            }
            let raw: &RawValue = map.next_value()?;
            let text = raw.get();
            if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                number_texts.insert(key.to_owned(), text.to_owned());
                // Beyond a double's range (`1e400`) the largest double stands in: only the
                // exact text kept above is read as the amount.
                Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::from(f64::MAX)))
            } else {
                strict()
                    .deserialize(&mut serde_json::Deserializer::from_str(text))
                    .map_err(serde::de::Error::custom)
            }
        })?;
        Ok(JsonObject {
            members,
            number_texts,
        })
    }
}

/// The members of a JSON object, each value read by `value`; a name met twice fails the parse
/// (see [`repeated_name_error`]), and a repeat found inside a value gets the member's name on
/// its path.
fn object_members<'de, A: MapAccess<'de>>(
    map: &mut A,
    repeated_name: &RepeatedName,
    mut value: impl FnMut(&str, &mut A) -> Result<Value, A::Error>,
) -> Result<Map<String, Value>, A::Error> {
    let mut members = Map::new();
    while let Some(key) = map.next_key::<String>()? {
        if members.contains_key(&key) {
            return Err(repeated_name_error(repeated_name, &key));
        }
        let read = value(&key, map).map_err(prefix_repeat_path(repeated_name, || {
            input::field_name(&key)
        }))?;
        members.insert(key, read);
    }
    Ok(members)
}

/// Reads any JSON value, as `serde_json::Value` does, but fails on an object that names a
/// member twice (which `Value` would silently keep the last of).
struct StrictValue<'a> {
    repeated_name: &'a RepeatedName,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        loop {
            let item = StrictValue {
                repeated_name: self.repeated_name,
            };
            let index = items.len();
            match seq
                .next_element_seed(item)
                .map_err(prefix_repeat_path(self.repeated_name, || {
                    format!("[{index}]")
                }))? {
                Some(value) => items.push(value),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let repeated_name = self.repeated_name;
        object_members(&mut map, repeated_name, |_, map| {
            map.next_value_seed(StrictValue { repeated_name })
        })
        .map(Value::Object)
    }
}
