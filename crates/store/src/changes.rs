//! Following registry changes with `LISTEN`.
//!
//! Every insert, update and delete of a webhook notifies the channel
//! `herald_webhook_changes` with the webhook's id, and every statement that changed webhooks
//! then notifies `herald_registry_version` with the registry's new version (triggers do both,
//! so changes made by any process are seen, ids before the version that covers them). A
//! listener connection that drops may have missed notifications, so after every
//! (re)connection the listener first reports [`WebhookChange::Resync`].

use std::time::Duration;

use futures::StreamExt;
use herald_contract::WebhookId;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_util::sync::CancellationToken;

use crate::database::Database;

/// The channel naming each changed webhook.
pub const CHANNEL: &str = "herald_webhook_changes";

/// The channel announcing the registry's version after each change.
pub const VERSION_CHANNEL: &str = "herald_registry_version";

/// What changed in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookChange {
    /// This webhook was created, changed or deleted.
    Changed(WebhookId),
    /// The registry reached this version: every change it covers was reported before.
    Reached(RegistryVersion),
    /// Notifications may have been missed: reload everything. The registry was at this
    /// version when listening (re)started, so a reload made afterwards covers it.
    Resync(RegistryVersion),
}

/// A number every statement that changes the registry raises.
pub type RegistryVersion = i64;

/// The registry's current version.
pub async fn current_version(database: &Database) -> Result<RegistryVersion, crate::StoreError> {
    let client = database.pool().get().await?;
    let row = client
        .query_one("SELECT version FROM registry_version", &[])
        .await?;
    Ok(row.try_get(0)?)
}

/// Starts listening; changes arrive on the returned channel until `shutdown`.
pub fn listen(database: &Database, shutdown: CancellationToken) -> mpsc::Receiver<WebhookChange> {
    let (changes, receiver) = mpsc::channel(1024);
    let config = database.pg_config().clone();
    let tls = database.tls().clone();
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(100);
        loop {
            let session = listen_once(&config, &tls, &changes);
            let ended = tokio::select! {
                _ = shutdown.cancelled() => return,
                ended = session => ended,
            };
            if changes.is_closed() {
                return;
            }
            match ended {
                Ok(()) => pause = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?pause, "lost the registry change listener")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    });
    receiver
}

/// One listening connection, until it drops.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    changes: &mpsc::Sender<WebhookChange>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            if messages_tx.send(message).is_err() {
                break;
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {VERSION_CHANNEL}"))
        .await?;
    let version: RegistryVersion = client
        .query_one("SELECT version FROM registry_version", &[])
        .await?
        .try_get(0)?;
    if changes.send(WebhookChange::Resync(version)).await.is_err() {
        driver.abort();
        return Ok(());
    }
    while let Some(message) = messages.recv().await {
        match message {
            Ok(AsyncMessage::Notification(notification)) => {
                let Some(change) = decode(notification.channel(), notification.payload()) else {
                    tracing::warn!(
                        channel = notification.channel(),
                        payload = notification.payload(),
                        "ignoring a malformed change notification"
                    );
                    continue;
                };
                if changes.send(change).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => {
                driver.abort();
                return Err(error);
            }
        }
    }
    driver.abort();
    Ok(())
}

/// The change a notification on `channel` reports; `None` when malformed.
fn decode(channel: &str, payload: &str) -> Option<WebhookChange> {
    match channel {
        CHANNEL => payload.parse().ok().map(WebhookChange::Changed),
        VERSION_CHANNEL => payload.parse().ok().map(WebhookChange::Reached),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_decode_by_channel_and_malformed_ones_are_refused() {
        assert_eq!(
            decode(VERSION_CHANNEL, "42"),
            Some(WebhookChange::Reached(42))
        );
        let id = WebhookId::generate();
        assert_eq!(
            decode(CHANNEL, id.as_str()),
            Some(WebhookChange::Changed(id))
        );
        assert_eq!(decode(CHANNEL, "not an id"), None);
        assert_eq!(decode(VERSION_CHANNEL, "forty-two"), None);
        assert_eq!(decode("elsewhere", "42"), None);
    }
}
