//! Request bodies, parsed and validated at the edge.
//!
//! A body is read as a JSON object, unknown fields are refused, and each field is checked on
//! its own so that the error names it. What comes out is a domain value the store can take
//! as it is.

use herald_contract::EventType;
use herald_delivery::TargetRules;
use herald_delivery::headers::is_reserved;
use herald_store::{AuthHeader, NewWebhook, WebhookPatch};
use http::HeaderName;
use serde_json::{Map, Value};

use crate::credentials::Scope;
use crate::error::ApiError;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_HEADER_NAME_CHARS: usize = 256;
pub const MAX_HEADER_VALUE_CHARS: usize = 4096;

/// The body of `POST /v1/tenants/{tenantId}/webhooks` (what [`new_webhook`] accepts).
#[derive(utoipa::ToSchema)]
#[schema(as = WebhookIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct WebhookInSchema {
    /// 1–200 characters, unique within the tenant.
    #[schema(example = "CRM sync")]
    name: String,
    /// An absolute `https://` URL (`http://` only where `ALLOW_HTTP`), at most 2048 characters.
    #[schema(example = "https://example.com/hooks/herald")]
    url: String,
    /// At least one event type of the catalog.
    #[schema(example = json!(["contact-created", "contact-updated"]))]
    event_types: Vec<String>,
    /// Sent with every delivery; the value is write-only.
    auth_header: Option<AuthHeaderSchema>,
    /// Default `true`.
    enabled: Option<bool>,
    /// At most 1000 characters.
    description: Option<String>,
}

/// The body of `PATCH …/webhooks/{id}`: any of the create fields; `null` clears
/// `authHeader` and `description`.
#[derive(utoipa::ToSchema)]
#[schema(as = WebhookPatchIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct WebhookPatchSchema {
    name: Option<String>,
    url: Option<String>,
    event_types: Option<Vec<String>>,
    auth_header: Option<AuthHeaderSchema>,
    enabled: Option<bool>,
    description: Option<String>,
}

/// A custom header: a valid HTTP token name (not one Herald sets) of at most 256 characters,
/// and a visible-ASCII value of at most 4096.
#[derive(utoipa::ToSchema)]
#[schema(as = AuthHeaderIn)]
#[allow(dead_code)]
pub struct AuthHeaderSchema {
    #[schema(example = "Authorization")]
    name: String,
    #[schema(example = "Bearer 0123456789")]
    value: String,
}

/// The body of `POST …/test`, optional.
#[derive(utoipa::ToSchema)]
#[schema(as = TestIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct TestSchema {
    /// The sample event to send; default: the webhook's first event type.
    event_type: Option<String>,
}

/// The fields of a JSON object body.
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Parses `body` as a JSON object whose keys are all in `allowed`; an empty body is `{}`.
    pub fn parse(body: &[u8], allowed: &[&str]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self { map: Map::new() });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(ApiError::malformed("the body must be a JSON object"));
        };
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(ApiError::invalid(
                unknown.clone(),
                format!("unknown field `{unknown}`"),
            ));
        }
        Ok(Self { map })
    }

    /// The value of `name`, if the body has it.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }

    fn required(&mut self, name: &str) -> Result<Value, ApiError> {
        self.take(name)
            .ok_or_else(|| ApiError::invalid(name, format!("`{name}` is required")))
    }
}

const WEBHOOK_FIELDS: &[&str] = &[
    "name",
    "url",
    "eventTypes",
    "authHeader",
    "enabled",
    "description",
];

/// A create body.
pub fn new_webhook(
    tenant_id: herald_contract::TenantId,
    body: &[u8],
    policy: &TargetRules,
) -> Result<NewWebhook, ApiError> {
    let mut fields = Fields::parse(body, WEBHOOK_FIELDS)?;
    Ok(NewWebhook {
        tenant_id,
        name: webhook_name(fields.required("name")?)?,
        url: endpoint_url(fields.required("url")?, policy)?,
        event_types: event_types(fields.required("eventTypes")?)?,
        auth_header: fields
            .take("authHeader")
            .map(auth_header)
            .transpose()?
            .flatten(),
        enabled: fields
            .take("enabled")
            .map(|v| boolean("enabled", v))
            .transpose()?
            .unwrap_or(true),
        description: fields
            .take("description")
            .map(description)
            .transpose()?
            .flatten(),
    })
}

