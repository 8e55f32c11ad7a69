use herald_tests::app::{Options, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{}{path}", app.address))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_without_a_credential_under_a_strict_content_security_policy() {
    // Arrange
    let app = TestApp::spawn(Options {
        console_frame_ancestors: "https://app.example.com".into(),
        ..Options::default()
    })
    .await;

    // Act
    let page = get(&app, "/console/").await;
    let redirect = get(&app, "/console").await;
    let script = get(&app, "/console/console.js").await;
    let style = get(&app, "/console/console.css").await;
    let (status, minted) = app
        .api
        .call(
            Method::POST,
            "/v1/tenants/acme/portal-sessions",
            Some(&json!({})),
        )
        .await;

    // Assert
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors https://app.example.com",
    ] {
        assert!(
            policy.contains(directive),
            "{directive} missing from {policy}"
        );
    }
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.text().await.unwrap().contains("console.js"));
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()["location"], "/console/");
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        style.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(status, StatusCode::CREATED);
    let url = minted["url"].as_str().unwrap();
    let (page_url, fragment) = url.split_once('#').unwrap();
    assert!(page_url.ends_with("/console/"));
    assert!(
        fragment.starts_with("session="),
        "the token travels in the fragment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allowed_origins_the_console_may_not_be_framed() {
    let app = TestApp::spawn(Options::default()).await;
    let page = get(&app, "/console/").await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
}
