use std::time::Duration;

use herald_tests::broker::BrokerClient;
use herald_tests::private::PrivateBroker;
use herald_tests::processes::{Backing, ProcessApp};
use herald_tests::wait;
use reqwest::StatusCode;

use crate::support::{EVENTS, await_every, publish, report, subscribe};

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

async fn readyz(app: &mut ProcessApp, index: usize) -> StatusCode {
    app.service(index).health.get_text("/readyz").await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing_and_readiness_follows_the_broker() {
    // Arrange
    let broker = std::sync::Arc::new(blocking(|| PrivateBroker::start(1)).await);
    // A slow stream (10 in flight, 50 ms each), so that the restart lands in its middle.
    let mut app = ProcessApp::spawn_with(
        Backing::with_brokers(broker.amqp_urls()),
        &[("SENDER_PREFETCH", "10")],
    )
    .await;
    app.receiver.respond(
        "/sink",
        herald_tests::receiver::Behaviour::Delay(Duration::from_millis(50)),
    );
    subscribe(&app, "/sink").await;
    let expected = publish(&app.broker, EVENTS).await;
    app.receiver
        .wait_for("/sink", 100, Duration::from_secs(30))
        .await;

    // Act
    let stopping = broker.clone();
    blocking(move || stopping.ctl(1, &["stop_app"])).await;
    for index in [1, 2] {
        // Fails the scenario (with a timeout) unless readiness drops.
        if readyz(&mut app, index).await != StatusCode::SERVICE_UNAVAILABLE {
            wait::until("readiness to drop", Duration::from_secs(30), || async {
                (app.services[index].health.get_text("/readyz").await.0
                    == StatusCode::SERVICE_UNAVAILABLE)
                    .then_some(())
            })
            .await;
        }
    }
    let starting = broker.clone();
    blocking(move || starting.ctl(1, &["start_app"])).await;
    let restarted = std::time::Instant::now();

    // Assert
    for index in [1, 2] {
        app.services[index]
            .health
            .wait_ready(Duration::from_secs(60))
            .await;
    }
    let recovered_in = restarted.elapsed();
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(120)).await;
    report(
        &format!("broker restart (readyz 503, then 200 {recovered_in:.1?} after start_app)"),
        expected.len(),
        &tally,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_node_that_leads_the_queues_loses_nothing_and_delivery_goes_on() {
    // Arrange: three nodes, quorum queues replicated on all of them.
    let cluster = std::sync::Arc::new(blocking(|| PrivateBroker::start(3)).await);
    let app = ProcessApp::spawn_with(
        Backing::with_brokers(cluster.amqp_urls()),
        &[("SENDER_PREFETCH", "10")],
    )
    .await;
    app.receiver.respond(
        "/sink",
        herald_tests::receiver::Behaviour::Delay(Duration::from_millis(50)),
    );
    subscribe(&app, "/sink").await;
    let members = cluster.ctl(1, &["list_queues", "name", "members"]);
    let deliveries = members
        .lines()
        .find(|l| l.starts_with("webhooks.deliveries"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        (1..=3).all(|i| deliveries.contains(&cluster.node(i))),
        "not replicated on all nodes: {deliveries}"
    );
    let leader = cluster.leader_of("webhooks.deliveries", 1);
    let survivor = if leader == 1 { 2 } else { 1 };
    let publisher = BrokerClient::connect(&cluster.amqp_urls()[survivor - 1]).await;
    let expected = publish(&publisher, EVENTS).await;
    app.receiver
        .wait_for("/sink", 100, Duration::from_secs(30))
        .await;

    // Act
    let killing = cluster.clone();
    blocking(move || killing.kill(leader)).await;

    // Assert
    let tally = await_every(&app.receiver, &expected, Duration::from_secs(180)).await;
    report(
        &format!("kill -9 of the leader node ({})", cluster.node(leader)),
        expected.len(),
        &tally,
    );
    let new_leader = cluster.leader_of("webhooks.deliveries", survivor);
    assert_ne!(new_leader, leader);
}
