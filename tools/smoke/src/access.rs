//! What the smoke suite may call and with what: the API's URL, the credentials (from the
//! environment only, never from the command line), the rules that keep a secret from being
//! sent where it should not go, and what a token allows.
//!
//! The local API (`make run`) and `sam local start-api` have no authorizer (every route is open
//! there; writes are the `anonymous` actor's), so against a plain `http://` URL no credentials
//! are needed. A deployed stage is `https://` behind the JWT authorizer: there a run without
//! credentials is refused before any request, as is a token sent in clear to another machine.

use std::fmt;
use std::net::IpAddr;

use anyhow::{bail, Context, Result};
use reqwest::Url;

/// The scopes asked for with the client credentials flow when `SMOKE_SCOPES` is unset.
pub const READ_SCOPES: &str = "companies/read";
/// The same with `--write`: the round trip changes a company and reads its history.
pub const WRITE_SCOPES: &str = "companies/read companies/write companies/audit";
/// What the round trip of `--write` needs besides reading.
pub const WRITE_NEEDS: [&str; 2] = ["companies/write", "companies/audit"];
/// What reading a company's history needs (`companies/read` does not imply it).
pub const AUDIT: &str = "companies/audit";

/// A secret (a token, a client secret): its `Debug` never shows it, and nothing prints it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that sends it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How the suite authenticates.
#[derive(Debug)]
pub enum Credentials {
    /// None: the local API and `sam local` have no authorizer.
    Anonymous,
    /// `SMOKE_TOKEN`: a bearer token obtained elsewhere.
    Token(Secret),
    /// `SMOKE_CLIENT_ID`, `SMOKE_CLIENT_SECRET`, `SMOKE_TOKEN_URL` (and `SMOKE_SCOPES`): the
    /// OAuth2 client credentials grant against the stack's Cognito domain.
    Client {
        id: String,
        secret: Secret,
        token_url: Url,
        scopes: String,
    },
}

const CLIENT_VARS: [&str; 3] = ["SMOKE_CLIENT_ID", "SMOKE_CLIENT_SECRET", "SMOKE_TOKEN_URL"];

impl Credentials {
    /// The credentials the environment holds (an empty variable counts as unset).
    pub fn from_env(write: bool) -> Result<Credentials> {
        Self::from_vars(
            |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            write,
        )
    }

    /// The same from `var` (a variable's value by its name), for the tests.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, write: bool) -> Result<Credentials> {
        let token = var("SMOKE_TOKEN");
        let client: Vec<Option<String>> = CLIENT_VARS.iter().map(|name| var(name)).collect();
        let any_client = client.iter().any(Option::is_some);
        match (token, client.as_slice()) {
            (Some(_), _) if any_client => bail!(
                "set either SMOKE_TOKEN or SMOKE_CLIENT_ID, SMOKE_CLIENT_SECRET and \
                 SMOKE_TOKEN_URL, not both"
            ),
            (Some(token), _) => Ok(Credentials::Token(Secret::new(token))),
            (None, [Some(id), Some(secret), Some(url)]) => {
                let token_url = endpoint(url, "SMOKE_TOKEN_URL")?;
                if token_url.scheme() != "https" && !is_loopback(&token_url) {
                    bail!("SMOKE_TOKEN_URL must be https:// (the client secret would travel in clear)");
                }
                let default = if write { WRITE_SCOPES } else { READ_SCOPES };
                Ok(Credentials::Client {
                    id: id.clone(),
                    secret: Secret::new(secret.clone()),
                    token_url,
                    scopes: var("SMOKE_SCOPES").unwrap_or_else(|| default.to_owned()),
                })
            }
            (None, _) if any_client => {
                let missing: Vec<&str> = CLIENT_VARS
                    .iter()
                    .zip(&client)
                    .filter(|(_, value)| value.is_none())
                    .map(|(name, _)| *name)
                    .collect();
                bail!(
                    "the client credentials flow needs SMOKE_CLIENT_ID, SMOKE_CLIENT_SECRET and \
                     SMOKE_TOKEN_URL; {} unset",
                    missing.join(", ")
                )
            }
            (None, _) => Ok(Credentials::Anonymous),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Credentials::Anonymous)
    }
}

