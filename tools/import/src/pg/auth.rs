//! How the server may make the importer authenticate: libpq's `require_auth` (the methods the
//! server may ask for), and the rule that a password is sent in cleartext or as an MD5 hash
//! only over verified TLS. tokio-postgres answers the server's authentication request itself,
//! so the check reads that request off the stream before the driver sees it (see
//! [`super::guard`]): [`AuthPolicy::judge`] is the verdict on the server's first message.

use std::io;

use anyhow::bail;

/// A way the server can ask the client to authenticate, by libpq's `require_auth` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No authentication: the server accepts the connection at once.
    None,
    /// The password in cleartext.
    Password,
    /// The password hashed with MD5 (and a salt): replayable, and crackable offline.
    Md5,
    Gss,
    Sspi,
    /// SCRAM-SHA-256 (SASL): the password is never sent.
    ScramSha256,
}

impl AuthMethod {
    const ALL: [AuthMethod; 6] = [
        AuthMethod::None,
        AuthMethod::Password,
        AuthMethod::Md5,
        AuthMethod::Gss,
        AuthMethod::Sspi,
        AuthMethod::ScramSha256,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::ScramSha256 => "scram-sha-256",
        }
    }

    /// The method of an `AuthenticationRequest` ('R') code, if it is the first of an exchange.
    fn of_request(code: i32) -> Option<AuthMethod> {
        Some(match code {
            0 => AuthMethod::None,
            3 => AuthMethod::Password,
            5 => AuthMethod::Md5,
            // Kerberos V5 (2) is long gone from the server; GSSAPI (7), SSPI (9).
            2 | 7 => AuthMethod::Gss,
            9 => AuthMethod::Sspi,
            10 => AuthMethod::ScramSha256,
            _ => return None,
        })
    }
}

/// libpq's `require_auth`: the methods the server may ask for (`scram-sha-256`, or a list
/// such as `password,md5`), or, each name negated (`!password,!md5`), the methods it may not.
/// Unset, any method is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireAuth {
    methods: Vec<AuthMethod>,
    /// The list names what is refused rather than what is allowed.
    negated: bool,
}

impl Default for RequireAuth {
    fn default() -> Self {
        RequireAuth {
            methods: Vec::new(),
            negated: true,
        }
    }
}

impl std::fmt::Display for RequireAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bang = if self.negated { "!" } else { "" };
        let names: Vec<String> = self
            .methods
            .iter()
            .map(|m| format!("{bang}{}", m.name()))
            .collect();
        f.write_str(&names.join(","))
    }
}

impl RequireAuth {
    /// Reads libpq's syntax: a comma-separated list of method names, all or none of them with
    /// `!`, each once.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let known = || {
            let names: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.name()).collect();
            names.join(", ")
        };
        let mut methods = Vec::new();
        let mut negated = None;
        for item in text.split(',').map(str::trim) {
            let (bang, name) = match item.strip_prefix('!') {
                Some(name) => (true, name),
                None => (false, item),
            };
            let Some(method) = AuthMethod::ALL.into_iter().find(|m| m.name() == name) else {
                bail!(
                    "require_auth: unknown method {name:?} (the methods: {}; each may be \
                     negated with !)",
                    known()
                );
            };
            if *negated.get_or_insert(bang) != bang {
                bail!("require_auth: negative and positive methods cannot be mixed ({text:?})");
            }
            if methods.contains(&method) {
                bail!("require_auth: method {name:?} is named more than once");
            }
            methods.push(method);
        }
        Ok(RequireAuth {
            methods,
            negated: negated.unwrap_or(false),
        })
    }

    pub fn allows(&self, method: AuthMethod) -> bool {
        self.methods.contains(&method) != self.negated
    }
}

/// What may happen on one connection's stream when the server asks the client to
/// authenticate.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub require_auth: RequireAuth,
    /// The password may be sent in cleartext or as an MD5 hash: the stream is TLS whose server
    /// certificate was verified (or a Unix socket, which no network carries).
    pub password_allowed: bool,
    /// The stream, for messages: "plain text", "TLS that does not verify the server
    /// (sslmode=require)", …
    pub transport: String,
}

impl AuthPolicy {
    /// The verdict on what the server sent first after the start-up message (`head`: its
    /// first bytes): `None` while more bytes are needed to judge; an error refusing the
    /// connection when the server asks for a method `require_auth` does not allow, or for the
    /// password in cleartext or as MD5 over a stream that does not allow it. Anything but an
    /// authentication request (an error from the server) passes.
    pub fn judge(&self, head: &[u8]) -> Option<io::Result<()>> {
        match head {
            [] => None,
            [b'R', rest @ ..] => {
                let code = rest.get(4..8)?;
                let code = i32::from_be_bytes([code[0], code[1], code[2], code[3]]);
                Some(match AuthMethod::of_request(code) {
                    Some(method) => self.check(method),
                    None => Ok(()),
                })
            }
            _ => Some(Ok(())),
        }
    }

