//! The password file as libpq reads it: `PGPASSFILE`, else `~/.pgpass`; ignored (with a
//! warning) when others may read or write it; the first line matching host, port, database and
//! user gives the password.

use std::path::{Path, PathBuf};

use super::settings::Env;

/// `PGPASSFILE`, else `~/.pgpass`, if it may be used: libpq ignores a password file that
/// others can read or write (and says so).
pub(super) fn password_file(env: &dyn Env) -> Option<PathBuf> {
    let path = env
        .var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "companies-import: WARNING: password file {} has group or world access; \
                 permissions should be u=rw (0600) or less: it is ignored",
                path.display()
            );
            return None;
        }
    }
    meta.is_file().then_some(path)
}

/// The password of the first line of the password file matching host, port, database and
/// user (`*` matches anything; `\:` and `\\` escape).
pub(super) fn password_from_file(
    file: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    let wanted = [host, port.as_str(), dbname, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .find_map(|line| {
            let fields = pgpass_fields(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

/// The fields of a password file line: `host:port:database:user:password`, the last taking
/// the rest of the line.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}
