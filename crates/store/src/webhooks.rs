//! The webhook registry.
//!
//! [`WebhookStore`] serves the management API and reads secrets, so it needs the
//! [`SecretsKey`]. The hot paths never query it per event: fanout keeps the [`WebhookRoute`]s
//! (no secrets) in memory, and sender caches [`DeliveryTarget`]s, both refreshed on change
//! notifications.

use std::fmt;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use herald_contract::operational::DisabledReason;
use herald_contract::{EventType, EventTypeSet, SigningSecret, TenantId, WebhookId};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use crate::attempts::AttemptRecord;
use crate::changes::RegistryVersion;
use crate::database::Database;
use crate::error::StoreError;
use crate::secrets::Keyring;

/// A custom header sent with every delivery, typically for the receiver's authentication.
/// `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHeader")
            .field("name", &self.name)
            .field("value", &"****")
            .finish()
    }
}

/// A webhook to create; every field already validated.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub tenant_id: TenantId,
    pub name: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub auth_header: Option<AuthHeader>,
    pub enabled: bool,
    pub description: Option<String>,
}

/// Changes to a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    /// `Some(None)` removes the header.
    pub auth_header: Option<Option<AuthHeader>>,
    pub enabled: Option<bool>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
}

/// A secret replaced by a rotation, still signed with until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    pub secret: SigningSecret,
    pub expires_at: DateTime<Utc>,
}

/// Why and since when a webhook is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disabled {
    pub reason: DisabledReason,
    pub at: DateTime<Utc>,
}

/// A webhook as stored, secrets decrypted.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub name: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub auth_header: Option<AuthHeader>,
    pub enabled: bool,
    /// Why and since when the webhook is disabled; `None` while it is enabled.
    pub disabled: Option<Disabled>,
    pub description: Option<String>,
    pub signing_secret: SigningSecret,
    pub previous_secret: Option<PreviousSecret>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest attempt that was not a test, when read with it.
    pub last_attempt: Option<AttemptRecord>,
}

/// What fanout needs to match events: no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRoute {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub event_types: EventTypeSet,
    pub enabled: bool,
}

/// What sender needs to make an attempt.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    /// Parsed once, when the target is read: senders cache targets, and parsing the URL
    /// of every attempt cost about 5 % of a sender's CPU.
    pub url: url::Url,
    pub auth_header: Option<AuthHeader>,
    pub enabled: bool,
    pub signing_secret: SigningSecret,
    pub previous_secret: Option<PreviousSecret>,
}

impl TryFrom<Webhook> for DeliveryTarget {
    type Error = StoreError;

    /// Fails when the stored URL does not parse (the API accepts none such).
    fn try_from(webhook: Webhook) -> Result<Self, StoreError> {
        let url = url::Url::parse(&webhook.url).map_err(|_| StoreError::Corrupt {
            webhook_id: webhook.id.to_string(),
            field: "url",
        })?;
        Ok(Self {
            id: webhook.id,
            tenant_id: webhook.tenant_id,
            url,
            auth_header: webhook.auth_header,
            enabled: webhook.enabled,
            signing_secret: webhook.signing_secret,
            previous_secret: webhook.previous_secret,
        })
    }
}

impl DeliveryTarget {
    /// The secrets to sign with at `now`: the current one, then the previous one while it is
    /// still within its grace period.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&SigningSecret> {
        let mut secrets = vec![&self.signing_secret];
        if let Some(previous) = self.previous_secret.as_ref().filter(|p| p.expires_at > now) {
            secrets.push(&previous.secret);
        }
        secrets
    }
}

const AUTH_VALUE: &str = "auth_header_value";
pub(crate) const SIGNING_SECRET: &str = "signing_secret";

const WEBHOOK_COLUMNS: &str = "w.id, w.tenant_id, w.name, w.url, w.event_types, \
    w.auth_header_name, w.auth_header_value_sealed, w.enabled, w.description, \
    w.signing_secret_sealed, w.previous_secret_sealed, w.previous_secret_expires_at, \
    w.created_at, w.updated_at, w.disabled_reason, w.disabled_at";

