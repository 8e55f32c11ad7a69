//! The network policy on the addresses actually connected to, through the same client the
//! sender and the test route use.

use std::time::Duration;

use bytes::Bytes;
use herald_contract::SigningSecret;
use herald_delivery::NetworkPolicy;
use herald_delivery::{
    AttemptOutcome, AttemptRequest, ClientSettings, DeliveryClient, TargetRules,
};
use herald_testkit::Receiver;

/// An HTTP endpoint answering 200 to everything, on `addr`; its port.
async fn endpoint(addr: &str) -> Option<u16> {
    let receiver = Receiver::start_on(addr).await.ok()?;
    Some(receiver.addr.port())
}

async fn send(client: &DeliveryClient, url: &str) -> AttemptOutcome {
    let secret = SigningSecret::generate();
    let url = reqwest::Url::parse(url).expect("a URL");
    client
        .send(AttemptRequest {
            url: &url,
            auth_header: None,
            message_id: "evt-1",
            body: Bytes::from_static(b"{}"),
            secrets: &[&secret],
            traceparent: None,
            tracestate: None,
        })
        .await
}

fn client(allow: bool) -> DeliveryClient {
    DeliveryClient::new(ClientSettings {
        timeout: Duration::from_millis(500),
        targets: TargetRules {
            allow_http: allow,
            network: NetworkPolicy {
                allow_private_targets: allow,
                deny: vec![],
            },
        },
    })
    .expect("client")
}

#[tokio::test]
async fn non_public_addresses_and_names_resolving_to_them_are_refused_by_default() {
    let port = endpoint("127.0.0.1:0")
        .await
        .expect("an IPv4 loopback endpoint");
    let strict = client(false);
    for url in [
        format!("https://127.0.0.1:{port}/"),
        "https://10.0.0.1/".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::1]/".to_owned(),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://[::ffff:8.8.8.8]:{port}/"),
        format!("https://localhost:{port}/"),
    ] {
        let outcome = send(&strict, &url).await;
        let error = outcome.error.unwrap_or_default();
        assert!(
            error.starts_with("refused by network policy"),
            "{url}: {error}"
        );
        assert_eq!(outcome.status, None);
    }
    let error = send(&strict, "http://example.com/")
        .await
        .error
        .unwrap_or_default();
    assert!(error.contains("plain http://"), "{error}");
}

#[tokio::test]
async fn the_same_targets_are_reached_when_the_policy_is_lifted() {
    let port = endpoint("127.0.0.1:0")
        .await
        .expect("an IPv4 loopback endpoint");
    let lenient = client(true);
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let outcome = send(&lenient, &url).await;
        assert_eq!(outcome.status, Some(200), "{url}: {:?}", outcome.error);
        assert!(outcome.delivered());
    }
    if let Some(v6_port) = endpoint("[::1]:0").await {
        let outcome = send(&lenient, &format!("http://[::1]:{v6_port}/")).await;
        assert!(outcome.delivered(), "[::1]: {:?}", outcome.error);
    }
}

#[tokio::test]
async fn denied_ranges_are_refused_even_when_private_targets_are_allowed() {
    let port = endpoint("127.0.0.1:0")
        .await
        .expect("an IPv4 loopback endpoint");
    let denying = DeliveryClient::new(ClientSettings {
        timeout: Duration::from_millis(500),
        targets: TargetRules {
            allow_http: true,
            network: NetworkPolicy {
                allow_private_targets: true,
                deny: vec![
                    "127.0.0.0/8".parse().expect("a range"),
                    "::1".parse().expect("an address"),
                ],
            },
        },
    })
    .expect("client");
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let outcome = send(&denying, &url).await;
        let error = outcome.error.unwrap_or_default();
        assert!(
            error.starts_with("refused by network policy") && error.contains("DENY_TARGETS"),
            "{url}: {error}"
        );
    }
}
