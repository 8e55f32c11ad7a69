//! The console in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver), against Herald in-process, the real broker and database, and the receiver.
//! Screenshots of each page (desktop and 375 px wide) go to `target/console-screenshots/`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use herald_tests::app::{Options, TestApp};
use herald_tests::broker::event;
use herald_tests::processes::free_port;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// A headless Chromium session, with its chromedriver; both end when dropped.
struct Browser {
    client: Client,
    _driver: Child,
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect(
                "chromedriver is installed (Debian package chromium-driver; .ci/run installs it)",
            );
        let webdriver = format!("http://127.0.0.1:{port}");
        let status = format!("{webdriver}/status");
        herald_tests::wait::until(
            "chromedriver to answer",
            Duration::from_secs(20),
            || async {
                reqwest::get(&status)
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
            },
        )
        .await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1440,1000"]
            }),
        );
        // chromedriver is on loopback: plain HTTP, no TLS stack.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a Chromium session");
        Self {
            client,
            _driver: driver,
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no `{css}` on the page: {error}"))
    }

    /// Waits until the element at `css` has non-empty text; returns it.
    async fn text_of(&self, css: &str) -> String {
        herald_tests::wait::until(
            &format!("text in `{css}`"),
            Duration::from_secs(15),
            || async {
                let element = self.client.find(Locator::Css(css)).await.ok()?;
                let text = element.text().await.ok()?;
                (!text.trim().is_empty()).then_some(text)
            },
        )
        .await
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Saves a screenshot at desktop width and at 375 px.
    async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        for (width, suffix) in [(1440, "desktop"), (375, "mobile")] {
            self.client.set_window_size(width, 1000).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{suffix}.png")), png).unwrap();
        }
        self.client.set_window_size(1440, 1000).await.unwrap();
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn portal_url(app: &TestApp, tenant: &str, scope: &str) -> String {
    let (_, minted) = app
        .api
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant}/portal-sessions"),
            Some(&json!({"scope": scope})),
        )
        .await;
    minted["url"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_creates_tests_and_watches_a_webhook_in_the_console() {
    let app = TestApp::spawn(Options::default()).await;
    let browser = Browser::start().await;

    // 1. A portal session for acme: the list is empty and says what to do; the token leaves
    //    the address bar.
    browser
        .client
        .goto(&portal_url(&app, "acme", "manage").await)
        .await
        .unwrap();
    let empty = browser.text_of("#empty").await;
    assert!(empty.contains("create one"), "{empty}");
    let address = browser.client.current_url().await.unwrap();
    assert!(
        address.fragment().is_none(),
        "the token stayed in {address}"
    );
    browser.screenshots("1-empty-list").await;

    // 2. An invalid URL shows the API's message at the field; a valid one creates it.
    browser.click("#new-webhook").await;
    browser.type_into("[id='name']", "CRM sync").await;
    browser
        .type_into("[id='url']", "ftp://example.com/hook")
        .await;
    browser
        .click("input[name='eventTypes'][value='contact-created']")
        .await;
    browser.click("#webhook-form button[type='submit']").await;
    let url_error = browser.text_of("[id='url-error']").await;
    assert!(url_error.contains("`url`"), "{url_error}");
    browser.screenshots("2-form-with-error").await;
    browser
        .type_into("[id='url']", &app.receiver.url("/crm"))
        .await;
    browser
        .type_into("[id='authHeader.name']", "X-Api-Key")
        .await;
    browser.type_into("[id='authHeader.value']", "k3y").await;
    browser.click("#webhook-form button[type='submit']").await;

    // 3. Test shows the attempt; the receiver got a signed request with the auth header.
    browser.click("#send-test").await;
    let result = browser
        .find("#test-result .badge[data-result='delivered']")
        .await;
    assert_eq!(result.text().await.unwrap(), "Delivered");
    let (_, page) = app
        .api
        .call(Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    let webhook: Value = page["items"][0].clone();
    assert_eq!(webhook["name"], "CRM sync");
    let received = app
        .receiver
        .wait_for("/crm", 1, Duration::from_secs(10))
        .await;
    assert_eq!(received[0].header("x-api-key"), Some("k3y"));
    received[0]
        .verify(webhook["signingSecret"].as_str().unwrap())
        .expect("a valid signature");
    browser.screenshots("3-webhook-detail").await;

    // 4. A real event: the list's badge turns to delivered without a reload.
    browser
        .client
        .find(Locator::XPath("//button[text()='Back']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.find("tr[data-webhook]").await;
    app.wait_for_registry().await;
    app.publish(&event(
        "acme",
        "contact-created",
        json!({"firstName": "Ada"}),
    ))
    .await;
    browser
        .find("tr[data-webhook] .badge[data-result='delivered']")
        .await;
    browser.screenshots("4-list-delivered").await;

    // 6. Rotation shows the new secret, and the next delivery verifies with it.
    browser.click("tr[data-webhook] a").await;
    browser.click("#rotate").await;
    browser.client.accept_alert().await.unwrap();
    let rotated = herald_tests::wait::until("the new secret", Duration::from_secs(10), || async {
        let text = browser
            .client
            .find(Locator::Css("#secret"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (text.starts_with("whsec_") && text != webhook["signingSecret"].as_str()?).then_some(text)
    })
    .await;
    app.wait_for_registry().await;
    app.publish(&event("acme", "contact-created", json!({"n": 2})))
        .await;
    let received = app
        .receiver
        .wait_for("/crm", 3, Duration::from_secs(10))
        .await;
    let latest = received.last().unwrap();
    latest.verify(&rotated).expect("signed with the new secret");

    // 7. A read-scope session sees the webhook and offers no control that changes it.
    browser.client.goto("about:blank").await.unwrap();
    browser
        .client
        .goto(&portal_url(&app, "acme", "read").await)
        .await
        .unwrap();
    browser.find("tr[data-webhook]").await;
    assert!(
        browser
            .client
            .find(Locator::Css("#new-webhook"))
            .await
            .is_err(),
        "a read session offers New webhook"
    );
    browser.click("tr[data-webhook] a").await;
    browser.find("#secret").await;
    for control in ["#rotate", "#delete", "#toggle", "#send-test"] {
        assert!(
            browser.client.find(Locator::Css(control)).await.is_err(),
            "a read session offers {control}"
        );
    }
    browser.screenshots("7-read-only-detail").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_replayed_from_the_page_and_only_allowed_origins_may_frame_it() {
    // Arrange: two pages on other origins, one of them allowed to frame the console.
    let allowed = herald_tests::receiver::Receiver::start().await;
    let other = herald_tests::receiver::Receiver::start().await;
    let app = TestApp::spawn(Options {
        retry_delays: "200ms".into(),
        console_frame_ancestors: format!("http://{}", allowed.addr),
        ..Options::default()
    })
    .await;
    app.receiver
        .respond("/broken", herald_tests::receiver::Behaviour::Status(500));
    let webhook = app
        .api
        .create_webhook(
            "acme",
            json!({"name": "broken", "url": app.receiver.url("/broken"), "eventTypes": ["contact-created"]}),
        )
        .await;
    app.wait_for_registry().await;
    let sent = event("acme", "contact-created", json!({"n": 1}));
    app.publish(&sent).await;
    let failed_path = format!(
        "/v1/tenants/acme/failed?webhookId={}",
        webhook["id"].as_str().unwrap()
    );
    herald_tests::wait::until(
        "the delivery to be parked",
        Duration::from_secs(20),
        || async {
            let (_, page) = app.api.call(Method::GET, &failed_path, None).await;
            (page["items"].as_array().map(Vec::len) == Some(1)).then_some(())
        },
    )
    .await;
    let browser = Browser::start().await;

    // 5. The failed delivery shows under the webhook; Replay after the fix delivers it.
    browser
        .client
        .goto(&portal_url(&app, "acme", "manage").await)
        .await
        .unwrap();
    browser.click("tr[data-webhook] a").await;
    let row = browser
        .find(&format!(
            "#failed tr[data-event='{}']",
            sent["eventId"].as_str().unwrap()
        ))
        .await;
    assert!(row.text().await.unwrap().contains("HTTP 500"));
    browser.screenshots("5-failed-delivery").await;
    app.receiver
        .respond("/broken", herald_tests::receiver::Behaviour::Ok);
    browser.click("#failed .replay").await;
    let replayed = app
        .receiver
        .wait_for("/broken", 3, Duration::from_secs(15))
        .await;
    assert_eq!(
        replayed[2].json()["meta"]["eventId"],
        sent["eventId"].as_str().unwrap()
    );

    // With the admin token: the tenant's webhooks, and the failed and rejected queues.
    browser
        .client
        .goto(&format!("http://{}/console/", app.address))
        .await
        .unwrap();
    browser
        .type_into("#signin-token", herald_tests::app::ADMIN_TOKEN)
        .await;
    browser.type_into("#signin-tenant", "acme").await;
    browser.click("#signin-form button[type='submit']").await;
    browser.find("tr[data-webhook]").await;
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//h2[contains(., 'Rejected events')]"))
        .await
        .unwrap();
    browser.screenshots("9-operator").await;

    // 8. Framed by the allowed origin the console works; by another, the browser refuses it.
    let session = portal_url(&app, "acme", "read").await;
    for (framer, works) in [(&allowed, true), (&other, false)] {
        framer.respond(
            "/app",
            herald_tests::receiver::Behaviour::Page(format!(
                "<!doctype html><title>App</title><iframe src=\"{session}\" width=\"1200\" height=\"800\"></iframe>"
            )),
        );
        browser.client.goto(&framer.url("/app")).await.unwrap();
        browser.find("iframe").await;
        browser.client.enter_frame(0).await.unwrap();
        let shown = herald_tests::wait::try_until(Duration::from_secs(5), || async {
            let row = browser
                .client
                .find(Locator::Css("tr[data-webhook]"))
                .await
                .ok()?;
            row.text().await.ok()
        })
        .await;
        assert_eq!(shown.is_some(), works, "framed by {}", framer.addr);
        browser.client.enter_parent_frame().await.unwrap();
    }
}
