//! API keys: 256-bit random secrets shown once at creation; the database keeps only their
//! SHA-256, so a leaked database does not leak usable keys.

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::db::{now_ms, Db};

/// Prefix of every key, so a key is recognisable in logs and secret scanners.
pub const KEY_PREFIX: &str = "poa_";

/// `n` random bytes from the OS as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// SHA-256 of a key, hex.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A key just created: `secret` is never stored.
pub struct NewKey {
    /// Key id (stored; appears in job rows).
    pub id: String,
    /// The key to give the client.
    pub secret: String,
}

/// Creates a key named `name`.
pub async fn create(db: &Db, name: &str) -> Result<NewKey, sqlx::Error> {
    let id = random_hex(8);
    let secret = format!("{KEY_PREFIX}{}", random_hex(32));
    sqlx::query("INSERT INTO api_keys (id, name, key_sha256, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(name)
        .bind(key_hash(&secret))
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(NewKey { id, secret })
}

/// The id of the key `secret`, if it is one.
pub async fn lookup(db: &Db, secret: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM api_keys WHERE key_sha256 = $1")
        .bind(key_hash(secret))
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| r.try_get::<String, _>("id")).transpose()
}
