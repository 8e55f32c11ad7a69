//! What the generated OpenAPI document cannot say from the handlers alone, added once for
//! every route: the shape of path identifiers, the error answers every route can give, and
//! the links from a created webhook to the routes that take its id (so that a client — or a
//! schema-driven test — can follow them).

use serde_json::{Value, json};

/// `tenantId`: 1–128 of `A-Z a-z 0-9 . _ - : @` (see `herald_contract::TenantId`).
const TENANT_ID_PATTERN: &str = "^[A-Za-z0-9._:@-]{1,128}$";
/// `webhookId`: `WEBH-` and 32 uppercase hex digits (see `herald_contract::WebhookId`).
const WEBHOOK_ID_PATTERN: &str = "^WEBH-[0-9A-F]{32}$";

const ERROR: &str = "#/components/schemas/ErrorBody";

/// Completes `document` in place.
pub(super) fn complete(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            constrain_identifiers(operation);
            document_errors(operation, path);
        }
    }
    link_created_webhook(document);
}

fn constrain_identifiers(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let pattern = match parameter.get("name").and_then(Value::as_str) {
            Some("tenantId") => TENANT_ID_PATTERN,
            Some("webhookId") => WEBHOOK_ID_PATTERN,
            _ => continue,
        };
        parameter["schema"] = json!({"type": "string", "pattern": pattern});
    }
}

/// Every route answers 401 without a valid token and 400 to a malformed request (a query
/// string, a path or a body); a route with a body 413 and 415 too; a tenant's route 404.
fn document_errors(operation: &mut Value, path: &str) {
    let has_body = operation.get("requestBody").is_some();
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": ERROR}}}
            })
        });
    };
    add(
        "400",
        "The request is malformed: the error names the field at fault",
    );
    add("401", "No valid bearer token");
    if path != "/v1/event-types" {
        add(
            "403",
            "A tenant credential that may not call this route (another tenant's, read scope, admin only)",
        );
    }
    add("408", "The request took longer than HTTP_REQUEST_TIMEOUT");
    if has_body {
        add("413", "The body is larger than 64 KiB");
        add("415", "The body is not sent as application/json");
    }
    if path.contains("{webhookId}") {
        add("404", "No such webhook in this tenant");
    }
}

/// Links from `201` of `POST …/webhooks` to every route that takes the new webhook's id.
fn link_created_webhook(document: &mut Value) {
    let created = "/v1/tenants/{tenantId}/webhooks";
    let webhook = "/v1/tenants/{tenantId}/webhooks/{webhookId}";
    let targets = [
        ("GetWebhook", webhook, "get"),
        ("UpdateWebhook", webhook, "patch"),
        ("DeleteWebhook", webhook, "delete"),
        (
            "TestWebhook",
            "/v1/tenants/{tenantId}/webhooks/{webhookId}/test",
            "post",
        ),
        (
            "ListAttempts",
            "/v1/tenants/{tenantId}/webhooks/{webhookId}/attempts",
            "get",
        ),
        (
            "RotateSecret",
            "/v1/tenants/{tenantId}/webhooks/{webhookId}/rotate-secret",
            "post",
        ),
    ];
    let links: serde_json::Map<String, Value> = targets
        .iter()
        .map(|(name, path, method)| {
            let pointer = path.replace('~', "~0").replace('/', "~1");
            (
                (*name).to_owned(),
                json!({
                    "operationRef": format!("#/paths/{pointer}/{method}"),
                    "parameters": {
                        "tenantId": "$request.path.tenantId",
                        "webhookId": "$response.body#/id"
                    }
                }),
            )
        })
        .collect();
    if let Some(response) = document.pointer_mut(&format!(
        "/paths/{}/post/responses/201",
        created.replace('/', "~1")
    )) {
        response["links"] = Value::Object(links);
    }
}