/// A patch body: any of the create fields.
pub fn webhook_patch(body: &[u8], policy: &TargetRules) -> Result<WebhookPatch, ApiError> {
    let mut fields = Fields::parse(body, WEBHOOK_FIELDS)?;
    Ok(WebhookPatch {
        name: fields.take("name").map(webhook_name).transpose()?,
        url: fields
            .take("url")
            .map(|v| endpoint_url(v, policy))
            .transpose()?,
        event_types: fields.take("eventTypes").map(event_types).transpose()?,
        auth_header: fields.take("authHeader").map(auth_header).transpose()?,
        enabled: fields
            .take("enabled")
            .map(|v| boolean("enabled", v))
            .transpose()?,
        description: fields.take("description").map(description).transpose()?,
    })
}

/// A body that must be empty (or `{}`): what routes without a request body accept.
pub fn no_body(body: &[u8]) -> Result<(), ApiError> {
    Fields::parse(body, &[]).map(|_| ())
}

/// A test body: `{"eventType"?}`.
pub fn test_event_type(body: &[u8]) -> Result<Option<EventType>, ApiError> {
    let mut fields = Fields::parse(body, &["eventType"])?;
    fields
        .take("eventType")
        .map(|value| {
            let name = string("eventType", value, 100)?;
            name.parse::<EventType>().map_err(|_| {
                ApiError::invalid(
                    "eventType",
                    format!("`{name}` is not an event type (see GET /v1/event-types)"),
                )
            })
        })
        .transpose()
}

/// The body of `POST …/portal-sessions`, optional.
#[derive(utoipa::ToSchema)]
#[schema(as = PortalSessionIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PortalSessionSchema {
    /// `manage` (default) or `read`.
    scope: Option<Scope>,
    /// How long the session lasts: 60 to 86400 seconds (default 3600).
    #[schema(minimum = 60, maximum = 86400)]
    ttl_seconds: Option<u32>,
}

/// The shortest and longest portal sessions, in seconds.
pub const SESSION_TTL_SECONDS: std::ops::RangeInclusive<u64> = 60..=86_400;

/// A portal session's scope and lifetime.
pub fn portal_session(body: &[u8]) -> Result<(Scope, std::time::Duration), ApiError> {
    let mut fields = Fields::parse(body, &["scope", "ttlSeconds"])?;
    let scope = fields
        .take("scope")
        .map(scope)
        .transpose()?
        .unwrap_or(Scope::Manage);
    let ttl = match fields.take("ttlSeconds") {
        None => 3600,
        Some(value) => value
            .as_u64()
            .filter(|seconds| SESSION_TTL_SECONDS.contains(seconds))
            .ok_or_else(|| {
                ApiError::invalid(
                    "ttlSeconds",
                    "`ttlSeconds` must be a whole number from 60 to 86400",
                )
            })?,
    };
    Ok((scope, std::time::Duration::from_secs(ttl)))
}

/// The body of `POST …/api-keys`.
#[derive(utoipa::ToSchema)]
#[schema(as = ApiKeyIn, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ApiKeySchema {
    /// What the key is for; unique in the tenant (1-200 characters).
    #[schema(example = "CI pipeline")]
    name: String,
    /// `manage` (default) or `read`.
    scope: Option<Scope>,
}

/// An API key's name and scope.
pub fn new_api_key(body: &[u8]) -> Result<(String, Scope), ApiError> {
    let mut fields = Fields::parse(body, &["name", "scope"])?;
    let name = webhook_name(fields.required("name")?)?;
    let scope = fields
        .take("scope")
        .map(scope)
        .transpose()?
        .unwrap_or(Scope::Manage);
    Ok((name, scope))
}

fn scope(value: Value) -> Result<Scope, ApiError> {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ApiError::invalid("scope", "`scope` must be `manage` or `read`"))
}

fn string(field: &str, value: Value, max_chars: usize) -> Result<String, ApiError> {
    let Value::String(text) = value else {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be a string"),
        ));
    };
    if text.chars().count() > max_chars {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be at most {max_chars} characters"),
        ));
    }
    Ok(text)
}

fn boolean(field: &str, value: Value) -> Result<bool, ApiError> {
    value
        .as_bool()
        .ok_or_else(|| ApiError::invalid(field, format!("`{field}` must be true or false")))
}

