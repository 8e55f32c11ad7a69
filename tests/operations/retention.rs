use chrono::{Duration, Utc};
use herald_contract::{EventType, WebhookId};
use herald_store::attempts::AttemptLog;
use herald_store::{AttemptResult, Database, DatabaseConfig, NewAttempt};
use herald_tests::{POSTGRES_BASE, drop_database, unique_id};

fn attempt(webhook: &WebhookId, days_ago: i64) -> NewAttempt {
    NewAttempt {
        webhook_id: webhook.clone(),
        tenant_id: "acme".parse().unwrap(),
        event_id: format!("evt-{days_ago}"),
        event_type: EventType::ContactCreated,
        attempt: 1,
        attempted_at: Utc::now() - Duration::days(days_ago),
        duration_ms: 3,
        response_status: Some(200),
        error: None,
        result: AttemptResult::Delivered,
        test: false,
        response_excerpt: None,
    }
}

#[tokio::test]
async fn attempts_older_than_the_retention_are_pruned_and_newer_ones_kept() {
    // Arrange
    let name = format!("herald_test_{}", unique_id());
    let database = Database::new(&DatabaseConfig {
        url: format!("{POSTGRES_BASE}/{name}"),
        pool_size: 2,
    })
    .unwrap();
    database.prepare().await.unwrap();
    let log = AttemptLog::new(database.clone());
    let webhook = WebhookId::generate();
    log.insert(&[
        attempt(&webhook, 40),
        attempt(&webhook, 31),
        attempt(&webhook, 2),
        attempt(&webhook, 0),
    ])
    .await
    .unwrap();

    // Act
    let first = log.prune(Utc::now() - Duration::days(30), 1).await.unwrap();
    let rest = log
        .prune(Utc::now() - Duration::days(30), 100)
        .await
        .unwrap();

    // Assert
    assert_eq!((first, rest), (1, 1), "batches of the given size");
    let kept: Vec<String> = log
        .list(&"acme".parse().unwrap(), &webhook, 10, None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.event_id)
        .collect();
    assert_eq!(kept, ["evt-0", "evt-2"]);
    drop(log);
    drop(database);
    drop_database(&name);
}
