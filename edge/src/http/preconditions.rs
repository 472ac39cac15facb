//! Conditional requests: the `If-Match` header against the version a company's `ETag` names.

use lambda_http::http::{header, HeaderMap};

use super::Problem;

/// A parsed `If-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// The versions named by strong entity tags (weak ones never match, RFC 9110 §13.1.1).
    Versions(Vec<u64>),
}

impl IfMatch {
    /// `None` when the header is absent; 400 when it is not `*` or a comma-separated list of
    /// entity tags (RFC 9110: `"…"` or `W/"…"`, visible ASCII other than `"` inside; the
    /// OpenAPI contract states the same grammar).
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<IfMatch>, Problem> {
        let values: Vec<_> = headers.get_all(header::IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(None);
        }
        let malformed = || {
            Problem::bad_request("If-Match must be \"*\" or a list of entity tags such as \"3\".")
        };
        let mut texts = Vec::with_capacity(values.len());
        for value in values {
            texts.push(value.to_str().map_err(|_| malformed())?);
        }
        let text = texts.join(", ");
        if text == "*" {
            return Ok(Some(IfMatch::Any));
        }
        let etag_char = |c: u8| c == b'!' || (b'#'..=b'~').contains(&c) && c != b',';
        let mut versions = Vec::new();
        for piece in text.split(',') {
            let tag = piece.trim_matches(' ');
            let (weak, tag) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .ok_or_else(malformed)?;
            if !inner.bytes().all(etag_char) {
                return Err(malformed());
            }
            // A well-formed tag that this API never issued simply matches nothing.
            if let (false, Ok(v)) = (weak, inner.parse::<u64>()) {
                versions.push(v);
            }
        }
        Ok(Some(IfMatch::Versions(versions)))
    }

    /// Whether the company's current `version` satisfies the header.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Versions(v) => v.contains(&version),
        }
    }

    /// Whether the client pinned a version (as opposed to `*`).
    pub fn is_pinned(&self) -> bool {
        matches!(self, IfMatch::Versions(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn if_match(v: &str) -> Result<Option<IfMatch>, Problem> {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        IfMatch::from_headers(&h)
    }

    #[test]
    fn if_match_parses_lists_stars_and_weak_tags() {
        assert_eq!(IfMatch::from_headers(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match("*").unwrap(), Some(IfMatch::Any));
        assert_eq!(if_match("\"3\"").unwrap(), Some(IfMatch::Versions(vec![3])));
        assert_eq!(
            if_match("\"1\", \"2\"").unwrap(),
            Some(IfMatch::Versions(vec![1, 2]))
        );
        let weak = if_match("W/\"3\"").unwrap().unwrap();
        assert!(!weak.matches(3));
        assert!(!if_match("\"abc\"").unwrap().unwrap().matches(1));
        assert!(if_match("3").is_err());
        assert!(if_match("").is_err());
        assert!(if_match(" , ").is_err());
        assert!(if_match("*, \"1\"").is_err());
        assert!(if_match("\"a b\"").is_err());
        assert!(if_match("\"1\"\t,\"2\"").is_err());
        assert!(!if_match("\"a-b\"").unwrap().unwrap().matches(1));
        assert!(if_match("\"3").is_err());
    }
}
