use std::time::Duration;

use herald_tests::private::PrivatePostgres;
use herald_tests::processes::{Backing, ProcessApp};
use herald_tests::wait;
use reqwest::StatusCode;

use crate::support::{EVENTS, await_every, publish_paced, report, subscribe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_stream_loses_nothing_and_spends_no_attempt() {
    // Arrange
    let postgres = std::sync::Arc::new(
        tokio::task::spawn_blocking(PrivatePostgres::start)
            .await
            .unwrap(),
    );
    let database_url = postgres.url("herald");
    let mut app = ProcessApp::spawn_with(Backing::with_database(database_url.clone()), &[]).await;
    subscribe(&app, "/sink").await;
    let publishing = publish_paced(app.backing.amqp_urls[0].clone(), EVENTS, 200);
    app.receiver
        .wait_for("/sink", 100, Duration::from_secs(30))
        .await;

    // Act
    let stopping = postgres.clone();
    tokio::task::spawn_blocking(move || stopping.stop_server())
        .await
        .unwrap();
    let sender = &app.service(2).health.clone();
    wait::until(
        "the sender to report the database down",
        Duration::from_secs(20),
        || async {
            (sender.get_text("/readyz").await.0 == StatusCode::SERVICE_UNAVAILABLE).then_some(())
        },
    )
    .await;
    let held = app.receiver.to("/sink").len();
    let starting = postgres.clone();
    tokio::task::spawn_blocking(move || starting.start_server())
        .await
        .unwrap();

    // Assert
    let expected = publishing.await.unwrap();
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(120)).await;
    report(
        &format!("PostgreSQL restart ({held} delivered before the outage was seen)"),
        expected.len(),
        &tally,
    );
    let (client, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*), max(attempt)::int, count(*) FILTER (WHERE result <> 'delivered') FROM delivery_attempts",
            &[],
        )
        .await
        .unwrap();
    let (recorded, highest_attempt, not_delivered): (i64, i32, i64) =
        (row.get(0), row.get(1), row.get(2));
    assert!(
        recorded >= EVENTS as i64,
        "only {recorded} attempts recorded"
    );
    assert_eq!(highest_attempt, 1, "the outage spent an attempt");
    assert_eq!(not_delivered, 0);
}
