//! The settings of a connection, read from a `postgresql://` URL (or key=value string) and the
//! environment as libpq reads them: host, port, database, user and password; TLS (`sslmode`,
//! `sslrootcert`); what the server may ask of the importer to authenticate it
//! (`require_auth`, `channel_binding`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{anyhow, bail};
use tokio_postgres::config::{ChannelBinding, Host};
use tokio_postgres::Config;

use super::auth::{AuthMethod, RequireAuth};
use super::passfile::{password_file, password_from_file};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// An `sslmode` libpq does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown sslmode {0:?} (disable, prefer, require, verify-ca, verify-full)")]
pub struct UnknownSslMode(String);

impl FromStr for SslMode {
    type Err = UnknownSslMode;
    fn from_str(s: &str) -> Result<Self, UnknownSslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            // libpq's `allow` tries plain text first; nothing here is worth that downgrade.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(UnknownSslMode(other.to_owned())),
        })
    }
}

/// The environment a connection's settings come from (`std::env` in the tool; tests give
/// their own).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process's environment; a variable set empty counts as unset, as libpq has it.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| (*v).to_owned())
    }
}

/// Everything needed to connect, read from a URL and the environment.
pub struct ConnectionSettings {
    /// tokio-postgres's settings: host, port, user, password, database, `channel_binding`.
    pub(super) config: Config,
    pub ssl_mode: SslMode,
    /// The CA bundle trusted; `None`: Mozilla's roots compiled in (`sslrootcert=system`).
    pub(super) root_cert: Option<PathBuf>,
    pub(super) require_auth: RequireAuth,
    pub target: RedactedTarget,
}

/// What a message may say of the database: user, host, port and database name, no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactedTarget(String);

impl std::fmt::Display for RedactedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ConnectionSettings {
    /// Reads a `postgresql://` URL (or key=value string; none: the environment alone) and what
    /// libpq reads from the environment: `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`,
    /// `PGPASSWORD`, `PGPASSFILE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGREQUIREAUTH`,
    /// `PGCHANNELBINDING`. Settings that cannot work together are refused here, before
    /// anything is sent.
    pub fn new(url: Option<&str>, env: &dyn Env) -> anyhow::Result<Self> {
        let (rest, mut params) = split_libpq_params(url.unwrap_or_default());
        // The importer opens the connection itself (to guard what the server asks for), so
        // settings only the driver's own connect honours would be silently dropped: refused.
        if let Some((_, query)) = rest.split_once('?') {
            for name in query.split('&').filter_map(|pair| pair.split('=').next()) {
                if matches!(
                    name,
                    "sslnegotiation" | "target_session_attrs" | "load_balance_hosts"
                ) {
                    bail!("{name} is not supported by companies-import: leave it out of the URL");
                }
            }
        }
        let mut config = if rest.trim().is_empty() {
            Config::new()
        } else {
            Config::from_str(&rest).map_err(|e| {
                // The parser's message can quote the string: say only what kind of thing is
                // wrong, and keep the parser's error out of the chain.
                let kind = e.to_string();
                let kind = kind.split(':').next().unwrap_or("invalid");
                anyhow!("the PostgreSQL URL is not valid ({kind})")
            })?
        };
        let mut setting = |name: &str, var: &str| params.remove(name).or_else(|| env.var(var));
        let ssl_mode = match setting("sslmode", "PGSSLMODE") {
            Some(mode) => mode.parse()?,
            None => SslMode::VerifyFull,
        };
        let root_cert = root_cert(setting("sslrootcert", "PGSSLROOTCERT"), ssl_mode, env)?;
        // An empty value is unset, as libpq reads it.
        let require_auth = match setting("require_auth", "PGREQUIREAUTH").filter(|m| !m.is_empty())
        {
            Some(methods) => RequireAuth::parse(&methods)?,
            None => RequireAuth::default(),
        };
        let channel_binding = match setting("channel_binding", "PGCHANNELBINDING").as_deref() {
            None | Some("prefer") => ChannelBinding::Prefer,
            Some("disable") => ChannelBinding::Disable,
            Some("require") => ChannelBinding::Require,
            Some(other) => bail!("unknown channel_binding {other:?} (disable, prefer, require)"),
        };
        if channel_binding == ChannelBinding::Require {
            if ssl_mode == SslMode::Disable {
                bail!("channel_binding=require needs TLS, and sslmode=disable turns it off");
            }
            if !require_auth.allows(AuthMethod::ScramSha256) {
                bail!(
                    "channel_binding=require needs scram-sha-256, which \
                     require_auth={require_auth} does not allow"
                );
            }
        }
        config.channel_binding(channel_binding);
        from_environment(&mut config, env)?;
        let user = config.get_user().unwrap_or_default().to_owned();
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let dbname = config.get_dbname().unwrap_or(&user).to_owned();
        if config.get_password().is_none() {
            let password = env.var("PGPASSWORD").or_else(|| {
                password_file(env).and_then(|f| password_from_file(&f, &host, port, &dbname, &user))
            });
            if let Some(password) = password {
                config.password(password);
            }
        }
        Ok(ConnectionSettings {
            config,
            ssl_mode,
            root_cert,
            require_auth,
            target: RedactedTarget(format!("{user}@{host}:{port}/{dbname}")),
        })
    }
}

