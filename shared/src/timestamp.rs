//! Timestamps as UTC RFC 3339 with exactly three fractional digits (`2026-11-24T12:00:00.000Z`),
//! so every timestamp has one length and string order is time order. Any RFC 3339 is read back.

use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats a time as UTC RFC 3339 with milliseconds.
pub fn format(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(d)?;
    OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn always_three_fractional_digits_in_utc() {
        assert_eq!(
            format(datetime!(2026-11-24 12:00:00 UTC)),
            "2026-11-24T12:00:00.000Z"
        );
        assert_eq!(
            format(datetime!(2026-11-24 12:00:00.5 UTC)),
            "2026-11-24T12:00:00.500Z"
        );
        assert_eq!(
            format(datetime!(2026-11-24 09:00:00.123 -3)),
            "2026-11-24T12:00:00.123Z"
        );
    }

    #[test]
    fn string_order_is_time_order() {
        let a = format(datetime!(2026-11-24 12:00:00 UTC));
        let b = format(datetime!(2026-11-24 12:00:00.001 UTC));
        assert!(a < b);
    }
}
