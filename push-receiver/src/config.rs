//! Command line and the credentials file.

use std::path::PathBuf;

pub const USAGE: &str = "usage: iys-push-receiver --listen ADDR:PORT --credentials-file FILE --database CONNINFO
                         (--tls-cert FILE --tls-key FILE | --plain-http)
  --listen            where to listen, e.g. 0.0.0.0:8443
  --credentials-file  one line username:password, the basic authentication IYS was given at
                      registration; readable by its owner only (mode 600)
  --database          libpq connection string of a role that may only run iys.receive_push
                      (see iys.grant_push_receiver_rights); its password from ~/.pgpass or PGPASSFILE
  --tls-cert/--tls-key  PEM certificate chain and private key of the https address IYS calls
  --plain-http        no TLS: only behind a proxy that terminates IYS's https on this host";

pub struct Config {
    pub listen: String,
    pub credentials: Credentials,
    pub database: String,
    pub tls: Option<(PathBuf, PathBuf)>,
}

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Never prints the password.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
        let (mut listen, mut credentials, mut database, mut cert, mut key, mut plain) = (None, None, None, None, None, false);
        let mut args = args.peekable();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--listen" => listen = Some(value()?),
                "--credentials-file" => credentials = Some(read_credentials(&PathBuf::from(value()?))?),
                "--database" => database = Some(value()?),
                "--tls-cert" => cert = Some(PathBuf::from(value()?)),
                "--tls-key" => key = Some(PathBuf::from(value()?)),
                "--plain-http" => plain = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        let tls = match (cert, key, plain) {
            (Some(cert), Some(key), false) => Some((cert, key)),
            (None, None, true) => None,
            _ => return Err("give --tls-cert and --tls-key, or --plain-http".into()),
        };
        Ok(Config {
            listen: listen.ok_or("--listen is required")?,
            credentials: credentials.ok_or("--credentials-file is required")?,
            database: database.ok_or("--database is required")?,
            tls,
        })
    }
}

/// `username:password` on the first line; refused when others may read it (like .pgpass).
pub fn read_credentials(path: &PathBuf) -> Result<Credentials, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("credentials file {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!("credentials file {} is readable by others: chmod 600 it", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("credentials file {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim_end_matches('\r');
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok(Credentials { username: user.to_owned(), password: password.to_owned() })
        }
        _ => Err(format!("credentials file {}: the first line must be username:password", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(name: &str, text: &str, mode: u32) -> PathBuf {
        let path = std::env::temp_dir().join(format!("iys-push-{name}-{}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn credentials_must_be_private_and_well_formed() {
        let good = file("good", "iys:s3cr:et\n", 0o600);
        let c = read_credentials(&good).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("iys", "s3cr:et"), "the password may hold a colon");
        let open = file("open", "iys:secret\n", 0o644);
        assert!(read_credentials(&open).unwrap_err().contains("chmod 600"));
        let bad = file("bad", "no colon here\n", 0o600);
        assert!(read_credentials(&bad).unwrap_err().contains("username:password"));
        for p in [good, open, bad] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn tls_or_plain_is_an_explicit_choice() {
        let creds = file("args", "iys:secret\n", 0o600);
        let args = |extra: &[&str]| {
            let mut v: Vec<String> = ["--listen", "127.0.0.1:0", "--database", "dbname=x", "--credentials-file", creds.to_str().unwrap()]
                .iter()
                .map(|s| s.to_string())
                .collect();
            v.extend(extra.iter().map(|s| s.to_string()));
            Config::from_args(v.into_iter())
        };
        assert!(args(&[]).is_err(), "neither TLS nor --plain-http");
        assert!(args(&["--plain-http"]).unwrap().tls.is_none());
        assert!(args(&["--tls-cert", "c", "--tls-key", "k"]).unwrap().tls.is_some());
        assert!(args(&["--tls-cert", "c", "--tls-key", "k", "--plain-http"]).is_err());
        let _ = std::fs::remove_file(creds);
    }
}
