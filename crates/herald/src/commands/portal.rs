//! `herald portal-url`: a console link for one tenant, minted through the API with the admin
//! token (the same route a platform's backend calls when a user opens its Webhooks page).

use std::path::PathBuf;

use anyhow::Context as _;
use herald_runtime::secret::{Secret, value_or_file};
use serde_json::{Value, json};

use super::up;

#[derive(Debug, clap::Args)]
pub struct PortalArgs {
    /// The tenant whose webhooks the console shows.
    #[arg(long)]
    tenant: String,
    /// `manage` (change webhooks) or `read` (only look).
    #[arg(long, default_value = "manage")]
    scope: String,
    /// How long the link works, in seconds (60 to 86400).
    #[arg(long, default_value_t = 3600)]
    ttl_seconds: u32,
    /// The API (`herald serve` or `herald up`).
    #[arg(long, env = "HERALD_API_URL", default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// The admin token (default: the one `herald up` generated and keeps in its state directory).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<Secret>,
    /// A file holding `ADMIN_TOKEN`.
    #[arg(long, env = "ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// `herald up`'s state directory.
    #[arg(long, env = "HERALD_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

#[allow(clippy::print_stdout)]
pub async fn run(args: PortalArgs) -> anyhow::Result<()> {
    let token = match value_or_file(
        "ADMIN_TOKEN",
        args.admin_token.as_ref(),
        args.admin_token_file.as_deref(),
    )? {
        Some(token) => token.expose().to_owned(),
        None => {
            let path = args
                .state_dir
                .clone()
                .unwrap_or_else(up::default_state_dir)
                .join("admin-token");
            std::fs::read_to_string(&path)
                .with_context(|| {
                    format!(
                        "no ADMIN_TOKEN given and none kept by `herald up` at {}",
                        path.display()
                    )
                })?
                .trim()
                .to_owned()
        }
    };
    let url = format!(
        "{}/v1/tenants/{}/portal-sessions",
        args.api_url.trim_end_matches('/'),
        args.tenant
    );
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .json(&json!({"scope": args.scope, "ttlSeconds": args.ttl_seconds}))
        .send()
        .await
        .with_context(|| format!("calling {url} (is `herald up` or `herald serve` running?)"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!(
            "the API answered {status}: {}",
            body["error"]["message"].as_str().unwrap_or("no message")
        );
    }
    let link = body["url"]
        .as_str()
        .context("the API's answer holds no url")?;
    println!("{link}");
    eprintln!(
        "(works for {} s, scope {}; open it in a browser)",
        args.ttl_seconds, args.scope
    );
    Ok(())
}
