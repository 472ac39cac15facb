//! The kinds of partition key the companies table holds: the one place each key prefix is
//! spelt. The item mapping builds and reads keys with it, the operation registry grants
//! functions partitions by it (`dynamodb:LeadingKeys`), and the template test compares the
//! template's conditions with it.

use std::fmt;

/// A kind of partition of the table, by the prefix its partition key values start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    /// `COMPANY#<id>`: a company, its history entries and the record of its deletion.
    Company,
    /// `TAXID#<cnpj>`: the marker reserving a CNPJ for the company that holds it.
    TaxId,
    /// `NAME#<term>`: the name index, one partition per search term.
    Name,
    /// `IDEMPOTENCY#<scoped key>`: the stored answer of a keyed POST.
    Idempotency,
    /// `LEGACY#<row id>`: the marker of a row imported from the Flask service's database.
    Legacy,
}

impl Partition {
    /// Every kind, in the order the table's layout lists them.
    pub const ALL: [Partition; 5] = [
        Partition::Company,
        Partition::TaxId,
        Partition::Name,
        Partition::Idempotency,
        Partition::Legacy,
    ];

    /// The prefix of its partition key values, `#` included (`COMPANY#`).
    pub const fn prefix(self) -> &'static str {
        match self {
            Partition::Company => "COMPANY#",
            Partition::TaxId => "TAXID#",
            Partition::Name => "NAME#",
            Partition::Idempotency => "IDEMPOTENCY#",
            Partition::Legacy => "LEGACY#",
        }
    }

    /// The partition key value of `name` in this kind (`COMPANY#<id>`).
    pub fn key(self, name: impl fmt::Display) -> String {
        format!("{}{name}", self.prefix())
    }

    /// What follows the prefix in `pk`, if `pk` is a key of this kind.
    pub fn name_in(self, pk: &str) -> Option<&str> {
        pk.strip_prefix(self.prefix())
    }

    /// The kind of the partition key value `pk`, if it is one of the table's.
    pub fn of(pk: &str) -> Option<Partition> {
        Partition::ALL
            .into_iter()
            .find(|p| pk.starts_with(p.prefix()))
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_read_back_as_its_kind_and_name() {
        for kind in Partition::ALL {
            let pk = kind.key("abc");
            assert_eq!(Partition::of(&pk), Some(kind));
            assert_eq!(kind.name_in(&pk), Some("abc"));
        }
        assert_eq!(Partition::of("COMPANY"), None);
        assert_eq!(Partition::Name.name_in("COMPANY#x"), None);
    }

    #[test]
    fn no_prefix_starts_another() {
        for a in Partition::ALL {
            for b in Partition::ALL {
                assert!(a == b || !a.prefix().starts_with(b.prefix()), "{a} and {b}");
            }
        }
    }
}
