//! Who is calling, and what they may do — decided here, in one place, for every route.
//!
//! Three kinds of bearer credential:
//! - the admin token (`ADMIN_TOKEN`): every route;
//! - a portal session: a signed token (JWT, HS256) minted for one tenant and a scope, with an
//!   expiry. Stateless: any API process verifies it with a key derived from `SECRETS_KEY`
//!   (the current key signs, any key of the keyring verifies, so a rotation does not end the
//!   sessions in flight);
//! - a tenant API key (`hk_…`): looked up by digest on every request, so a revoked key stops
//!   working at once everywhere.
//!
//! A tenant credential reaches `GET /v1/event-types` and the routes under its own
//! `/v1/tenants/{tenantId}/`, but not the tenant's `portal-sessions` and `api-keys` (they mint
//! credentials: admin only); `read` scope only their GETs. Anything else is 403; a credential
//! that is expired, revoked, forged or malformed is 401.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::RequestExt as _;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald_contract::TenantId;
use herald_store::api_keys::{ApiKeyStore, KEY_PREFIX};
use herald_store::{Keyring, SecretsKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::{AdminToken, bearer};
use crate::error::ApiError;

/// What a tenant credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read and change the tenant's webhooks.
    Manage,
    /// Only read them.
    Read,
}

impl Scope {
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Manage => "manage",
            Scope::Read => "read",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "manage" => Ok(Scope::Manage),
            "read" => Ok(Scope::Read),
            _ => Err(()),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Admin,
    Tenant { tenant: TenantId, scope: Scope },
}

/// Who may call a route, by its path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Any valid credential.
    Anyone,
    /// The admin, or a credential of the tenant in the path.
    Tenant,
    /// The admin only.
    Admin,
}

/// The audience of the route whose template is `route` (e.g.
/// `/v1/tenants/{tenantId}/webhooks/{id}`).
pub fn audience(route: &str) -> Audience {
    if route == "/v1/event-types" {
        return Audience::Anyone;
    }
    match route.strip_prefix("/v1/tenants/{tenantId}/") {
        Some(rest) if rest.starts_with("portal-sessions") || rest.starts_with("api-keys") => {
            Audience::Admin
        }
        Some(_) => Audience::Tenant,
        None => Audience::Admin,
    }
}

/// Why a valid credential may not call a route (answered 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    #[error("this route is for the admin token only")]
    AdminOnly,
    #[error("this credential belongs to another tenant")]
    OtherTenant,
    #[error("this credential may only read (scope `read`)")]
    ReadOnly,
}

/// Whether `credential` may call `method` on the route `route`, whose `{tenantId}` is
/// `path_tenant`.
pub fn permit(
    credential: &Credential,
    method: &Method,
    route: &str,
    path_tenant: Option<&str>,
) -> Result<(), Forbidden> {
    let Credential::Tenant { tenant, scope } = credential else {
        return Ok(());
    };
    match audience(route) {
        Audience::Admin => return Err(Forbidden::AdminOnly),
        Audience::Tenant if path_tenant != Some(tenant.as_str()) => {
            return Err(Forbidden::OtherTenant);
        }
        Audience::Tenant | Audience::Anyone => {}
    }
    let reads = method == Method::GET || method == Method::HEAD;
    if *scope == Scope::Read && !reads {
        return Err(Forbidden::ReadOnly);
    }
    Ok(())
}

/// The claims of a portal session.
#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    iss: String,
    aud: String,
    /// The tenant.
    sub: String,
    scope: Scope,
    iat: i64,
    exp: i64,
}

const ISSUER: &str = "herald";
const AUDIENCE: &str = "herald-console";

/// Signs and verifies portal sessions.
pub struct SessionKeys {
    /// The current key's id and signing key.
    current: (String, EncodingKey),
    /// Every key held, by id.
    verifying: Vec<(String, DecodingKey)>,
    validation: Validation,
}

impl SessionKeys {
    /// Keys derived from the keyring: the current key signs, any held key verifies.
    pub fn from_keyring(keys: &Keyring) -> Self {
        let derive = |key: &SecretsKey| key.derive("herald portal sessions v1");
        let current = keys.current();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            current: (
                current.id().to_owned(),
                EncodingKey::from_secret(&derive(current)),
            ),
            verifying: keys
                .keys()
                .map(|key| (key.id().to_owned(), DecodingKey::from_secret(&derive(key))))
                .collect(),
            validation,
        }
    }

    /// A session for `tenant` with `scope`, valid for `ttl` from `now`.
    pub fn mint(
        &self,
        tenant: &TenantId,
        scope: Scope,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires_at = now + chrono::Duration::from_std(ttl).map_err(|_| ApiError::Internal)?;
        let claims = SessionClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: tenant.as_str().to_owned(),
            scope,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.0.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.current.1).map_err(|error| {
            tracing::error!(%error, "cannot sign a portal session");
            ApiError::Internal
        })?;
        Ok((token, expires_at))
    }

    /// The tenant and scope of a valid, unexpired session; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Credential> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let (_, key) = self.verifying.iter().find(|(id, _)| *id == kid)?;
        let claims = jsonwebtoken::decode::<SessionClaims>(token, key, &self.validation)
            .ok()?
            .claims;
        Some(Credential::Tenant {
            tenant: claims.sub.parse().ok()?,
            scope: claims.scope,
        })
    }
}

/// Resolves bearer credentials.
pub struct Authenticator {
    pub admin: AdminToken,
    pub sessions: SessionKeys,
    pub keys: ApiKeyStore,
}