const LAST_ATTEMPT_JOIN: &str = "LEFT JOIN LATERAL ( \
        SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.attempt, d.attempted_at, \
               d.duration_ms, d.response_status, d.error, d.result, d.test, d.response_excerpt \
        FROM delivery_attempts d \
        WHERE d.webhook_id = w.id AND NOT d.test \
        ORDER BY d.attempted_at DESC, d.id DESC LIMIT 1 \
    ) a ON true";

fn with_last_attempt_columns() -> String {
    format!(
        "{WEBHOOK_COLUMNS}, a.id AS a_id, a.webhook_id AS a_webhook_id, a.event_id AS a_event_id, \
         a.event_type AS a_event_type, a.attempt AS a_attempt, a.attempted_at AS a_attempted_at, \
         a.duration_ms AS a_duration_ms, a.response_status AS a_response_status, a.error AS a_error, \
         a.result AS a_result, a.test AS a_test, a.response_excerpt AS a_response_excerpt"
    )
}

/// The registry, as the management API uses it.
#[derive(Clone)]
pub struct WebhookStore {
    database: Database,
    key: Keyring,
}

impl WebhookStore {
    /// The registry on `database`; secrets are sealed with the key ring's current key and
    /// opened with any key it holds.
    pub fn new(database: Database, key: impl Into<Keyring>) -> Self {
        Self {
            database,
            key: key.into(),
        }
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Creates a webhook with a fresh id and signing secret.
    pub async fn create(&self, new: NewWebhook) -> Result<Webhook, StoreError> {
        let id = WebhookId::generate();
        let secret = SigningSecret::generate();
        let (header_name, header_value) = self.seal_auth_header(&id, new.auth_header.as_ref())?;
        let sealed_secret = self
            .key
            .seal(&context(&id, SIGNING_SECRET), secret.expose().as_bytes())?;
        let client = self.database.pool().get().await?;
        let row = client
            .query_one(
                "INSERT INTO webhooks (id, tenant_id, name, url, event_types, auth_header_name, \
                     auth_header_value_sealed, enabled, description, signing_secret_sealed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 RETURNING created_at, updated_at, disabled_reason, disabled_at",
                &[
                    &id.as_str(),
                    &new.tenant_id.as_str(),
                    &new.name,
                    &new.url,
                    &type_names(&new.event_types),
                    &header_name,
                    &header_value,
                    &new.enabled,
                    &new.description,
                    &sealed_secret,
                ],
            )
            .await
            .map_err(|e| name_taken_or(e, &new.name))?;
        let disabled = decode_disabled(&row, &id)?;
        Ok(Webhook {
            id,
            tenant_id: new.tenant_id,
            name: new.name,
            url: new.url,
            event_types: new.event_types,
            auth_header: new.auth_header,
            enabled: new.enabled,
            disabled,
            description: new.description,
            signing_secret: secret,
            previous_secret: None,
            created_at: row.try_get(0)?,
            updated_at: row.try_get(1)?,
            last_attempt: None,
        })
    }

    /// One webhook of `tenant`, with its last attempt; `None` when absent or another tenant's.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        let client = self.database.pool().get().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {} FROM webhooks w {LAST_ATTEMPT_JOIN} WHERE w.tenant_id = $1 AND w.id = $2",
                    with_last_attempt_columns()
                ),
                &[&tenant.as_str(), &id.as_str()],
            )
            .await?;
        row.map(|row| self.decode(&row, true)).transpose()
    }

    /// Up to `limit` webhooks of `tenant` in creation order, starting after `after`.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: i64,
        after: Option<&WebhookId>,
    ) -> Result<Vec<Webhook>, StoreError> {
        let client = self.database.pool().get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {} FROM webhooks w {LAST_ATTEMPT_JOIN} \
                     WHERE w.tenant_id = $1 AND ($2::text IS NULL OR w.id > $2) \
                     ORDER BY w.id LIMIT $3",
                    with_last_attempt_columns()
                ),
                &[&tenant.as_str(), &after.map(WebhookId::as_str), &limit],
            )
            .await?;
        rows.iter().map(|row| self.decode(row, true)).collect()
    }

    /// Applies `patch`; `None` when the webhook is absent or another tenant's.
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        patch: WebhookPatch,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut client = self.database.pool().get().await?;
        let transaction = client.transaction().await?;
        let Some(row) = transaction
            .query_opt(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.tenant_id = $1 AND w.id = $2 FOR UPDATE"),
                &[&tenant.as_str(), &id.as_str()],
            )
            .await?
        else {
            return Ok(None);
        };
        let mut webhook = self.decode(&row, false)?;
        if let Some(name) = patch.name {
            webhook.name = name;
        }
        if let Some(url) = patch.url {
            // The auth header was given for the old endpoint: moving the webhook to another
            // origin must not carry it there (it is write-only, and `/test` would reveal it to
            // whoever controls the new host) unless the same change sets it again.
            if !same_origin(&webhook.url, &url) && patch.auth_header.is_none() {
                webhook.auth_header = None;
            }
            webhook.url = url;
        }
        if let Some(event_types) = patch.event_types {
            webhook.event_types = event_types;
        }
        if let Some(auth_header) = patch.auth_header {
            webhook.auth_header = auth_header;
        }
        if let Some(enabled) = patch.enabled {
            webhook.enabled = enabled;
        }
        if let Some(description) = patch.description {
            webhook.description = description;
        }
        let (header_name, header_value) =
            self.seal_auth_header(id, webhook.auth_header.as_ref())?;
        transaction
            .execute(
                "UPDATE webhooks SET name = $3, url = $4, event_types = $5, auth_header_name = $6, \
                     auth_header_value_sealed = $7, enabled = $8, description = $9, updated_at = now() \
                 WHERE tenant_id = $1 AND id = $2",
                &[
                    &tenant.as_str(),
                    &id.as_str(),
                    &webhook.name,
                    &webhook.url,
                    &type_names(&webhook.event_types),
                    &header_name,
                    &header_value,
                    &webhook.enabled,
                    &webhook.description,
                ],
            )
            .await
            .map_err(|e| name_taken_or(e, &webhook.name))?;
        transaction.commit().await?;
        drop(client);
        self.get(tenant, id).await
    }

    /// Deletes a webhook and its attempt log; `false` when absent or another tenant's.
    pub async fn delete(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool, StoreError> {
        let mut client = self.database.pool().get().await?;
        let transaction = client.transaction().await?;
        let deleted = transaction
            .execute(
                "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id.as_str()],
            )
            .await?;
        if deleted > 0 {
            transaction
                .execute(
                    "DELETE FROM delivery_attempts WHERE webhook_id = $1",
                    &[&id.as_str()],
                )
                .await?;
            for table in ["delivery_stats_hourly", "webhook_health"] {
                transaction
                    .execute(
                        &format!("DELETE FROM {table} WHERE webhook_id = $1"),
                        &[&id.as_str()],
                    )
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(deleted > 0)
    }

    /// Gives the webhook a new signing secret; the old one keeps signing until `grace` has
    /// passed. `None` when absent or another tenant's.
    pub async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        grace: chrono::Duration,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut client = self.database.pool().get().await?;
        let transaction = client.transaction().await?;
        let Some(row) = transaction
            .query_opt(
                "SELECT signing_secret_sealed FROM webhooks WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                &[&tenant.as_str(), &id.as_str()],
            )
            .await?
        else {
            return Ok(None);
        };
        let sealed_current: Vec<u8> = row.try_get(0)?;
        let new_secret = SigningSecret::generate();
        let sealed_new = self
            .key
            .seal(&context(id, SIGNING_SECRET), new_secret.expose().as_bytes())?;
        transaction
            .execute(
                "UPDATE webhooks SET signing_secret_sealed = $3, previous_secret_sealed = $4, \
                     previous_secret_expires_at = now() + $5::bigint * interval '1 second', updated_at = now() \
                 WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &id.as_str(), &sealed_new, &sealed_current, &grace.num_seconds()],
            )
            .await?;
        transaction.commit().await?;
        drop(client);
        self.get(tenant, id).await
    }

    /// What sender needs to deliver to webhook `id`; `None` when it no longer exists.
    pub async fn target(&self, id: &WebhookId) -> Result<Option<DeliveryTarget>, StoreError> {
        let client = self.database.pool().get().await?;
        let row = client
            .query_opt(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.id = $1"),
                &[&id.as_str()],
            )
            .await?;
        row.map(|row| self.decode(&row, false))
            .transpose()?
            .map(DeliveryTarget::try_from)
            .transpose()
    }

    fn seal_auth_header(
        &self,
        id: &WebhookId,
        header: Option<&AuthHeader>,
    ) -> Result<(Option<String>, Option<Vec<u8>>), StoreError> {
        Ok(match header {
            Some(header) => (
                Some(header.name.clone()),
                Some(
                    self.key
                        .seal(&context(id, AUTH_VALUE), header.value.as_bytes())?,
                ),
            ),
            None => (None, None),
        })
    }

    fn open_string(
        &self,
        id: &WebhookId,
        field: &'static str,
        sealed: &[u8],
    ) -> Result<String, StoreError> {
        let plain =
            self.key
                .open(&context(id, field), sealed)
                .map_err(|_| StoreError::Undecryptable {
                    webhook_id: id.to_string(),
                })?;
        String::from_utf8(plain).map_err(|_| StoreError::Corrupt {
            webhook_id: id.to_string(),
            field,
        })
    }

    fn open_secret(&self, id: &WebhookId, sealed: &[u8]) -> Result<SigningSecret, StoreError> {
        let text = self.open_string(id, SIGNING_SECRET, sealed)?;
        SigningSecret::parse(&text).map_err(|_| StoreError::Corrupt {
            webhook_id: id.to_string(),
            field: SIGNING_SECRET,
        })
    }

    fn decode(&self, row: &Row, with_last_attempt: bool) -> Result<Webhook, StoreError> {
        let id = parse_id(row)?;
        let auth_header = match (
            row.try_get::<_, Option<String>>("auth_header_name")?,
            row.try_get::<_, Option<Vec<u8>>>("auth_header_value_sealed")?,
        ) {
            (Some(name), Some(sealed)) => Some(AuthHeader {
                name,
                value: self.open_string(&id, AUTH_VALUE, &sealed)?,
            }),
            _ => None,
        };
        let signing_secret =
            self.open_secret(&id, &row.try_get::<_, Vec<u8>>("signing_secret_sealed")?)?;
        let previous_secret = match (
            row.try_get::<_, Option<Vec<u8>>>("previous_secret_sealed")?,
            row.try_get::<_, Option<DateTime<Utc>>>("previous_secret_expires_at")?,
        ) {
            (Some(sealed), Some(expires_at)) => Some(PreviousSecret {
                secret: self.open_secret(&id, &sealed)?,
                expires_at,
            }),
            _ => None,
        };
        let last_attempt = if with_last_attempt {
            AttemptRecord::from_prefixed_row(row, "a_")?
        } else {
            None
        };
        Ok(Webhook {
            tenant_id: parse_tenant(row, &id)?,
            name: row.try_get("name")?,
            url: row.try_get("url")?,
            event_types: parse_event_types(row)?,
            auth_header,
            enabled: row.try_get("enabled")?,
            disabled: decode_disabled(row, &id)?,
            description: row.try_get("description")?,
            signing_secret,
            previous_secret,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            last_attempt,
            id,
        })
    }
}

/// Every webhook's route, for fanout's index, and the registry version they are at (read in
/// one snapshot, so the routes hold every change up to that version).
pub async fn load_routes(
    database: &Database,
) -> Result<(Vec<WebhookRoute>, RegistryVersion), StoreError> {
    let mut client = database.pool().get().await?;
    let snapshot = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let version: RegistryVersion = snapshot
        .query_one("SELECT version FROM registry_version", &[])
        .await?
        .try_get(0)?;
    // Streamed and decoded row by row: a registry of 100 000 webhooks never sits in memory
    // twice (as rows and as routes).
    let rows = snapshot
        .query_raw(
            "SELECT w.id, w.tenant_id, w.event_types, w.enabled FROM webhooks w",
            std::iter::empty::<i32>(),
        )
        .await?;
    let mut rows = std::pin::pin!(rows);
    let mut routes = Vec::new();
    while let Some(row) = rows.try_next().await? {
        routes.push(decode_route(&row)?);
    }
    snapshot.commit().await?;
    Ok((routes, version))
}

/// One webhook's route; `None` when it no longer exists.
pub async fn load_route(
    database: &Database,
    id: &WebhookId,
) -> Result<Option<WebhookRoute>, StoreError> {
    let client = database.pool().get().await?;
    let row = client
        .query_opt(
            "SELECT w.id, w.tenant_id, w.event_types, w.enabled FROM webhooks w WHERE w.id = $1",
            &[&id.as_str()],
        )
        .await?;
    row.as_ref().map(decode_route).transpose()
}

fn decode_route(row: &Row) -> Result<WebhookRoute, StoreError> {
    let id = parse_id(row)?;
    Ok(WebhookRoute {
        tenant_id: parse_tenant(row, &id)?,
        event_types: parse_event_types(row)?.into_iter().collect(),
        enabled: row.try_get("enabled")?,
        id,
    })
}

fn decode_disabled(row: &Row, id: &WebhookId) -> Result<Option<Disabled>, StoreError> {
    let reason: Option<String> = row.try_get("disabled_reason")?;
    let at: Option<DateTime<Utc>> = row.try_get("disabled_at")?;
    match (reason, at) {
        (Some(reason), Some(at)) => Ok(Some(Disabled {
            reason: DisabledReason::parse(&reason).ok_or_else(|| StoreError::Corrupt {
                webhook_id: id.to_string(),
                field: "disabled reason",
            })?,
            at,
        })),
        _ => Ok(None),
    }
}

fn parse_id(row: &Row) -> Result<WebhookId, StoreError> {
    let id: String = row.try_get("id")?;
    id.parse().map_err(|_| StoreError::Corrupt {
        webhook_id: id,
        field: "id",
    })
}

fn parse_tenant(row: &Row, id: &WebhookId) -> Result<TenantId, StoreError> {
    let tenant: String = row.try_get("tenant_id")?;
    tenant.parse().map_err(|_| StoreError::Corrupt {
        webhook_id: id.to_string(),
        field: "tenant_id",
    })
}

/// Stored names that left the catalog are skipped: such a webhook simply stops matching them.
fn parse_event_types(row: &Row) -> Result<Vec<EventType>, StoreError> {
    let names: Vec<String> = row.try_get("event_types")?;
    Ok(names.iter().filter_map(|name| name.parse().ok()).collect())
}

fn type_names(event_types: &[EventType]) -> Vec<&'static str> {
    event_types
        .iter()
        .map(|event_type| event_type.as_str())
        .collect()
}

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

fn context(id: &WebhookId, field: &str) -> String {
    sealing_context(id.as_str(), field)
}

/// What a secret of webhook `id` in column `field` is sealed for.
pub(crate) fn sealing_context(id: &str, field: &str) -> String {
    format!("{id}/{field}")
}

fn name_taken_or(error: tokio_postgres::Error, name: &str) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::NameTaken(name.to_owned())
    } else {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        assert!(same_origin(
            "https://example.com/a",
            "https://example.com:443/b?x=1"
        ));
        assert!(!same_origin(
            "https://example.com/a",
            "http://example.com/a"
        ));
        assert!(!same_origin(
            "https://example.com/a",
            "https://evil.example/a"
        ));
        assert!(!same_origin(
            "https://example.com/a",
            "https://example.com:8443/a"
        ));
        assert!(!same_origin("https://example.com/a", "not a url"));
    }
}
