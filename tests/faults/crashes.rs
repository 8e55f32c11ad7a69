use std::time::{Duration, Instant};

use herald_broker::lapin::BasicProperties;
use herald_tests::processes::ProcessApp;
use herald_tests::receiver::Behaviour;
use herald_tests::wait;

use crate::support::{EVENTS, await_every, publish, report, subscribe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_fanout_and_then_of_a_sender_mid_stream_loses_nothing() {
    // Arrange
    let mut app = ProcessApp::spawn("300ms,300ms,300ms,300ms,300ms").await;
    subscribe(&app, "/sink").await;
    let first_half = publish(&app.broker, EVENTS / 2).await;

    // Act: kill fanout while it works through the first half, publish the second half while
    // it is down, then kill the sender mid-stream.
    app.receiver
        .wait_for("/sink", 50, Duration::from_secs(30))
        .await;
    app.service(1).kill().await;
    let second_half = publish(&app.broker, EVENTS / 2).await;
    app.start("fanout").await;
    app.receiver
        .wait_for("/sink", EVENTS / 2 + 50, Duration::from_secs(60))
        .await;
    app.service(2).kill().await;
    let delivered_at_kill = app.receiver.to("/sink").len();
    app.start("sender").await;

    // Assert
    let expected: Vec<String> = first_half.into_iter().chain(second_half).collect();
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(120)).await;
    report("SIGKILL fanout, then sender", expected.len(), &tally);
    assert!(
        delivered_at_kill < EVENTS,
        "the sender was killed after the stream ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_a_sender_with_deliveries_in_flight_exits_cleanly_and_a_replica_takes_over() {
    // Arrange
    let mut app = ProcessApp::spawn("300ms,300ms,300ms,300ms,300ms").await;
    app.receiver
        .respond("/slow", Behaviour::Delay(Duration::from_millis(300)));
    subscribe(&app, "/slow").await;
    let replica = app.start("sender").await;
    let expected = publish(&app.broker, EVENTS).await;
    app.receiver
        .wait_for("/slow", 100, Duration::from_secs(30))
        .await;

    // Act
    let stopping = Instant::now();
    app.service(2).terminate();
    let status = app.service(2).wait_exit(Duration::from_secs(20)).await;
    let stopped_in = stopping.elapsed();

    // Assert
    assert!(status.success(), "the sender exited with {status}");
    assert!(
        stopped_in < Duration::from_secs(5) + Duration::from_secs(2),
        "drain took {stopped_in:?} (DRAIN_TIMEOUT is 5s)"
    );
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(120)).await;
    report(
        &format!("SIGTERM of a sender (exited 0 in {stopped_in:.1?})"),
        expected.len(),
        &tally,
    );
    let (_, metrics) = app.service(replica).health.get_text("/metrics").await;
    assert!(
        metrics.contains("herald_sender_attempts_total{result=\"delivered\",status_class=\"2xx\"}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sender_replicas_each_deliver_a_share_and_lose_nothing() {
    // Arrange: a small prefetch, so that no replica can take the whole stream at once.
    let mut app = ProcessApp::spawn_with(
        herald_tests::processes::Backing::shared(),
        &[
            ("SENDER_PREFETCH", "20"),
            ("SENDER_MAX_IN_FLIGHT_PER_WEBHOOK", "20"),
        ],
    )
    .await;
    app.receiver
        .respond("/shared", Behaviour::Delay(Duration::from_millis(20)));
    subscribe(&app, "/shared").await;
    let second = app.start("sender").await;
    let third = app.start("sender").await;

    // Act
    let expected = publish(&app.broker, EVENTS).await;

    // Assert
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(120)).await;
    let mut shares = Vec::new();
    for index in [2, second, third] {
        let delivered = app
            .service(index)
            .health
            .metric(r#"herald_sender_attempts_total{result="delivered",status_class="2xx"}"#)
            .await;
        shares.push(delivered);
    }
    report(
        &format!("three sender replicas (shares {shares:?})"),
        expected.len(),
        &tally,
    );
    assert!(
        shares.iter().all(|share| *share > 0.0),
        "a replica delivered nothing: {shares:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_among_a_thousand_deliveries_is_rejected_and_the_rest_delivered() {
    // Arrange
    let app = ProcessApp::spawn("300ms,300ms,300ms,300ms,300ms").await;
    subscribe(&app, "/sink").await;

    // Act
    let mut expected = publish(&app.broker, EVENTS / 2).await;
    app.broker
        .put(
            "webhooks.deliveries",
            b"\x00poison\xff",
            BasicProperties::default(),
        )
        .await;
    expected.extend(publish(&app.broker, EVENTS / 2).await);

    // Assert
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(120)).await;
    report("a poison delivery message", expected.len(), &tally);
    let rejected = app
        .broker
        .take_n("webhooks.rejected", 1, Duration::from_secs(10))
        .await;
    assert_eq!(rejected[0].body, b"\x00poison\xff");
    wait::until(
        "the deliveries queue to drain",
        Duration::from_secs(10),
        || async { (app.broker.count("webhooks.deliveries").await == 0).then_some(()) },
    )
    .await;
}
