//! Tenant credentials: every route of the OpenAPI document × every kind of credential, and the
//! lifecycle of portal sessions and API keys.

use std::time::Duration;

use chrono::Utc;
use herald_api::SessionKeys;
use herald_api::credentials::Scope;
use herald_store::{Keyring, SecretsKey};
use herald_tests::app::{ApiClient, Options, SECRETS_KEY, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A kind of credential, and what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Admin,
    OwnManageSession,
    OwnReadSession,
    OwnManageKey,
    OwnReadKey,
    OtherTenant,
    Expired,
    Revoked,
    Forged,
    None,
}

/// What §9 says `kind` gets on `method path`: `Some(401|403)`, or `None` for "let through"
/// (whatever the route then answers).
fn expected(kind: Kind, method: &str, path: &str) -> Option<u16> {
    let admin_only = !path.starts_with("/v1/tenants/{tenantId}/") && path != "/v1/event-types"
        || path.contains("/portal-sessions")
        || path.contains("/api-keys");
    let reads = method == "GET";
    match kind {
        Kind::Admin => None,
        Kind::Expired | Kind::Revoked | Kind::Forged | Kind::None => Some(401),
        _ if path == "/v1/event-types" => None,
        Kind::OtherTenant => Some(403),
        _ if admin_only => Some(403),
        Kind::OwnReadSession | Kind::OwnReadKey if !reads => Some(403),
        _ => None,
    }
}

fn keyring() -> Keyring {
    Keyring::new(
        SecretsKey::from_base64(SECRETS_KEY).expect("the test key"),
        None,
    )
}

