//! The console: the tenant's Webhooks page, served at `/console/`.
//!
//! Three static files compiled into the binary (no build step, no Node.js): the page holds no
//! data and needs no credential; everything it shows comes from the API with the session token
//! it was opened with. Served with a strict Content-Security-Policy (only this origin, no
//! inline script or style) and `frame-ancestors` from `CONSOLE_FRAME_ANCESTORS`.

use std::fmt;
use std::str::FromStr;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// The origins that may embed the console in a frame (`CONSOLE_FRAME_ANCESTORS`,
/// space- or comma-separated); none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameAncestors(Vec<String>);

/// A `CONSOLE_FRAME_ANCESTORS` entry that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an origin like https://app.example.com (scheme, host and optional port)")]
pub struct NotAnOrigin(String);

impl FromStr for FrameAncestors {
    type Err = NotAnOrigin;

    fn from_str(text: &str) -> Result<Self, NotAnOrigin> {
        text.split([' ', ','])
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let url = url::Url::parse(entry).map_err(|_| NotAnOrigin(entry.to_owned()))?;
                let origin = url.origin();
                let plain = entry
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:/[]".contains(c));
                let is_origin = plain
                    && matches!(url.scheme(), "https" | "http")
                    && origin.is_tuple()
                    && url.path() == "/"
                    && url.query().is_none()
                    && url.fragment().is_none()
                    && url.username().is_empty()
                    && !entry.ends_with("/");
                if is_origin {
                    Ok(origin.ascii_serialization())
                } else {
                    Err(NotAnOrigin(entry.to_owned()))
                }
            })
            .collect::<Result<_, _>>()
            .map(FrameAncestors)
    }
}

impl fmt::Display for FrameAncestors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl FrameAncestors {
    /// The CSP `frame-ancestors` source list.
    fn sources(&self) -> String {
        if self.0.is_empty() {
            "'none'".to_owned()
        } else {
            self.0.join(" ")
        }
    }
}

/// The console's routes.
pub fn router(frame_ancestors: &FrameAncestors) -> Router {
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {}",
        frame_ancestors.sources()
    );
    let policy = HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    let page = move |content_type: &'static str, body: &'static str| {
        let policy = policy.clone();
        move || {
            let policy = policy.clone();
            async move { asset(content_type, body, policy) }
        }
    };
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(page("text/html; charset=utf-8", INDEX)))
        .route(
            "/console/index.html",
            get(page("text/html; charset=utf-8", INDEX)),
        )
        .route(
            "/console/console.js",
            get(page("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/console/console.css",
            get(page("text/css; charset=utf-8", STYLE)),
        )
}

fn asset(content_type: &'static str, body: &'static str, policy: HeaderValue) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, policy),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_are_origins_and_nothing_else() {
        let allowed: FrameAncestors = "https://app.example.com, http://localhost:3000"
            .parse()
            .expect("origins");
        assert_eq!(
            allowed.sources(),
            "https://app.example.com http://localhost:3000"
        );
        assert_eq!(FrameAncestors::default().sources(), "'none'");
        for bad in [
            "*",
            "https://app.example.com/path",
            "javascript:alert(1)",
            "https://a.example.com; script-src *",
            "'self'",
            "https://a.example.com;",
        ] {
            assert!(bad.parse::<FrameAncestors>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_page_loads_nothing_from_another_origin_and_runs_no_inline_script() {
        for asset in [INDEX, SCRIPT, STYLE] {
            assert!(!asset.contains("http://") || asset.contains("http://www.w3.org/2000/svg"));
            assert!(!asset.contains("https://fonts"));
        }
        assert!(
            !INDEX.contains("<script>"),
            "inline script is refused by the CSP"
        );
        assert!(
            !INDEX.contains("style="),
            "inline style is refused by the CSP"
        );
        assert!(
            !SCRIPT.contains("innerHTML"),
            "data is inserted as text, never as markup"
        );
        assert!(!SCRIPT.contains("localStorage") && !SCRIPT.contains("document.cookie"));
    }
}
