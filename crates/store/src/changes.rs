//! Following registry changes with `LISTEN`.
//!
//! Every insert, update and delete of a webhook notifies the channel
//! `herald_webhook_changes` with the webhook's id (a trigger does it, so changes made by any
//! process are seen). A listener connection that drops may have missed notifications, so
//! after every (re)connection the listener first reports [`WebhookChange::Resync`].

use std::time::Duration;

use futures::StreamExt;
use herald_contract::WebhookId;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_util::sync::CancellationToken;

use crate::database::Database;

/// The notification channel the migration's trigger writes to.
pub const CHANNEL: &str = "herald_webhook_changes";

/// What changed in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookChange {
    /// This webhook was created, changed or deleted.
    Changed(WebhookId),
    /// Notifications may have been missed: reload everything.
    Resync,
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
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    if changes.send(WebhookChange::Resync).await.is_err() {
        driver.abort();
        return Ok(());
    }
    while let Some(message) = messages.recv().await {
        match message {
            Ok(AsyncMessage::Notification(notification)) => {
                match notification.payload().parse::<WebhookId>() {
                    Ok(id) => {
                        if changes.send(WebhookChange::Changed(id)).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => tracing::warn!(
                        payload = notification.payload(),
                        "ignoring a malformed change notification"
                    ),
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