/// The CA bundle to trust (`None`: Mozilla's roots compiled in) for `sslrootcert` (`system`:
/// those roots, and then only with `verify-full`, as libpq has it; unset: libpq's default
/// file when it exists). `verify-ca` needs a bundle: any public CA's certificate for any name
/// would pass it.
fn root_cert(
    named: Option<String>,
    ssl_mode: SslMode,
    env: &dyn Env,
) -> anyhow::Result<Option<PathBuf>> {
    let root_cert = match named.as_deref() {
        Some("system") if ssl_mode != SslMode::VerifyFull => bail!(
            "sslrootcert=system needs sslmode=verify-full (sslmode={}): trusting every public \
             CA means nothing unless the server's name is checked too",
            ssl_mode.name()
        ),
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => env.var("HOME").and_then(|home| {
            let path = Path::new(&home).join(".postgresql/root.crt");
            path.exists().then_some(path)
        }),
    };
    if ssl_mode == SslMode::VerifyCa && root_cert.is_none() {
        bail!(
            "sslmode=verify-ca needs sslrootcert, the CA that issued the server's certificate \
             (set sslrootcert=/path/to/ca.pem or PGSSLROOTCERT; for Amazon RDS, its region's \
             bundle), or use sslmode=verify-full"
        );
    }
    Ok(root_cert)
}

/// What the URL leaves out, from libpq's variables: host, port, database and user. Without a
/// host from either, there is no source to read.
fn from_environment(config: &mut Config, env: &dyn Env) -> anyhow::Result<()> {
    if config.get_hosts().is_empty() {
        let Some(hosts) = env.var("PGHOST") else {
            bail!(
                "no source database: set DATABASE_URL (postgresql://user@host/database, without \
                 the password) or PGHOST, PGDATABASE, PGUSER in the environment"
            );
        };
        for host in hosts.split(',') {
            config.host(host.trim());
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env.var("PGPORT") {
            let port = port
                .parse()
                .map_err(|_| anyhow!("PGPORT {port:?} is not a port number"))?;
            config.port(port);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(dbname) = env.var("PGDATABASE") {
            config.dbname(dbname);
        }
    }
    if config.get_user().is_none() {
        if let Some(user) = env.var("PGUSER").or_else(|| env.var("USER")) {
            config.user(&user);
        }
    }
    Ok(())
}

/// Whether `url` (a URL or key=value string) holds a password: in its user information
/// (`user:password@`), or as a `password` parameter; read even where the URL is not valid.
pub fn holds_password(url: &str) -> bool {
    let (rest, _) = split_libpq_params(url);
    let parsed = Config::from_str(&rest).ok();
    if parsed.is_some_and(|c| c.get_password().is_some_and(|p| !p.is_empty())) {
        return true;
    }
    let in_user_info = url.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        authority
            .rsplit_once('@')
            .and_then(|(user_info, _)| user_info.split_once(':'))
            .is_some_and(|(_, password)| !password.is_empty())
    });
    let as_parameter = url
        .split(['?', '&', ' ', '\t', '\n'])
        .filter_map(|pair| pair.trim().strip_prefix("password"))
        .any(|value| {
            value
                .trim_start()
                .strip_prefix('=')
                .is_some_and(|v| !v.trim().is_empty())
        });
    in_user_info || as_parameter
}

/// The URL without the query parameters read here rather than by tokio-postgres (`sslmode`
/// takes values it does not know, `sslrootcert` and `require_auth` it ignores, and its
/// message on a bad `channel_binding` says nothing of which), and those parameters.
fn split_libpq_params(url: &str) -> (String, HashMap<String, String>) {
    let mut params = HashMap::new();
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), params);
    };
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((k @ ("sslmode" | "sslrootcert" | "require_auth" | "channel_binding"), v)) => {
                params.insert(k.to_owned(), percent_decode(v));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, params)
}