async fn session(admin: &ApiClient, tenant: &str, scope: &str) -> String {
    let (status, body) = admin
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant}/portal-sessions"),
            Some(&json!({"scope": scope, "ttlSeconds": 600})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn api_key(admin: &ApiClient, tenant: &str, name: &str, scope: &str) -> Value {
    let (status, body) = admin
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant}/api-keys"),
            Some(&json!({"name": name, "scope": scope})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_kind_of_credential_as_the_access_rules_say() {
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let admin = &app.api;
    let webhook = admin
        .create_webhook(
            "acme",
            json!({"name": "w", "url": app.receiver.url("/w"), "eventTypes": ["contact-created"]}),
        )
        .await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    let revoked = api_key(admin, "acme", "revoked", "manage").await;
    let (status, _) = admin
        .call(
            Method::DELETE,
            &format!(
                "/v1/tenants/acme/api-keys/{}",
                revoked["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let valid = session(admin, "acme", "manage").await;
    let (expired, _) = SessionKeys::from_keyring(&keyring())
        .mint(
            &"acme".parse().unwrap(),
            Scope::Manage,
            Duration::from_secs(60),
            Utc::now() - chrono::Duration::minutes(10),
        )
        .unwrap();
    let (head_and_claims, _) = valid.rsplit_once('.').unwrap();
    let forged = format!("{head_and_claims}.c2lnbmVkIGJ5IG5vYm9keQ");
    let base = format!("http://{}", app.address);
    let credentials: Vec<(Kind, Option<String>)> = vec![
        (Kind::Admin, Some(herald_tests::app::ADMIN_TOKEN.to_owned())),
        (Kind::OwnManageSession, Some(valid.clone())),
        (
            Kind::OwnReadSession,
            Some(session(admin, "acme", "read").await),
        ),
        (
            Kind::OwnManageKey,
            api_key(admin, "acme", "ci", "manage").await["key"]
                .as_str()
                .map(str::to_owned),
        ),
        (
            Kind::OwnReadKey,
            api_key(admin, "acme", "dashboards", "read").await["key"]
                .as_str()
                .map(str::to_owned),
        ),
        (
            Kind::OtherTenant,
            Some(session(admin, "globex", "manage").await),
        ),
        (Kind::Expired, Some(expired)),
        (Kind::Revoked, revoked["key"].as_str().map(str::to_owned)),
        (Kind::Forged, Some(forged)),
        (Kind::None, None),
    ];
    let (_, document) = admin.call(Method::GET, "/v1/openapi.json", None).await;
    let mut operations = herald_tests::app::documented_operations(&document);
    // Deletions last, so that the other routes find the webhook.
    operations.sort_by_key(|(method, path)| (method == "DELETE", path.clone()));
    assert!(operations.len() >= 15, "{operations:?}");
    let http = reqwest::Client::new();

    // Act
    let mut table = Vec::new();
    for (kind, token) in &credentials {
        for (method, template) in &operations {
            let path = template
                .replace("{tenantId}", "acme")
                .replace("{webhookId}", &webhook_id)
                .replace("{keyId}", "KEY-NONE");
            let mut request = http.request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{base}{path}"),
            );
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if method == "POST" || method == "PATCH" {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            table.push((*kind, method.clone(), template.clone(), status, body));
        }
    }

    // Assert
    let mut wrong = Vec::new();
    for (kind, method, template, status, body) in &table {
        let denied = matches!(status, 401 | 403);
        let ok = match expected(*kind, method, template) {
            Some(code) => *status == code && body["error"]["code"].is_string(),
            None => !denied && *status != 500,
        };
        if !ok {
            wrong.push(format!("{kind:?} {method} {template} → {status} {body}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let forbidden = table.iter().find(|row| row.3 == 403).unwrap();
    assert_eq!(forbidden.4["error"]["code"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_session_reaches_its_tenant_and_an_api_key_stops_working_the_moment_it_is_revoked()
{
    // Arrange
    let app = TestApp::spawn(Options::default()).await;
    let admin = &app.api;

    // Act
    let (status, minted) = admin
        .call(
            Method::POST,
            "/v1/tenants/acme/portal-sessions",
            Some(&json!({"scope": "read"})),
        )
        .await;

    // Assert
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let token = minted["token"].as_str().unwrap();
    assert_eq!(minted["tenantId"], "acme");
    assert_eq!(minted["scope"], "read");
    assert_eq!(
        minted["url"],
        format!("http://{}/console/#session={token}", app.address)
    );
    let expires_at = chrono::DateTime::parse_from_rfc3339(minted["expiresAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let ttl = expires_at - Utc::now();
    assert!(
        ttl > chrono::Duration::seconds(3500) && ttl <= chrono::Duration::seconds(3600),
        "default TTL is an hour: {ttl}"
    );
    let tenant = ApiClient::new(format!("http://{}", app.address), token);
    let (status, page) = tenant
        .call(Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for bad in [
        json!({"scope": "owner"}),
        json!({"ttlSeconds": 59}),
        json!({"ttlSeconds": 86_401}),
    ] {
        let (status, body) = admin
            .call(Method::POST, "/v1/tenants/acme/portal-sessions", Some(&bad))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    let key = api_key(admin, "acme", "automation", "manage").await;
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("hk_"));
    let (_, listed) = admin
        .call(Method::GET, "/v1/tenants/acme/api-keys", None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("key").is_none(),
        "a key is shown once: {listed}"
    );
    let (status, duplicate) = admin
        .call(
            Method::POST,
            "/v1/tenants/acme/api-keys",
            Some(&json!({"name": "automation"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{duplicate}");
    let automation = ApiClient::new(format!("http://{}", app.address), secret);
    let created = automation
        .create_webhook(
            "acme",
            json!({"name": "made-by-key", "url": app.receiver.url("/k"), "eventTypes": ["contact-created"]}),
        )
        .await;
    assert_eq!(created["tenantId"], "acme");
    let (status, _) = admin
        .call(
            Method::DELETE,
            &format!("/v1/tenants/acme/api-keys/{}", key["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = automation
        .call(Method::GET, "/v1/tenants/acme/webhooks", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