fn webhook_name(value: Value) -> Result<String, ApiError> {
    let name = string("name", value, MAX_NAME_CHARS)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "`name` must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "`name` must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

fn description(value: Value) -> Result<Option<String>, ApiError> {
    if value.is_null() {
        return Ok(None);
    }
    let text = string("description", value, MAX_DESCRIPTION_CHARS)?;
    if text
        .chars()
        .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n'))
    {
        return Err(ApiError::invalid(
            "description",
            "`description` must not contain control characters other than tab and newline",
        ));
    }
    Ok(Some(text))
}

/// An absolute URL that [`TargetRules`] allow: `https://` (or, where allowed, `http://`),
/// with a host, no credentials, no fragment, and an IP-literal host only where the network
/// policy allows it.
pub fn endpoint_url(value: Value, policy: &TargetRules) -> Result<String, ApiError> {
    let text = string("url", value, MAX_URL_CHARS)?;
    let url = url::Url::parse(text.trim())
        .map_err(|e| ApiError::invalid("url", format!("`url` is not an absolute URL: {e}")))?;
    policy.check(&url).map_err(|refusal| {
        ApiError::invalid("url", format!("`url` cannot be delivered to: {refusal}"))
    })?;
    Ok(url.to_string())
}

fn event_types(value: Value) -> Result<Vec<EventType>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::invalid(
            "eventTypes",
            "`eventTypes` must be an array of event type names",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::invalid(
            "eventTypes",
            "`eventTypes` must name at least one event type",
        ));
    }
    if items.len() > 100 {
        return Err(ApiError::invalid(
            "eventTypes",
            "`eventTypes` has too many entries",
        ));
    }
    let mut types = Vec::new();
    for item in items {
        let Value::String(name) = item else {
            return Err(ApiError::invalid(
                "eventTypes",
                "`eventTypes` must hold strings",
            ));
        };
        let event_type = name.parse::<EventType>().map_err(|_| {
            ApiError::invalid(
                "eventTypes",
                format!(
                    "`{}` is not an event type (see GET /v1/event-types)",
                    truncate(&name)
                ),
            )
        })?;
        if !types.contains(&event_type) {
            types.push(event_type);
        }
    }
    Ok(types)
}

fn auth_header(value: Value) -> Result<Option<AuthHeader>, ApiError> {
    let field = "authHeader";
    let mut object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => {
            return Err(ApiError::invalid(
                field,
                "`authHeader` must be an object {\"name\", \"value\"} or null",
            ));
        }
    };
    if let Some(unknown) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "name" | "value"))
    {
        return Err(ApiError::invalid(
            field,
            format!("unknown field `authHeader.{unknown}`"),
        ));
    }
    let name = object
        .remove("name")
        .ok_or_else(|| ApiError::invalid(field, "`authHeader.name` is required"))?;
    let value = object
        .remove("value")
        .ok_or_else(|| ApiError::invalid(field, "`authHeader.value` is required"))?;
    let name = string("authHeader.name", name, MAX_HEADER_NAME_CHARS)?;
    let value = string("authHeader.value", value, MAX_HEADER_VALUE_CHARS)?;
    let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        ApiError::invalid(
            "authHeader.name",
            "`authHeader.name` is not a valid HTTP header name",
        )
    })?;
    if is_reserved(&header_name) {
        return Err(ApiError::invalid(
            "authHeader.name",
            format!(
                "`{}` is set by Herald and cannot be used as the auth header",
                header_name.as_str()
            ),
        ));
    }
    if value.is_empty()
        || http::HeaderValue::from_str(&value).is_err()
        || value.chars().any(|c| !(' '..='~').contains(&c))
    {
        return Err(ApiError::invalid(
            "authHeader.value",
            "`authHeader.value` must be non-empty visible ASCII",
        ));
    }
    Ok(Some(AuthHeader { name, value }))
}