/// A URL query value with its `%XX` escapes decoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn the_target_never_holds_the_password() {
        let s = ConnectionSettings::new(
            Some("postgresql://reader:s3cr3t@old-db.internal:6543/companies"),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(
            s.target.to_string(),
            "reader@old-db.internal:6543/companies"
        );
        let e = ConnectionSettings::new(
            Some("postgresql://reader:s3cr3t@old-db.internal:port/x"),
            &env(&[]),
        )
        .err()
        .map(|e| format!("{e:#}"))
        .unwrap();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn sslmode_and_root_come_from_the_url_or_the_environment() {
        let s = ConnectionSettings::new(
            Some("postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem"),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some(Path::new("/tmp/ca.pem")));
        let s = ConnectionSettings::new(
            Some("postgresql://u@h/db"),
            &env(&[("PGSSLMODE", "require")]),
        )
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::Require);
        let s = ConnectionSettings::new(Some("postgresql://u@h/db?application_name=x"), &env(&[]))
            .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyFull, "the default");
        assert!(
            ConnectionSettings::new(Some("postgresql://u@h/db?sslmode=sometimes"), &env(&[]))
                .is_err()
        );
    }

    /// Settings libpq refuses before connecting are refused here: verify-ca without a CA,
    /// sslrootcert=system short of verify-full, channel binding without TLS or SCRAM, an
    /// unknown require_auth or channel_binding.
    #[test]
    fn settings_that_cannot_work_are_refused_before_connecting() {
        let refused = |url: &str| {
            let e = ConnectionSettings::new(Some(url), &env(&[])).err().unwrap();
            format!("{e:#}")
        };
        assert!(refused("postgresql://u@h/db?sslmode=verify-ca").contains("needs sslrootcert"));
        let s = ConnectionSettings::new(
            Some("postgresql://u@h/db?sslmode=verify-ca&sslrootcert=/ca.pem"),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyCa);
        let s = ConnectionSettings::new(Some("postgresql://u@h/db?sslrootcert=system"), &env(&[]))
            .unwrap();
        assert_eq!((s.ssl_mode, s.root_cert), (SslMode::VerifyFull, None));
        assert!(
            refused("postgresql://u@h/db?sslrootcert=system&sslmode=require")
                .contains("sslmode=verify-full")
        );
        assert!(
            refused("postgresql://u@h/db?sslmode=disable&channel_binding=require")
                .contains("needs TLS")
        );
        assert!(
            refused("postgresql://u@h/db?require_auth=password&channel_binding=require")
                .contains("scram-sha-256")
        );
        assert!(refused("postgresql://u@h/db?require_auth=kerberos").contains("unknown method"));
        assert!(refused("postgresql://u@h/db?channel_binding=maybe").contains("channel_binding"));
        for unsupported in [
            "sslnegotiation=direct",
            "target_session_attrs=read-write",
            "load_balance_hosts=random",
        ] {
            let url = format!("postgresql://u@h/db?{unsupported}");
            assert!(refused(&url).contains("is not supported"), "{unsupported}");
        }
        let s = ConnectionSettings::new(
            Some("postgresql://u@h/db?channel_binding=require&require_auth=scram-sha-256"),
            &env(&[]),
        )
        .unwrap();
        assert_eq!(s.config.get_channel_binding(), ChannelBinding::Require);
        assert!(s.require_auth.allows(AuthMethod::ScramSha256));
    }

    /// Without a URL, or where it leaves them out, the host, port, database and user come from
    /// libpq's variables; without a host from either, there is nothing to connect to.
    #[test]
    fn the_source_can_come_from_libpqs_variables() {
        let s = ConnectionSettings::new(
            None,
            &env(&[
                ("PGHOST", "old-db.internal"),
                ("PGPORT", "6543"),
                ("PGDATABASE", "companies"),
                ("PGUSER", "reader"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.target.to_string(),
            "reader@old-db.internal:6543/companies"
        );
        let s = ConnectionSettings::new(Some("postgresql://u@h"), &env(&[("PGDATABASE", "c")]))
            .unwrap();
        assert_eq!(s.target.to_string(), "u@h:5432/c");
        let e = ConnectionSettings::new(None, &env(&[])).err().unwrap();
        assert!(e.to_string().contains("DATABASE_URL"), "{e}");
    }

    #[test]
    fn a_password_is_found_wherever_the_url_holds_it() {
        for with in [
            "postgresql://u:s3cr3t@h/db",
            "postgres://u:s3cr3t@h:port/db",
            "postgresql://u@h/db?sslmode=require&password=s3cr3t",
            "host=h user=u password=s3cr3t",
        ] {
            assert!(holds_password(with), "{with}");
        }
        for without in [
            "postgresql://u@h/db",
            "postgresql://password@h/db?user=password_reader",
            "postgresql://u:@h/db",
            "host=h user=u",
        ] {
            assert!(!holds_password(without), "{without}");
        }
    }

    #[test]
    fn the_password_comes_from_the_url_pgpassword_or_the_password_file() {
        let dir = std::env::temp_dir().join(format!("pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:u:nope\nh:5432:db:u:from\\:file\n*:*:*:*:fallback\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let passfile = file.to_str().unwrap().to_owned();
        let passfile: &'static str = Box::leak(passfile.into_boxed_str());
        let password = |url: &str, pairs: &[(&'static str, &'static str)]| {
            ConnectionSettings::new(Some(url), &env(pairs))
                .unwrap()
                .config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        };
        assert_eq!(
            password("postgresql://u:inurl@h/db", &[("PGPASSWORD", "env")]).as_deref(),
            Some("inurl")
        );
        assert_eq!(
            password(
                "postgresql://u@h/db",
                &[("PGPASSWORD", "env"), ("PGPASSFILE", passfile)]
            )
            .as_deref(),
            Some("env")
        );
        assert_eq!(
            password("postgresql://u@h/db", &[("PGPASSFILE", passfile)]).as_deref(),
            Some("from:file")
        );
        assert_eq!(
            password("postgresql://u@h:5433/db", &[("PGPASSFILE", passfile)]).as_deref(),
            Some("fallback")
        );
        // A password file others can read is ignored, as libpq ignores it.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            password("postgresql://u@h/db", &[("PGPASSFILE", passfile)]),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
