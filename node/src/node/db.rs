//! The job store's database: one [`sqlx::AnyPool`] over SQLite (embedded default, one file, no
//! set-up) or PostgreSQL (several machines), chosen by the URL, with migrations per backend.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

/// Migrations of each backend: the same tables, type names differ (BLOB / BYTEA).
static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names neither backend.
    #[error("database URL `{0}`: use sqlite://<file> or postgres://user@host:port/db")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("connecting to {url}: {source}")]
    Connect {
        /// The URL without credentials.
        url: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating the job store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// Which database the URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The pool and its backend (a few statements differ: row locks exist only on Postgres).
#[derive(Clone)]
pub struct Db {
    /// Connections.
    pub pool: AnyPool,
    /// Backend of `pool`.
    pub backend: Backend,
}

/// Milliseconds since the Unix epoch (every time column).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `url` with any password replaced, for messages and logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// Connects to `url` and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            // Embedded default: create the file (and its folder) on first use unless the URL
            // says otherwise.
            let file = rest
                .trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or("");
            if let Some(parent) = std::path::Path::new(file).parent() {
                if !file.is_empty() && !file.contains(":memory:") && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|e| DbError::Connect {
                        url: url.to_string(),
                        source: sqlx::Error::Io(e),
                    })?;
                }
            }
            let url = if rest.contains('?') || rest.contains(":memory:") {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(DbError::UnsupportedUrl(redacted(url)));
        };
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Several prover processes may share the file: wait for the write lock
                        // (writes are short) rather than fail with SQLITE_BUSY after sqlx's 5 s.
                        sqlx::query("PRAGMA busy_timeout = 30000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| DbError::Connect {
                url: redacted(&url),
                source,
            })?;
        if sqlite {
            // WAL lets readers (status polls) run while a worker writes; it is a property of the
            // file, so setting it once per start is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        match backend {
            Backend::Sqlite => SQLITE.run(&pool).await?,
            Backend::Postgres => POSTGRES.run(&pool).await?,
        }
        Ok(Self { pool, backend })
    }

    /// The row-lock clause of a claim: Postgres skips rows another worker holds; SQLite has one
    /// writer at a time, so its single-statement claim is already exclusive.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn hides_the_password_of_a_url() {
        assert_eq!(
            redacted("postgres://poa:secret@127.0.0.1:5432/poa"),
            "postgres://poa:***@127.0.0.1:5432/poa"
        );
        assert_eq!(redacted("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