impl Authenticator {
    /// Who presented `token`; `Err` with a 401 (or 503 when keys cannot be looked up).
    pub async fn credential(&self, token: &str) -> Result<Credential, ApiError> {
        let invalid = ApiError::Unauthorized("the bearer token is not valid (or has expired)");
        if token.starts_with(KEY_PREFIX) {
            let owner = self.keys.owner(token).await?.ok_or(invalid)?;
            let scope = owner.scope.parse().map_err(|()| ApiError::Internal)?;
            return Ok(Credential::Tenant {
                tenant: owner.tenant_id,
                scope,
            });
        }
        if token.split('.').count() == 3 {
            return self.sessions.verify(token).ok_or(invalid);
        }
        if self.admin.matches(token) {
            return Ok(Credential::Admin);
        }
        Err(invalid)
    }
}

/// Lets a request through with a valid credential (401 otherwise), which it hands on to the
/// handler and to [`authorize`].
pub async fn authenticate(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer)
        .map(str::to_owned);
    let Some(presented) = presented else {
        return ApiError::Unauthorized("an `Authorization: Bearer <token>` header is required")
            .into_response();
    };
    match authenticator.credential(&presented).await {
        Ok(credential) => {
            request.extensions_mut().insert(credential);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// Lets a request through only when its credential may call the matched route (403 otherwise).
pub async fn authorize(matched: Option<MatchedPath>, mut request: Request, next: Next) -> Response {
    let params = request.extract_parts::<RawPathParams>().await.ok();
    let (Some(credential), Some(matched)) = (request.extensions().get::<Credential>(), matched)
    else {
        return ApiError::Unauthorized("an `Authorization: Bearer <token>` header is required")
            .into_response();
    };
    let path_tenant = params.as_ref().and_then(|params| {
        params
            .iter()
            .find(|(name, _)| *name == "tenantId")
            .map(|(_, value)| value)
    });
    match permit(credential, request.method(), matched.as_str(), path_tenant) {
        Ok(()) => next.run(request).await,
        Err(forbidden) => ApiError::Forbidden(forbidden).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str, scope: Scope) -> Credential {
        Credential::Tenant {
            tenant: name.parse().expect("a tenant"),
            scope,
        }
    }

    const WEBHOOK: &str = "/v1/tenants/{tenantId}/webhooks/{id}";

    #[test]
    fn routes_fall_into_their_audiences() {
        assert_eq!(audience("/v1/event-types"), Audience::Anyone);
        assert_eq!(audience(WEBHOOK), Audience::Tenant);
        assert_eq!(audience("/v1/tenants/{tenantId}/failed"), Audience::Tenant);
        assert_eq!(
            audience("/v1/tenants/{tenantId}/portal-sessions"),
            Audience::Admin
        );
        assert_eq!(
            audience("/v1/tenants/{tenantId}/api-keys/{id}"),
            Audience::Admin
        );
        assert_eq!(audience("/v1/failed/replay"), Audience::Admin);
        assert_eq!(audience("/v1/status"), Audience::Admin);
    }

    #[test]
    fn a_tenant_credential_reaches_its_own_routes_within_its_scope_and_nothing_else() {
        let manage = tenant("acme", Scope::Manage);
        let read = tenant("acme", Scope::Read);
        assert_eq!(
            permit(&manage, &Method::PATCH, WEBHOOK, Some("acme")),
            Ok(())
        );
        assert_eq!(permit(&read, &Method::GET, WEBHOOK, Some("acme")), Ok(()));
        assert_eq!(
            permit(&read, &Method::DELETE, WEBHOOK, Some("acme")),
            Err(Forbidden::ReadOnly)
        );
        assert_eq!(
            permit(&manage, &Method::GET, WEBHOOK, Some("globex")),
            Err(Forbidden::OtherTenant)
        );
        assert_eq!(
            permit(&manage, &Method::GET, "/v1/failed", None),
            Err(Forbidden::AdminOnly)
        );
        assert_eq!(
            permit(
                &manage,
                &Method::POST,
                "/v1/tenants/{tenantId}/api-keys",
                Some("acme")
            ),
            Err(Forbidden::AdminOnly)
        );
        assert_eq!(permit(&read, &Method::GET, "/v1/event-types", None), Ok(()));
        assert_eq!(
            permit(&Credential::Admin, &Method::DELETE, WEBHOOK, Some("globex")),
            Ok(())
        );
    }

    fn keyring(byte: u8) -> Keyring {
        Keyring::new(
            SecretsKey::from_base64(&base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                [byte; 32],
            ))
            .expect("a key"),
            None,
        )
    }

    #[test]
    fn a_session_verifies_until_it_expires_and_only_under_the_keys_held() {
        let keys = SessionKeys::from_keyring(&keyring(1));
        let acme: TenantId = "acme".parse().expect("a tenant");
        let (token, expires_at) = keys
            .mint(&acme, Scope::Read, Duration::from_secs(60), Utc::now())
            .expect("a session");
        assert!(expires_at > Utc::now());
        assert_eq!(keys.verify(&token), Some(tenant("acme", Scope::Read)));

        let (expired, _) = keys
            .mint(
                &acme,
                Scope::Manage,
                Duration::from_secs(60),
                Utc::now() - chrono::Duration::minutes(5),
            )
            .expect("a session");
        assert_eq!(keys.verify(&expired), None, "expired");

        let other = SessionKeys::from_keyring(&keyring(2));
        assert_eq!(other.verify(&token), None, "signed with another key");

        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keys.verify(&forged), None, "a changed signature");
        assert_eq!(keys.verify("a.b.c"), None, "malformed");
    }
}
