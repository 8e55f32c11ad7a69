//! `herald failed …` and `herald rejected …`: operators' tools for the parked queues.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use chrono::{DateTime, Utc};
use herald_api::output::FailedDeliveryOut;
use herald_broker::connect;
use herald_broker::parked::{FailedDelivery, Filter, Moved, ParkedError, ParkedQueues};
use herald_contract::{EventType, TenantId, WebhookId};
use herald_runtime::args::BrokerArgs;
use herald_runtime::escape::escape_control;
use serde_json::json;

/// Which failed deliveries a command applies to.
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// Only this tenant's deliveries.
    #[arg(long)]
    tenant: Option<TenantId>,
    /// Only this webhook's deliveries.
    #[arg(long)]
    webhook: Option<WebhookId>,
    /// Only deliveries of this event type.
    #[arg(long)]
    event_type: Option<EventType>,
    /// Only deliveries parked at or after this time (`x-failed-at`): RFC 3339
    /// (`2026-12-02T09:00:00Z`) or a duration ago (`90m`, `2days`).
    #[arg(long, value_parser = point_in_time)]
    since: Option<DateTime<Utc>>,
    /// Only deliveries parked before this time (same forms as `--since`).
    #[arg(long, value_parser = point_in_time)]
    until: Option<DateTime<Utc>>,
}

impl FilterArgs {
    fn filter(&self) -> Filter {
        Filter {
            tenant: self.tenant.clone(),
            webhook: self.webhook.clone(),
            event_type: self.event_type,
            event_ids: None,
            failed_since: self.since,
            failed_until: self.until,
        }
    }
}

/// An RFC 3339 time, or a duration before now.
fn point_in_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let ago = humantime::parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2026-12-02T09:00:00Z) nor a duration ago (90m)"
        )
    })?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| Utc::now().checked_sub_signed(ago))
        .ok_or_else(|| format!("`{text}` reaches too far back"))
}

#[derive(Debug, clap::Args)]
pub struct FailedArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(subcommand)]
    action: FailedAction,
}

#[derive(Debug, clap::Subcommand)]
enum FailedAction {
    /// Show failed deliveries (the queue is left as it was).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Move matching failed deliveries back to the deliveries queue for a fresh ladder;
    /// the others stay in place, in order.
    Replay {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many.
        #[arg(long)]
        limit: Option<u64>,
        /// Count what would be replayed, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete matching failed deliveries.
    Purge {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct RejectedArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(subcommand)]
    action: RejectedAction,
}

#[derive(Debug, clap::Subcommand)]
enum RejectedAction {
    /// Show rejected events and messages with their reasons (the queue is left as it was).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Delete rejected messages.
    Purge {
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        yes: bool,
    },
}

async fn open(broker: &BrokerArgs) -> anyhow::Result<ParkedQueues> {
    let config = broker.config();
    let connection = connect(&config, "herald failed").await?;
    Ok(ParkedQueues::open(connection, config.topology.clone()).await?)
}

#[allow(clippy::print_stdout)]
pub async fn failed(args: FailedArgs) -> anyhow::Result<()> {
    let queues = open(&args.broker).await?;
    match args.action {
        FailedAction::List {
            filter,
            limit,
            json,
        } => {
            let failed = queues.list_failed(&filter.filter(), limit).await?;
            if json {
                for delivery in &failed {
                    println!(
                        "{}",
                        serde_json::to_string(&FailedDeliveryOut::from(delivery))?
                    );
                }
            } else {
                print!("{}", failed_table(&failed));
            }
        }
        FailedAction::Replay {
            filter,
            limit,
            dry_run,
        } => {
            let moved = queues
                .replay_failed(&filter.filter(), limit, dry_run, |done| {
                    if done % 100 == 0 {
                        eprintln!("… {done} replayed");
                    }
                })
                .await?;
            let verb = if dry_run { "would replay" } else { "replayed" };
            eprintln!(
                "{verb} {} failed deliveries; {} left in place",
                moved.matched, moved.kept
            );
        }
        FailedAction::Purge {
            filter,
            limit,
            dry_run,
            yes,
        } => {
            let filter = filter.filter();
            purge("failed deliveries", dry_run, yes, |dry_run| {
                queues.purge_failed(&filter, limit, dry_run)
            })
            .await?;
        }
    }
    queues.close().await;
    Ok(())
}

#[allow(clippy::print_stdout)]
pub async fn rejected(args: RejectedArgs) -> anyhow::Result<()> {
    let queues = open(&args.broker).await?;
    match args.action {
        RejectedAction::List { limit, json } => {
            for message in queues.list_rejected(limit).await? {
                let body = String::from_utf8_lossy(&message.body);
                if json {
                    println!(
                        "{}",
                        json!({"reason": message.reason, "messageId": message.message_id, "body": body})
                    );
                } else {
                    println!(
                        "{}\n    {}",
                        escape_control(message.reason.as_deref().unwrap_or("(no reason)")),
                        excerpt(&body, 160)
                    );
                }
            }
        }
        RejectedAction::Purge {
            limit,
            dry_run,
            yes,
        } => {
            purge("rejected messages", dry_run, yes, |dry_run| {
                queues.purge_rejected(limit, dry_run)
            })
            .await?;
        }
    }
    queues.close().await;
    Ok(())
}

/// Deletes with `delete` — after counting and asking, unless `yes` or a dry run — and says
/// what it did with `what`.
async fn purge<F, Fut>(what: &str, dry_run: bool, yes: bool, delete: F) -> anyhow::Result<()>
where
    F: Fn(bool) -> Fut,
    Fut: std::future::Future<Output = Result<Moved, ParkedError>>,
{
    if !dry_run && !yes {
        let count = delete(true).await?.matched;
        confirm(&format!("Delete {count} {what} for good?"))?;
    }
    let moved = delete(dry_run).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    eprintln!(
        "{verb} {} {what}; {} left in place",
        moved.matched, moved.kept
    );
    Ok(())
}

fn confirm(question: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "{question} Pass --yes to confirm when not at a terminal."
    );
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    anyhow::ensure!(
        matches!(answer.trim(), "y" | "Y" | "yes"),
        "nothing deleted"
    );
    Ok(())
}

fn failed_table(failed: &[FailedDelivery]) -> String {
    let mut out = format!(
        "{:<22} {:<16} {:<38} {:<22} {:<38} {:>8}  {}\n",
        "failed at",
        "tenant",
        "webhook",
        "event type",
        "event id",
        "attempts",
        "last status / error"
    );
    for f in failed {
        let d = &f.delivery;
        let last = match (f.last_status, &f.last_error) {
            (Some(status), _) => format!("{status}"),
            (None, Some(error)) => escape_control(error).into_owned(),
            (None, None) => "-".into(),
        };
        out.push_str(&format!(
            "{:<22} {:<16} {:<38} {:<22} {:<38} {:>8}  {}\n",
            excerpt(f.failed_at.as_deref().unwrap_or("-"), 22),
            excerpt(d.tenant_id.as_str(), 16),
            d.webhook_id,
            d.event_type,
            excerpt(d.event_id.as_str(), 38),
            d.attempts,
            last
        ));
    }
    out.push_str(&format!("{} failed deliveries\n", failed.len()));
    out
}

/// At most `chars` characters of `text`, its control characters escaped: what a publisher or
/// an endpoint wrote never drives the operator's terminal.
fn excerpt(text: &str, chars: usize) -> String {
    let text = escape_control(text);
    if text.chars().count() <= chars {
        text.into_owned()
    } else {
        format!("{}…", text.chars().take(chars - 1).collect::<String>())
    }
}
