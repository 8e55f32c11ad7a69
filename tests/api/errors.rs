//! Every error answer of the API has the same shape, whoever produces it.

use std::time::Duration;

use herald_tests::app::{ADMIN_TOKEN, Options, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_of_routing_bodies_and_query_strings_carry_the_error_envelope() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let base = format!("http://{}", app.address);
    // A fresh connection per request: the server closes a connection whose body it refused.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let authorised = |request: reqwest::RequestBuilder| request.bearer_auth(ADMIN_TOKEN);
    let webhooks = format!("{base}/v1/tenants/acme/webhooks");

    // Act
    let answers = vec![
        (
            "unknown route",
            authorised(http.get(format!("{base}/v1/nope"))),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "wrong method",
            authorised(http.delete(format!("{base}/v1/event-types"))),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "oversize body",
            authorised(http.post(&webhooks))
                .header("content-type", "application/json")
                .body(format!("{{\"name\":\"{}\"}}", "x".repeat(100_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "wrong content type",
            authorised(http.post(&webhooks))
                .header("content-type", "text/plain")
                .body("{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "unparsable query string",
            authorised(http.get(format!("{base}/v1/failed?tenantId=a&tenantId=b"))),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];

    // Assert
    for (what, request, status, code) in answers {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{what}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_trickling_a_request_head_neither_block_others_nor_keep_their_connection() {
    // Arrange
    let app = TestApp::spawn(Options {
        http_header_timeout: "1s".into(),
        ..Options::default()
    })
    .await;
    let mut trickling = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        trickling.push(stream);
    }

    // Act
    let answered = reqwest::get(format!("http://{}/healthz", app.address))
        .await
        .unwrap();

    // Assert
    assert_eq!(answered.status(), StatusCode::OK);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut closed = 0;
        for stream in &mut trickling {
            // One more header byte now and then, never the end of the head.
            let _ = stream.write_all(b"X").await;
            let mut buffer = [0u8; 1024];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
            closed += 1;
        }
        closed
    })
    .await
    .expect("the server closes trickling connections once the head timeout passes");
    assert_eq!(closed, 200);
}
