//! Opaque, tamper-evident pagination cursors: base64url of a format byte, the id to continue
//! after, and a truncated HMAC-SHA256 over both. A forged or garbled cursor fails to decode.

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Format byte of a cursor continuing the listing of companies by id.
const LIST_FORMAT: u8 = 1;
/// Format byte of a cursor continuing a company's history.
const HISTORY_FORMAT: u8 = 2;
/// Format byte of a cursor continuing a listing by name.
const NAME_FORMAT: u8 = 3;
/// Longest cursor accepted: a name position (a folded name of at most
/// [`MAX_NAME_KEY_BYTES`](companies::limits::MAX_NAME_KEY_BYTES) bytes and an id), its query
/// digest and tag, in base64.
const MAX_NAME_CURSOR: usize = 1024;
/// Longest cursor of a fixed-length payload (an id, an id and a version) accepted.
const MAX_FIXED_CURSOR: usize = 96;
const QUERY_DIGEST_LEN: usize = 8;
const TAG_LEN: usize = 16;
/// Used when `CURSOR_SECRET` is unset (local development). Deployed stacks set a generated secret.
const DEVELOPMENT_KEY: &[u8] = b"companies-api local development cursor key";

static SIGNING_KEY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    signing_key_from(std::env::var("CURSOR_SECRET").ok(), false).unwrap_or_default()
});

/// The signing key: the secret, or off AWS the development key. A deployed function has no
/// key without its secret.
fn signing_key_from(secret: Option<String>, deployed: bool) -> Result<Vec<u8>, String> {
    match secret {
        Some(secret) if !secret.is_empty() => Ok(secret.into_bytes()),
        _ if deployed => Err(
            "CURSOR_SECRET is not set: a deployed function will not sign \
             cursors with the public development key (the stack resolves it from Secrets \
             Manager; check the function's environment)"
                .into(),
        ),
        _ => Ok(DEVELOPMENT_KEY.to_vec()),
    }
}

/// Fails (an init error of the Lambda) when the function runs on AWS without `CURSOR_SECRET`.
pub fn require_key() -> Result<(), String> {
    signing_key_from(std::env::var("CURSOR_SECRET").ok(), super::deployed()).map(|_| ())
}

/// The HMAC-SHA256 of `payload` under the signing key, truncated to [`TAG_LEN`] bytes.
fn tag(payload: &[u8]) -> Option<[u8; TAG_LEN]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&SIGNING_KEY).ok()?;
    mac.update(payload);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    Some(out)
}

