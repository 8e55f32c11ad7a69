//! Herald's PostgreSQL layer.
//!
//! - [`database`]: the connection pool, creating the database when missing, and the versioned
//!   migrations (run under an advisory lock, so that services starting together do not race).
//! - [`webhooks`]: the registry: create, read, change and delete webhooks per tenant, plus the
//!   two projections the hot paths keep in memory: routes (fanout) and targets (sender).
//! - [`api_keys`]: tenant API keys, kept as digests, revoked by deletion.
//! - [`attempts`]: the attempt log, written in batches by an [`AttemptRecorder`].
//! - [`changes`]: `LISTEN`ing for registry changes, so that in-memory copies follow within
//!   milliseconds, and the registry version each change raises (followers report the version
//!   they hold, so that anyone can wait until a change has been seen).
//! - [`error`]: [`StoreError`], which tells transient failures (wait and retry) from
//!   permanent ones (configuration, migration, wrong key).
//! - [`health`]: each webhook's health (kept by the attempt batches), auto-disable, the
//!   outbox of operational events, and how far the senders have come through their queue.
//! - [`keys`]: checking at start that `SECRETS_KEY` opens the stored secrets; rotating it.
//! - [`secrets`]: encryption at rest of auth header values and signing secrets.
//! - [`stats`]: a webhook's delivery statistics in fixed buckets, from the hourly rollup the
//!   attempt batches keep.
//! - [`tls`]: TLS to PostgreSQL as `sslmode` and `sslrootcert` say (rustls).
//! - [`text`]: text from outside made storable (PostgreSQL refuses NUL characters).

pub mod api_keys;
pub mod attempts;
pub mod changes;
pub mod database;
pub mod error;
pub mod health;
pub mod keys;
pub mod secrets;
pub mod stats;
pub mod text;
pub mod tls;
pub mod webhooks;

pub use attempts::{AttemptLog, AttemptRecord, AttemptRecorder, AttemptResult, NewAttempt};
pub use changes::WebhookChange;
pub use database::{Database, DatabaseConfig};
pub use error::StoreError;
pub use health::HealthStore;
pub use secrets::{Keyring, SecretsKey};
pub use webhooks::{
    AuthHeader, DeliveryTarget, Disabled, NewWebhook, PreviousSecret, Webhook, WebhookPatch,
    WebhookRoute, WebhookStore,
};
