//! Making sure `SECRETS_KEY` opens what is stored, before anything depends on it.
//!
//! Every key that writes to the database leaves a check value sealed under it in
//! `secrets_key_checks`. A process starting with a key checks it against them: a key that
//! opens none of the stored secrets is a permanent error at start, with one clear message —
//! not a stream of failed deliveries discovered later.

use crate::database::Database;
use crate::error::StoreError;
use crate::secrets::SecretsKey;
use crate::webhooks::sealing_context;

/// What a check value holds, and the context it is sealed for.
const CHECK_PLAINTEXT: &[u8] = b"herald secrets key check";
const CHECK_CONTEXT: &str = "herald/secrets-key-check";

/// Verifies that `key` opens the secrets stored in `database`, and records a check value for
/// it when it is the first key to write there (or opens the webhooks written before checks
/// existed).
pub async fn verify_key(database: &Database, key: &SecretsKey) -> Result<(), StoreError> {
    let client = database.pool().get().await?;
    let checks = client
        .query("SELECT key_id, sealed FROM secrets_key_checks", &[])
        .await?;
    let mut others = Vec::new();
    for row in &checks {
        let key_id: String = row.try_get(0)?;
        let sealed: Vec<u8> = row.try_get(1)?;
        if key_id == key.id() {
            return match key.open(CHECK_CONTEXT, &sealed) {
                Ok(plain) if plain == CHECK_PLAINTEXT => Ok(()),
                _ => Err(wrong_key(key, &[key_id])),
            };
        }
        others.push(key_id);
    }
    if !others.is_empty() {
        return Err(wrong_key(key, &others));
    }
    // No check value yet: a new database, or one written before checks existed, whose
    // webhooks say whether this key is the right one.
    let sample = client
        .query_opt(
            "SELECT id, signing_secret_sealed FROM webhooks LIMIT 1",
            &[],
        )
        .await?;
    if let Some(row) = sample {
        let id: String = row.try_get(0)?;
        let sealed: Vec<u8> = row.try_get(1)?;
        let context = sealing_context(&id, crate::webhooks::SIGNING_SECRET);
        if key.open(&context, &sealed).is_err() {
            return Err(StoreError::WrongKey(format!(
                "SECRETS_KEY does not open the signing secrets stored in this database (webhook {id}): start with the key they were written with"
            )));
        }
    }
    client
        .execute(
            "INSERT INTO secrets_key_checks (key_id, sealed) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&key.id(), &key.seal(CHECK_CONTEXT, CHECK_PLAINTEXT)],
        )
        .await?;
    tracing::info!(key_id = key.id(), "recorded a check value for SECRETS_KEY");
    Ok(())
}

fn wrong_key(key: &SecretsKey, stored: &[String]) -> StoreError {
    StoreError::WrongKey(format!(
        "SECRETS_KEY (key id {}) does not open the secrets stored in this database, which were sealed with key id {}: start with that key",
        key.id(),
        stored.join(", ")
    ))
}