fn truncate(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strict() -> TargetRules {
        TargetRules::default()
    }

    fn field_of(error: ApiError) -> Option<String> {
        match error {
            ApiError::Invalid { field, .. } => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    fn create(body: serde_json::Value) -> Result<NewWebhook, ApiError> {
        new_webhook(
            "acme".parse().expect("tenant"),
            body.to_string().as_bytes(),
            &strict(),
        )
    }

    #[test]
    fn a_complete_create_body_becomes_a_new_webhook() {
        let webhook = create(json!({
            "name": "  CRM sync ",
            "url": "https://example.com/hooks",
            "eventTypes": ["contact-created", "contact-created", "basket-submitted"],
            "authHeader": {"name": "Authorization", "value": "Bearer abc"},
            "enabled": false,
            "description": "Pushes contacts to the CRM"
        }))
        .expect("valid body");
        assert_eq!(webhook.name, "CRM sync");
        assert_eq!(
            webhook.event_types,
            vec![EventType::ContactCreated, EventType::BasketSubmitted]
        );
        assert_eq!(
            webhook.auth_header.map(|h| h.name),
            Some("Authorization".into())
        );
        assert!(!webhook.enabled);
    }

    #[test]
    fn each_bad_field_is_named_in_the_error() {
        let base =
            json!({"name": "n", "url": "https://example.com/", "eventTypes": ["contact-created"]});
        let cases = [
            ("name", json!(7)),
            ("name", json!("")),
            ("name", json!("x".repeat(201))),
            ("url", json!("not a url")),
            ("url", json!("ftp://example.com/")),
            ("url", json!("http://example.com/")),
            ("url", json!("https://user:pw@example.com/")),
            ("url", json!("https://127.0.0.1/")),
            (
                "url",
                json!(format!("https://example.com/{}", "a".repeat(2048))),
            ),
            ("eventTypes", json!([])),
            ("eventTypes", json!(["contact-merged"])),
            ("eventTypes", json!("contact-created")),
            ("authHeader", json!("Bearer x")),
            (
                "authHeader.name",
                json!({"name": "bad header", "value": "v"}),
            ),
            (
                "authHeader.name",
                json!({"name": "Content-Type", "value": "v"}),
            ),
            (
                "authHeader.name",
                json!({"name": "webhook-signature", "value": "v"}),
            ),
            (
                "authHeader.value",
                json!({"name": "X-Key", "value": "line\nbreak"}),
            ),
            (
                "authHeader.value",
                json!({"name": "X-Key", "value": "v".repeat(4097)}),
            ),
            ("enabled", json!("yes")),
            ("description", json!("d".repeat(1001))),
            ("description", json!("nul\u{0}here")),
            ("description", json!("bell\u{7}")),
            ("description", json!("carriage\rreturn")),
            ("name", json!("nul\u{0}")),
            ("name", json!("tab\tname")),
            (
                "authHeader.value",
                json!({"name": "X-Key", "value": "nul\u{0}"}),
            ),
            ("colour", json!("blue")),
        ];
        for (field, value) in cases {
            let mut body = base.clone();
            body[field.split('.').next().unwrap_or(field)] = value.clone();
            let error = create(body).expect_err(&format!("{field} = {value} was accepted"));
            assert_eq!(field_of(error).as_deref(), Some(field), "{field} = {value}");
        }
    }

    #[test]
    fn missing_required_fields_and_malformed_bodies_are_refused() {
        assert_eq!(
            field_of(
                create(json!({"url": "https://e.com/", "eventTypes": ["contact-created"]}))
                    .unwrap_err()
            )
            .as_deref(),
            Some("name")
        );
        for body in [&b"{"[..], b"[1]", b"\"text\"", b"\xff\xfe"] {
            let error = new_webhook("acme".parse().expect("tenant"), body, &strict())
                .expect_err("malformed");
            assert!(matches!(error, ApiError::Invalid { field: None, .. }));
        }
    }

    #[test]
    fn a_description_may_hold_tabs_and_newlines() {
        let mut body =
            json!({"name": "n", "url": "https://example.com/", "eventTypes": ["contact-created"]});
        body["description"] = json!("first line\n\tindented");
        let webhook = create(body).expect("valid description");
        assert_eq!(
            webhook.description.as_deref(),
            Some("first line\n\tindented")
        );
    }

    #[test]
    fn a_patch_may_clear_the_auth_header_and_description() {
        let patch = webhook_patch(br#"{"authHeader": null, "description": null}"#, &strict())
            .expect("valid patch");
        assert_eq!(patch.auth_header, Some(None));
        assert_eq!(patch.description, Some(None));
        assert!(patch.name.is_none());
        let lenient = TargetRules {
            allow_http: true,
            network: herald_delivery::NetworkPolicy {
                allow_private_targets: true,
                deny: vec!["169.254.169.254".parse().expect("an address")],
            },
        };
        assert!(webhook_patch(br#"{"url": "http://127.0.0.1:9000/x"}"#, &lenient).is_ok());
        assert!(
            webhook_patch(br#"{"url": "http://169.254.169.254/x"}"#, &lenient).is_err(),
            "a denied address is refused even with private targets allowed"
        );
    }

    #[test]
    fn the_test_body_names_an_optional_event_type() {
        assert_eq!(test_event_type(b"").expect("empty"), None);
        assert_eq!(
            test_event_type(br#"{"eventType":"company-created"}"#).expect("valid"),
            Some(EventType::CompanyCreated)
        );
        assert!(test_event_type(br#"{"eventType":"nope"}"#).is_err());
    }
}