/// Signs `payload` under the format byte `format`.
fn seal(format: u8, payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(1 + payload.len() + TAG_LEN);
    bytes.push(format);
    bytes.extend_from_slice(payload);
    // HMAC accepts keys of any length, so `tag` always succeeds.
    bytes.extend_from_slice(&tag(&bytes).unwrap_or_default());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of `len` bytes a cursor of format `format` carries, if this key signed it.
fn open_exact_len(format: u8, cursor: &str, len: usize) -> Option<Vec<u8>> {
    if cursor.len() > MAX_FIXED_CURSOR {
        return None;
    }
    open(format, cursor).filter(|payload| payload.len() == len)
}

/// The payload a cursor of format `format` carries, if this key signed it.
fn open(format: u8, cursor: &str) -> Option<Vec<u8>> {
    if cursor.len() > MAX_NAME_CURSOR {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    if bytes.len() < 1 + TAG_LEN || bytes[0] != format {
        return None;
    }
    let len = bytes.len() - 1 - TAG_LEN;
    let (signed, given) = bytes.split_at(1 + len);
    let mut mac = Hmac::<Sha256>::new_from_slice(&SIGNING_KEY).ok()?;
    mac.update(signed);
    mac.verify_truncated_left(given).ok()?;
    Some(signed[1..].to_vec())
}

/// The cursor that continues a listing after the company `after`.
pub fn encode(after: Uuid) -> String {
    seal(LIST_FORMAT, after.as_bytes())
}

/// The id a cursor continues after, or `None` if it was not issued by [`encode`] with this key.
pub fn decode(cursor: &str) -> Option<Uuid> {
    Uuid::from_slice(&open_exact_len(LIST_FORMAT, cursor, 16)?).ok()
}

/// A digest binding a cursor to the listing (`canonical` text of its query) it came from.
fn query_digest(canonical: &str) -> [u8; QUERY_DIGEST_LEN] {
    use sha2::Digest;
    let full = Sha256::digest(canonical.as_bytes());
    let mut out = [0u8; QUERY_DIGEST_LEN];
    out.copy_from_slice(&full[..QUERY_DIGEST_LEN]);
    out
}

/// The cursor that continues a listing by name (`canonical` identifies its query) after
/// `position`.
pub fn encode_name(canonical: &str, position: &str) -> String {
    let mut payload = query_digest(canonical).to_vec();
    payload.extend_from_slice(position.as_bytes());
    seal(NAME_FORMAT, &payload)
}

/// The position a name cursor continues after, or `None` if it was not issued by
/// [`encode_name`] for the same query with this key.
pub fn decode_name(canonical: &str, cursor: &str) -> Option<String> {
    let payload = open(NAME_FORMAT, cursor)?;
    let (digest, position) = payload.split_at_checked(QUERY_DIGEST_LEN)?;
    (digest == query_digest(canonical)).then_some(())?;
    String::from_utf8(position.to_vec()).ok()
}

/// The cursor that continues company `id`'s history below version `before`.
pub fn encode_history(id: Uuid, before: u64) -> String {
    let mut payload = id.as_bytes().to_vec();
    payload.extend_from_slice(&before.to_be_bytes());
    seal(HISTORY_FORMAT, &payload)
}

/// The version a history cursor of company `id` continues below, or `None` if it was not
/// issued by [`encode_history`] for that company with this key.
pub fn decode_history(id: Uuid, cursor: &str) -> Option<u64> {
    let payload = open_exact_len(HISTORY_FORMAT, cursor, 16 + 8)?;
    let (company, version) = payload.split_at(16);
    (company == id.as_bytes()).then_some(())?;
    Some(u64::from_be_bytes(version.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployed_function_needs_its_secret() {
        assert!(signing_key_from(None, true).is_err());
        assert!(signing_key_from(Some(String::new()), true).is_err());
        assert_eq!(signing_key_from(Some("s".into()), true).unwrap(), b"s");
        assert_eq!(signing_key_from(None, false).unwrap(), DEVELOPMENT_KEY);
    }

    #[test]
    fn history_cursors_belong_to_one_company_and_are_not_list_cursors() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let cursor = encode_history(a, 7);
        assert_eq!(decode_history(a, &cursor), Some(7));
        assert_eq!(decode_history(b, &cursor), None);
        assert_eq!(decode(&cursor), None);
        assert_eq!(decode_history(a, &encode(a)), None);
    }

    #[test]
    fn name_cursors_belong_to_one_query() {
        let position = "padaria.sao.joao 0190a3c4-0000-7000-8000-000000000000";
        let cursor = encode_name("sao", position);
        assert_eq!(decode_name("sao", &cursor).as_deref(), Some(position));
        assert_eq!(decode_name("paulo", &cursor), None);
        assert_eq!(decode_name("", &cursor), None);
        assert_eq!(decode(&cursor), None);
        assert_eq!(decode_name("", &encode(Uuid::now_v7())), None);
        // The longest position a name can be filed under.
        let key = "𠀀".repeat(companies::limits::MAX_NAME_KEY_BYTES / 4);
        let long = format!("{key} {}", Uuid::now_v7());
        assert_eq!(decode_name("", &encode_name("", &long)), Some(long));
    }

    #[test]
    fn round_trips() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id)), Some(id));
    }

    #[test]
    fn rejects_forged_and_garbled_cursors() {
        let id = Uuid::now_v7();
        let good = encode(id);
        // Same shape, other id, no valid tag.
        let mut forged = vec![LIST_FORMAT];
        forged.extend_from_slice(Uuid::now_v7().as_bytes());
        forged.extend_from_slice(&[0u8; TAG_LEN]);
        let forged = URL_SAFE_NO_PAD.encode(forged);
        let mut flipped = good.clone().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            forged.as_str(),
            flipped.as_str(),
            "",
            "!!!",
            "abc",
            &good[..good.len() - 1],
            &format!("{good}A"),
            &id.to_string(),
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
