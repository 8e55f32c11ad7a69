//! `SECRETS_KEY` against what is stored: checked at start, rotated online.
//!
//! Every key that writes to the database leaves a check value sealed under it in
//! `secrets_key_checks`. A process starting with keys of which none opens the stored secrets
//! stops at once, with one clear message — not a stream of failed deliveries discovered
//! later. [`rotate`] re-seals every stored secret with the current key, in batches.

use crate::database::Database;
use crate::error::StoreError;
use crate::secrets::{Keyring, SecretsKey};
use crate::webhooks::{SIGNING_SECRET, sealing_context};

/// What a check value holds, and the context it is sealed for.
const CHECK_PLAINTEXT: &[u8] = b"herald secrets key check";
const CHECK_CONTEXT: &str = "herald/secrets-key-check";

/// The sealed columns of `webhooks`, and the context each is sealed for.
const SEALED_COLUMNS: [(&str, &str); 3] = [
    ("auth_header_value_sealed", "auth_header_value"),
    ("signing_secret_sealed", SIGNING_SECRET),
    ("previous_secret_sealed", SIGNING_SECRET),
];

/// Verifies that `keys` open the secrets stored in `database`, and records a check value for
/// the current key when it has none yet.
pub async fn verify_key(database: &Database, keys: &Keyring) -> Result<(), StoreError> {
    let client = database.pool().get().await?;
    let checks = client
        .query("SELECT key_id, sealed FROM secrets_key_checks", &[])
        .await?;
    let mut opened = false;
    let mut others = Vec::new();
    for row in &checks {
        let key_id: String = row.try_get(0)?;
        let sealed: Vec<u8> = row.try_get(1)?;
        match keys.keys().find(|key| key.id() == key_id) {
            Some(key) => match key.open(CHECK_CONTEXT, &sealed) {
                Ok(plain) if plain == CHECK_PLAINTEXT => opened = true,
                _ => return Err(wrong_key(keys.current(), &[key_id])),
            },
            None => others.push(key_id),
        }
    }
    if !opened && !others.is_empty() {
        return Err(wrong_key(keys.current(), &others));
    }
    if checks.is_empty() {
        // No check value yet: a new database, or one written before checks existed, whose
        // webhooks say whether these keys are the right ones.
        let sample = client
            .query_opt(
                "SELECT id, signing_secret_sealed FROM webhooks LIMIT 1",
                &[],
            )
            .await?;
        if let Some(row) = sample {
            let id: String = row.try_get(0)?;
            let sealed: Vec<u8> = row.try_get(1)?;
            if keys
                .open(&sealing_context(&id, SIGNING_SECRET), &sealed)
                .is_err()
            {
                return Err(StoreError::WrongKey(format!(
                    "SECRETS_KEY does not open the signing secrets stored in this database (webhook {id}): start with the key they were written with"
                )));
            }
        }
    }
    let current = keys.current();
    let check = current.seal(CHECK_CONTEXT, CHECK_PLAINTEXT)?;
    client
        .execute(
            "INSERT INTO secrets_key_checks (key_id, sealed) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&current.id(), &check],
        )
        .await?;
    Ok(())
}

fn wrong_key(key: &SecretsKey, stored: &[String]) -> StoreError {
    StoreError::WrongKey(format!(
        "SECRETS_KEY (key id {}) does not open the secrets stored in this database, which were sealed with key id {}: start with that key, or set it as SECRETS_KEY_PREVIOUS while rotating",
        key.id(),
        stored.join(", ")
    ))
}

/// How far a rotation got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Webhooks looked at.
    pub scanned: u64,
    /// Webhooks whose secrets were sealed again with the current key.
    pub resealed: u64,
}

/// Seals every stored secret again with the current key of `keys`, `batch` webhooks per
/// transaction, calling `progress` after each batch. Values already sealed with the current
/// key are left alone, so a rotation that is stopped can simply be run again. Once every
/// webhook is done, only the current key's check value is kept: the previous key is no longer
/// needed by any process.
pub async fn rotate(
    database: &Database,
    keys: &Keyring,
    batch: i64,
    mut progress: impl FnMut(Rotation),
) -> Result<Rotation, StoreError> {
    verify_key(database, keys).await?;
    let mut done = Rotation::default();
    let mut after = String::new();
    loop {
        let mut client = database.pool().get().await?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT id, auth_header_value_sealed, signing_secret_sealed, previous_secret_sealed \
                 FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE",
                &[&after, &batch.max(1)],
            )
            .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.try_get(0)?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let mut resealed: Vec<Option<Vec<u8>>> = Vec::with_capacity(SEALED_COLUMNS.len());
            let mut changed = false;
            for (index, (_, field)) in SEALED_COLUMNS.iter().enumerate() {
                let sealed: Option<Vec<u8>> = row.try_get(index + 1)?;
                resealed.push(match sealed {
                    Some(sealed) if keys.needs_reseal(&sealed) => {
                        let context = sealing_context(&id, field);
                        let plain = keys.open(&context, &sealed).map_err(|_| {
                            StoreError::Undecryptable {
                                webhook_id: id.clone(),
                            }
                        })?;
                        changed = true;
                        Some(keys.seal(&context, &plain)?)
                    }
                    other => other,
                });
            }
            if changed {
                transaction
                    .execute(
                        "UPDATE webhooks SET auth_header_value_sealed = $2, signing_secret_sealed = COALESCE($3, signing_secret_sealed), previous_secret_sealed = $4 WHERE id = $1",
                        &[&id, &resealed[0], &resealed[1], &resealed[2]],
                    )
                    .await?;
                done.resealed += 1;
            }
            done.scanned += 1;
        }
        transaction.commit().await?;
        progress(done);
    }
    let client = database.pool().get().await?;
    client
        .execute(
            "DELETE FROM secrets_key_checks WHERE key_id <> $1",
            &[&keys.current().id()],
        )
        .await?;
    Ok(done)
}
