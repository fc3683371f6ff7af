//! The database setting: which URLs are accepted, how one is written where people read it
//! (the password hidden), and the SQLite file it may name, which holds the generated signing
//! secret: created readable by its owner only, and reported at start when others may read it.

use anyhow::Context as _;

use super::ConfigError;

/// Accepts `sqlite:` and `postgres:`/`postgresql:` URLs only.
pub fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            setting: "DATABASE_URL (--database-url)",
            problem: format!(
                "'{}' is not a database URL; use sqlite://keepsake.db?mode=rwc or postgres://user@host/db",
                redact_url(url)
            ),
        })
    }
}

/// `KEEPSAKE_PG_POOLER`: unset (or `session`) for a direct connection or a session pooler,
/// `transaction` behind a transaction pooler, which only PostgreSQL sits behind.
pub fn check_pooler(value: Option<&str>, database_url: &str) -> Result<bool, ConfigError> {
    let setting = "KEEPSAKE_PG_POOLER (--pg-pooler)";
    match value.map(str::trim) {
        None | Some("" | "session" | "none") => Ok(false),
        Some("transaction") if database_url.starts_with("sqlite:") => Err(ConfigError {
            setting,
            problem: "a pooler stands only in front of PostgreSQL, and DATABASE_URL names \
                      SQLite; unset it"
                .into(),
        }),
        Some("transaction") => Ok(true),
        Some(other) => Err(ConfigError {
            setting,
            problem: format!(
                "'{other}' is not a pooling mode; write `transaction` behind PgBouncer's \
                 transaction pooling, or leave it unset"
            ),
        }),
    }
}

/// The URL with any password replaced by `***`, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The SQLite file a `sqlite:` URL names, if it names one (not `:memory:`).
pub fn sqlite_path(database_url: &str) -> Option<std::path::PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| path.into())
}

/// The embedded database holds the generated signing secret, so it must be readable by its
/// owner only: a new file is created `0600` before SQLite opens it (SQLite gives its `-wal`
/// and `-shm` files the same mode), and an existing one that others may read is reported at
/// start with the command that fixes it.
pub(crate) fn guard_sqlite_file(database_url: &str) -> anyhow::Result<()> {
    let Some(path) = sqlite_path(database_url) else {
        return Ok(());
    };
    if !path.exists() && !database_url.contains("mode=rwc") {
        anyhow::bail!(
            "DATABASE_URL (--database-url): the SQLite file {} does not exist; add ?mode=rwc \
             to the URL to create it (sqlite://{}?mode=rwc)",
            path.display(),
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if !path.exists() && database_url.contains("mode=rwc") {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!(
                            "DATABASE_URL (--database-url): cannot create {}",
                            path.display()
                        )
                    });
                }
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(meta) = std::fs::metadata(&file) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        file = %file.display(),
                        mode = format!("{mode:o}"),
                        "the database file is readable by other accounts on this host, and it \
                         holds the token signing secret: run `chmod 600 {}*`, then rotate the \
                         secret (README: Security)",
                        path.display()
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/keepsake"),
            "postgres://app:***@db:5432/keepsake"
        );
        assert_eq!(
            redact_url("postgres://app@db/keepsake"),
            "postgres://app@db/keepsake"
        );
        assert_eq!(
            redact_url("sqlite://keepsake.db?mode=rwc"),
            "sqlite://keepsake.db?mode=rwc"
        );
    }

    #[test]
    fn rejects_unknown_schemes() {
        assert!(check_database_url("mysql://root@localhost/x").is_err());
        assert!(check_database_url("keepsake.db").is_err());
        assert!(check_database_url("sqlite::memory:").is_ok());
    }
}