/// `text` as an http(s) URL with a host and no user name or password in it (a credential on
/// the command line is visible to every user of the machine).
pub fn endpoint(text: &str, what: &str) -> Result<Url> {
    let url = Url::parse(text).with_context(|| format!("{what} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("{what} must be an http:// or https:// URL with a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!(
            "{what} holds a user name or password: credentials are read from the environment \
             only (SMOKE_TOKEN, or SMOKE_CLIENT_ID and SMOKE_CLIENT_SECRET)"
        );
    }
    Ok(url)
}

/// The API's base URL, checked against the credentials: a deployed stage (https) needs some,
/// and a token never goes in clear to another machine.
pub fn target(text: &str, credentials: &Credentials) -> Result<Url> {
    let url = endpoint(text, "--url")?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!("--url is the API's base URL: no query or fragment");
    }
    match (url.scheme(), credentials.is_anonymous()) {
        ("https", true) => bail!(
            "{url} needs credentials in the environment: SMOKE_TOKEN (a bearer token), or \
             SMOKE_CLIENT_ID, SMOKE_CLIENT_SECRET and SMOKE_TOKEN_URL (client credentials; see \
             docs/deploying.md). Only the local API and sam local (plain http) need none"
        ),
        ("http", false) if !is_loopback(&url) => bail!(
            "{url} is plain http on another machine: the token would travel in clear (use \
             https, or unset the SMOKE_ credentials for an open local API)"
        ),
        _ => Ok(url),
    }
}

/// Whether `url` names this machine's loopback (`localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const CLIENT: [(&str, &str); 3] = [
        ("SMOKE_CLIENT_ID", "id"),
        ("SMOKE_CLIENT_SECRET", "secret"),
        (
            "SMOKE_TOKEN_URL",
            "https://d.auth.sa-east-1.amazoncognito.com/oauth2/token",
        ),
    ];

    #[test]
    fn the_scopes_asked_for_follow_write_unless_set() {
        let scopes =
            |pairs: &[(&str, &str)], write| match Credentials::from_vars(vars(pairs), write) {
                Ok(Credentials::Client { scopes, .. }) => scopes,
                other => panic!("{other:?}"),
            };
        assert_eq!(scopes(&CLIENT, false), READ_SCOPES);
        assert_eq!(scopes(&CLIENT, true), WRITE_SCOPES);
        let mut set = CLIENT.to_vec();
        set.push(("SMOKE_SCOPES", "companies/read companies/audit"));
        assert_eq!(scopes(&set, true), "companies/read companies/audit");
        assert!(matches!(
            Credentials::from_vars(vars(&[]), true),
            Ok(Credentials::Anonymous)
        ));
    }

    #[test]
    fn a_deployed_stage_needs_credentials_and_a_token_never_travels_in_clear() {
        let token = Credentials::Token(Secret::new("t".into()));
        let none = Credentials::Anonymous;
        assert!(target("https://abc.execute-api.sa-east-1.amazonaws.com", &token).is_ok());
        assert!(target("https://abc.execute-api.sa-east-1.amazonaws.com", &none).is_err());
        for local in [
            "http://127.0.0.1:3000",
            "http://localhost:3001/",
            "http://[::1]:3000",
        ] {
            assert!(target(local, &none).is_ok(), "{local}");
            assert!(target(local, &token).is_ok(), "{local}");
        }
        assert!(target("http://devbox:3000", &none).is_ok());
        assert!(target("http://devbox:3000", &token).is_err());
        for bad in [
            "ftp://x",
            "https://u:p@x",
            "https://x?limit=1",
            "not a url",
            "https://u@x",
        ] {
            assert!(target(bad, &token).is_err(), "{bad}");
        }
    }
}
