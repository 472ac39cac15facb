//! Every bound on what a client may send, named once. The README and `openapi.yaml` state the
//! same numbers; no request can make a function work unboundedly.

/// Longest company name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 150;
/// The most index terms (distinct word prefixes, see `model::search`) a company name may have,
/// so that a rename's transaction can always hold the entries it writes (DynamoDB allows 100
/// items per transaction).
pub const MAX_NAME_INDEX_TERMS: usize = 90;
/// Longest folded name (its name key, see `model::search`), in bytes. A name of
/// [`MAX_NAME_CHARS`] characters that folding does not lengthen stays within it (four bytes a
/// character at most); the key sorts index entries (DynamoDB allows 1,024 bytes of sort key) and
/// is carried in name cursors.
pub const MAX_NAME_KEY_BYTES: usize = 600;
/// The most bank accounts one company may hold.
pub const MAX_BANK_ACCOUNTS: usize = 20;
/// Longest street, in characters.
pub const MAX_STREET_CHARS: usize = 200;
/// Longest city, district, complement or foreign state, in characters.
pub const MAX_ADDRESS_LINE_CHARS: usize = 100;
/// Longest house number, in characters.
pub const MAX_HOUSE_NUMBER_CHARS: usize = 20;
/// Longest foreign postal code, in characters.
pub const MAX_FOREIGN_POSTAL_CODE_CHARS: usize = 20;
/// Longest text of a CNPJ, phone, amount or UF before it is parsed.
pub const MAX_CODE_TEXT_CHARS: usize = 32;
/// Longest text of a CEP before it is parsed.
pub const MAX_CEP_TEXT_CHARS: usize = 16;
/// Digits of an agency number (before its check digit).
pub const MAX_AGENCY_DIGITS: usize = 5;
/// Digits of an account number (before its check digit).
pub const MAX_ACCOUNT_DIGITS: usize = 20;
/// How much of a client-chosen field name is echoed back in an error.
pub const MAX_ECHOED_NAME_CHARS: usize = 64;
/// Longest search text (`?q=`), in characters.
pub const MAX_QUERY_CHARS: usize = 100;
