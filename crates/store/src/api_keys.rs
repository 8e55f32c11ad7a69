//! Tenant API keys: random bearer keys a tenant's automation uses, shown once and kept only as a
//! digest. Looking a key up reads the table, so a deleted (revoked) key stops working at once on
//! every API process.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use herald_contract::TenantId;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use crate::database::Database;
use crate::error::StoreError;

/// Every key starts with this, so that a credential's kind shows at a glance.
pub const KEY_PREFIX: &str = "hk_";

/// Every key id starts with this.
const ID_PREFIX: &str = "KEY-";

/// An API key as stored (without the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    /// `manage` or `read`.
    pub scope: String,
    pub created_at: DateTime<Utc>,
}

/// The tenant a presented key belongs to, and its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub tenant_id: TenantId,
    pub scope: String,
}

/// The API keys of every tenant.
#[derive(Clone)]
pub struct ApiKeyStore {
    database: Database,
}

impl ApiKeyStore {
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// Creates a key; returns it as stored and the key itself (never stored, never shown again).
    pub async fn create(
        &self,
        tenant: &TenantId,
        name: &str,
        scope: &str,
    ) -> Result<(ApiKey, String), StoreError> {
        let key = format!(
            "{KEY_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
        );
        let id = format!(
            "{ID_PREFIX}{}",
            uuid::Uuid::now_v7()
                .simple()
                .to_string()
                .to_ascii_uppercase()
        );
        let client = self.database.pool().get().await?;
        let row = client
            .query_one(
                "INSERT INTO api_keys (id, tenant_id, name, scope, key_digest) \
                 VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, tenant_id, name, scope, created_at",
                &[
                    &id,
                    &tenant.as_str(),
                    &name,
                    &scope,
                    &digest(&key).as_slice(),
                ],
            )
            .await
            .map_err(|error| {
                if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                    StoreError::NameTaken(name.to_owned())
                } else {
                    error.into()
                }
            })?;
        Ok((decode(&row)?, key))
    }

    /// The tenant's keys, oldest first.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let client = self.database.pool().get().await?;
        let rows = client
            .query(
                "SELECT id, tenant_id, name, scope, created_at FROM api_keys \
                 WHERE tenant_id = $1 ORDER BY id",
                &[&tenant.as_str()],
            )
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Revokes a key; `false` when the tenant has no such key.
    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let client = self.database.pool().get().await?;
        let deleted = client
            .execute(
                "DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id],
            )
            .await?;
        Ok(deleted > 0)
    }

    /// Whose key `presented` is; `None` when it is no (longer a) key.
    pub async fn owner(&self, presented: &str) -> Result<Option<KeyOwner>, StoreError> {
        let client = self.database.pool().get().await?;
        let row = client
            .query_opt(
                "SELECT tenant_id, scope FROM api_keys WHERE key_digest = $1",
                &[&digest(presented).as_slice()],
            )
            .await?;
        row.map(|row| {
            let tenant: String = row.try_get("tenant_id")?;
            Ok(KeyOwner {
                tenant_id: tenant.parse().map_err(|_| StoreError::Corrupt {
                    webhook_id: String::new(),
                    field: "api_keys.tenant_id",
                })?,
                scope: row.try_get("scope")?,
            })
        })
        .transpose()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn decode(row: &Row) -> Result<ApiKey, StoreError> {
    let tenant: String = row.try_get("tenant_id")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        tenant_id: tenant.parse().map_err(|_| StoreError::Corrupt {
            webhook_id: String::new(),
            field: "api_keys.tenant_id",
        })?,
        name: row.try_get("name")?,
        scope: row.try_get("scope")?,
        created_at: row.try_get("created_at")?,
    })
}
