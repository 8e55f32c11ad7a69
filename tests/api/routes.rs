use herald_tests::app::{Options, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn webhook_body(name: &str, url: &str) -> Value {
    json!({"name": name, "url": url, "eventTypes": ["contact-created", "company-created"], "authHeader": {"name": "X-Key", "value": "s3cret"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_its_success_status_with_the_documented_shape() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let url = app.receiver.url("/hook");

    // Act + Assert, route by route
    let (status, catalog) = app.api.call(Method::GET, "/v1/event-types", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(catalog.as_array().unwrap().len(), 10);
    assert!(
        catalog
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "company-note-deleted" && t["description"].is_string())
    );

    let (status, created) = app
        .api
        .call(
            Method::POST,
            "/v1/tenants/acme/webhooks",
            Some(&webhook_body("one", &url)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("WEBH-"));
    assert_eq!(created["tenantId"], "acme");
    assert_eq!(
        created["authHeader"],
        json!({"name": "X-Key", "value": "****"})
    );
    assert_eq!(created["enabled"], true);
    assert_eq!(created["description"], Value::Null);
    assert_eq!(created["lastAttempt"], Value::Null);
    assert!(
        created["signingSecret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    for field in ["createdAt", "updatedAt"] {
        chrono::DateTime::parse_from_rfc3339(created[field].as_str().unwrap()).unwrap();
    }
    for name in ["two", "three"] {
        app.api
            .create_webhook("acme", webhook_body(name, &url))
            .await;
    }

    let (status, first_page) = app
        .api
        .call(Method::GET, "/v1/tenants/acme/webhooks?limit=2", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first_page["items"].as_array().unwrap().len(), 2);
    let cursor = first_page["nextCursor"].as_str().unwrap();
    let (_, second_page) = app
        .api
        .call(
            Method::GET,
            &format!("/v1/tenants/acme/webhooks?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second_page["items"].as_array().unwrap().len(), 1);
    assert_eq!(second_page["nextCursor"], Value::Null);
    let names: Vec<&str> = first_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second_page["items"].as_array().unwrap())
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["one", "two", "three"]);

    let path = format!("/v1/tenants/acme/webhooks/{id}");
    let (status, fetched) = app.api.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["signingSecret"], created["signingSecret"]);

    let patch = json!({"name": "renamed", "enabled": false, "description": "for CRM", "eventTypes": ["basket-submitted"], "authHeader": null});
    let (status, patched) = app.api.call(Method::PATCH, &path, Some(&patch)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["description"], "for CRM");
    assert_eq!(patched["eventTypes"], json!(["basket-submitted"]));
    assert_eq!(patched["authHeader"], Value::Null);
    assert_eq!(patched["url"], created["url"]);

    let (status, rotated) = app
        .api
        .call(Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["signingSecret"], created["signingSecret"]);

    let (status, attempt) = app
        .api
        .call(
            Method::POST,
            &format!("{path}/test"),
            Some(&json!({"eventType": "company-created"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attempt["result"], "delivered");
    assert_eq!(attempt["test"], true);
    assert_eq!(attempt["eventType"], "company-created");
    assert_eq!(attempt["responseStatus"], 200);

    let (status, log) = app
        .api
        .call(Method::GET, &format!("{path}/attempts"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    assert_eq!(log["nextCursor"], Value::Null);

    let (status, body) = app.api.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _) = app.api.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_errors_have_their_exact_status_codes_and_shape() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let url = app.receiver.url("/hook");
    let existing = app
        .api
        .create_webhook("acme", webhook_body("taken", &url))
        .await;
    let other = app
        .api
        .create_webhook("acme", webhook_body("other", &url))
        .await;
    let path = format!(
        "/v1/tenants/acme/webhooks/{}",
        other["id"].as_str().unwrap()
    );
    let http = reqwest::Client::new();
    let base = format!("http://{}", app.address);

    // Act + Assert
    let response = http
        .get(format!("{base}/v1/event-types"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
    let response = http
        .get(format!("{base}/v1/event-types"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = app
        .api
        .call(
            Method::POST,
            "/v1/tenants/acme/webhooks",
            Some(&json!({"name": "x", "url": url, "eventTypes": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["field"], "eventTypes");

    let (status, body) = app
        .api
        .call(
            Method::POST,
            "/v1/tenants/acme/webhooks",
            Some(&webhook_body("taken", &url)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "conflict");
    let (status, _) = app
        .api
        .call(Method::PATCH, &path, Some(&json!({"name": "taken"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .api
        .call(
            Method::POST,
            "/v1/tenants/globex/webhooks",
            Some(&webhook_body("taken", &url)),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "names are unique per tenant only"
    );

    for missing in ["WEBH-0000000000000000000000000000000A", "not-an-id"] {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::PATCH, ""),
            (Method::DELETE, ""),
            (Method::POST, "/test"),
            (Method::GET, "/attempts"),
            (Method::POST, "/rotate-secret"),
        ] {
            let body = (method == Method::PATCH).then(|| json!({"enabled": true}));
            let (status, response) = app
                .api
                .call(
                    method.clone(),
                    &format!("/v1/tenants/acme/webhooks/{missing}{suffix}"),
                    body.as_ref(),
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {missing}{suffix}");
            assert_eq!(response["error"]["code"], "not_found");
        }
    }

    for query in ["limit=0", "limit=101", "limit=ten", "cursor=bogus"] {
        let (status, body) = app
            .api
            .call(
                Method::GET,
                &format!("/v1/tenants/acme/webhooks?{query}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body["error"]["field"].is_string());
    }
    let (status, _) = app
        .api
        .call(Method::GET, &format!("{path}/attempts?cursor=x"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .api
        .call(Method::GET, "/v1/tenants/a%20b/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .api
        .call(
            Method::POST,
            &format!("{path}/test"),
            Some(&json!({"eventType": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(existing["name"], "taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_need_no_token_and_every_v1_route_does() {
    let app = TestApp::spawn(Options::default()).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (status, _) = app.api.get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    for path in [
        "/v1/event-types",
        "/v1/openapi.json",
        "/v1/tenants/acme/webhooks",
    ] {
        let (status, _) = app.api.get_text(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let webhook = app
        .api
        .create_webhook(
            "acme",
            webhook_body("documented", &app.receiver.url("/hook")),
        )
        .await;
    let id = webhook["id"].as_str().unwrap();

    // Act
    let (status, document) = app.api.call(Method::GET, "/v1/openapi.json", None).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = document["paths"].as_object().unwrap();
    let mut documented = herald_tests::app::documented_operations(&document);
    documented.sort();
    let expected = [
        ("DELETE", "/v1/tenants/{tenantId}/api-keys/{keyId}"),
        ("DELETE", "/v1/tenants/{tenantId}/webhooks/{webhookId}"),
        ("GET", "/v1/event-types"),
        ("GET", "/v1/status"),
        ("GET", "/v1/tenants/{tenantId}/api-keys"),
        ("GET", "/v1/tenants/{tenantId}/failed"),
        ("GET", "/v1/tenants/{tenantId}/webhooks"),
        ("GET", "/v1/tenants/{tenantId}/webhooks/{webhookId}"),
        (
            "GET",
            "/v1/tenants/{tenantId}/webhooks/{webhookId}/attempts",
        ),
        ("GET", "/v1/tenants/{tenantId}/webhooks/{webhookId}/stats"),
        ("PATCH", "/v1/tenants/{tenantId}/webhooks/{webhookId}"),
        ("POST", "/v1/tenants/{tenantId}/api-keys"),
        ("POST", "/v1/tenants/{tenantId}/failed/replay"),
        ("POST", "/v1/tenants/{tenantId}/portal-sessions"),
        ("POST", "/v1/tenants/{tenantId}/webhooks"),
        (
            "POST",
            "/v1/tenants/{tenantId}/webhooks/{webhookId}/rotate-secret",
        ),
        ("POST", "/v1/tenants/{tenantId}/webhooks/{webhookId}/test"),
    ];
    let operations_elsewhere = [
        ("GET", "/v1/failed"),
        ("POST", "/v1/failed/replay"),
        ("POST", "/v1/failed/purge"),
        ("GET", "/v1/rejected"),
        ("POST", "/v1/rejected/purge"),
    ];
    documented.retain(|(m, p)| {
        !operations_elsewhere
            .iter()
            .any(|(om, op)| om == m && op == p)
    });
    for (method, path) in operations_elsewhere {
        assert!(
            paths[path].get(method.to_lowercase()).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(
        documented,
        expected.map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
    // Identifiers have their shape, every operation documents its error answers, and a
    // created webhook links to the routes that take its id.
    let webhook_path = &paths["/v1/tenants/{tenantId}/webhooks/{webhookId}"]["get"];
    let pattern = |name: &str| {
        webhook_path["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"]["pattern"].clone())
            .unwrap()
    };
    assert_eq!(pattern("tenantId"), "^[A-Za-z0-9._:@-]{1,128}$");
    assert_eq!(pattern("webhookId"), "^WEBH-[0-9A-F]{32}$");
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            for status in ["400", "401"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    let links = &paths["/v1/tenants/{tenantId}/webhooks"]["post"]["responses"]["201"]["links"];
    assert_eq!(links.as_object().map(|l| l.len()), Some(6));
    assert_eq!(
        links["GetWebhook"]["parameters"]["webhookId"],
        "$response.body#/id"
    );
    // Every documented operation is served (DELETE last, as it removes the webhook).
    let (_, key) = app
        .api
        .call(
            Method::POST,
            "/v1/tenants/acme/api-keys",
            Some(&json!({"name": "documented"})),
        )
        .await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    for (method, path) in expected
        .iter()
        .filter(|(m, _)| *m != "DELETE")
        .chain(expected.iter().filter(|(m, _)| *m == "DELETE"))
    {
        let concrete = path
            .replace("{tenantId}", "acme")
            .replace("{webhookId}", id)
            .replace("{keyId}", &key_id);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = match (method.as_str(), path.rsplit('/').next()) {
            ("POST", Some("webhooks")) => Some(webhook_body("served", &app.receiver.url("/hook"))),
            ("POST", Some("api-keys")) => Some(json!({"name": "served"})),
            ("PATCH", _) => Some(json!({"description": "documented"})),
            _ => None,
        };
        let (status, response) = app.api.call(method.clone(), &concrete, body.as_ref()).await;
        assert!(
            status.is_success(),
            "{method} {concrete} answered {status}: {response}"
        );
    }
}