    fn check(&self, method: AuthMethod) -> io::Result<()> {
        let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
        if !self.require_auth.allows(method) {
            let asked = match method {
                AuthMethod::None => "no authentication at all".to_owned(),
                other => format!("{} authentication", other.name()),
            };
            return refuse(format!(
                "the server asked for {asked}, which require_auth={} does not allow",
                self.require_auth
            ));
        }
        let how = match method {
            AuthMethod::Password => "in cleartext",
            AuthMethod::Md5 => "as an MD5 hash",
            _ => return Ok(()),
        };
        if self.password_allowed {
            return Ok(());
        }
        refuse(format!(
            "the server asked for the password {how} over {}: refusing to send it (whoever is on \
             the network path could read or replay it). Connect with sslmode=verify-full (or \
             verify-ca with the server's CA as sslrootcert), or have the server ask for \
             scram-sha-256 (pg_hba.conf, password_encryption)",
            self.transport
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `AuthenticationRequest` message with `code` (and `extra` bytes of its body).
    fn request(code: i32, extra: &[u8]) -> Vec<u8> {
        let mut message = vec![b'R'];
        let length = u32::try_from(8 + extra.len()).unwrap();
        message.extend(length.to_be_bytes());
        message.extend(code.to_be_bytes());
        message.extend(extra);
        message
    }

    fn policy(require_auth: &str, password_allowed: bool) -> AuthPolicy {
        AuthPolicy {
            require_auth: if require_auth.is_empty() {
                RequireAuth::default()
            } else {
                RequireAuth::parse(require_auth).unwrap()
            },
            password_allowed,
            transport: "plain text".into(),
        }
    }

    #[test]
    fn require_auth_reads_as_libpq_reads_it() {
        let scram = RequireAuth::parse("scram-sha-256").unwrap();
        assert!(scram.allows(AuthMethod::ScramSha256));
        assert!(!scram.allows(AuthMethod::Password) && !scram.allows(AuthMethod::None));
        let not_password = RequireAuth::parse("!password,!md5").unwrap();
        assert!(!not_password.allows(AuthMethod::Md5));
        assert!(
            not_password.allows(AuthMethod::ScramSha256) && not_password.allows(AuthMethod::None)
        );
        assert_eq!(not_password.to_string(), "!password,!md5");
        assert!(RequireAuth::default().allows(AuthMethod::Password));
        for bad in ["scram", "scram-sha-256,!md5", "md5,md5", "", "password,"] {
            assert!(RequireAuth::parse(bad).is_err(), "{bad}");
        }
    }

    /// A cleartext or MD5 password request is refused unless the stream allows it; SCRAM and
    /// no authentication pass; an incomplete request waits for more bytes.
    #[test]
    fn the_password_goes_only_where_it_may() {
        let plain = policy("", false);
        let salt = [1, 2, 3, 4];
        for refused in [request(3, &[]), request(5, &salt)] {
            let err = plain.judge(&refused).unwrap().unwrap_err();
            assert!(err.to_string().contains("refusing to send it"), "{err}");
            assert!(policy("", true).judge(&refused).unwrap().is_ok());
        }
        assert!(plain
            .judge(&request(10, b"SCRAM-SHA-256\0\0"))
            .unwrap()
            .is_ok());
        assert!(plain.judge(&request(0, &[])).unwrap().is_ok());
        assert!(plain.judge(&request(3, &[])[..8]).is_none());
        assert!(plain.judge(&[]).is_none());
        // An error from the server (a pg_hba.conf reject) is the driver's to report.
        assert!(plain.judge(b"E\0\0\0\x08SFATAL").unwrap().is_ok());
    }

    #[test]
    fn a_method_require_auth_does_not_allow_is_refused() {
        let scram = policy("scram-sha-256", true);
        let err = scram.judge(&request(3, &[])).unwrap().unwrap_err();
        assert!(
            err.to_string().contains("require_auth=scram-sha-256"),
            "{err}"
        );
        let err = scram.judge(&request(0, &[])).unwrap().unwrap_err();
        assert!(err.to_string().contains("no authentication"), "{err}");
        assert!(policy("password", true)
            .judge(&request(3, &[]))
            .unwrap()
            .is_ok());
        assert!(policy("!none", true)
            .judge(&request(0, &[]))
            .unwrap()
            .is_err());
        assert!(policy("none", true)
            .judge(&request(0, &[]))
            .unwrap()
            .is_ok());
    }
}
