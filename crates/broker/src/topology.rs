//! Declaring Herald's exchange and queues, idempotently, at every start.
//!
//! The arguments follow what RabbitMQ needs for a retry stage that loses nothing: a quorum
//! queue with `x-message-ttl`, dead-lettering to the deliveries queue with
//! `x-dead-letter-strategy: at-least-once`, which RabbitMQ only honours together with
//! `x-overflow: reject-publish` (otherwise it silently falls back to at-most-once).

use herald_contract::QueueType;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ExchangeKind};
use serde_json::json;

use crate::connection::BrokerConfig;

/// How many times a quorum queue hands out the same message before dead-lettering it to the
/// rejected queue: a backstop against a message that crashes its consumer every time.
pub const POISON_DELIVERY_LIMIT: i64 = 20;

/// A queue and the arguments it is declared with.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    pub name: String,
    pub arguments: FieldTable,
    /// Survives a broker restart. Only the parked lock is not: a transient queue goes with
    /// its node, so in a cluster the services redeclare it on a live node rather than fail
    /// on a durable classic queue whose home node is down.
    pub durable: bool,
}

/// Every queue of the topology, with its arguments.
pub fn queue_specs(config: &BrokerConfig) -> Vec<QueueSpec> {
    let topology = &config.topology;
    let quorum = config.queue_type == QueueType::Quorum;
    let deliveries = topology.deliveries_queue();
    let rejected = topology.rejected_queue();

    let plain = || {
        let mut arguments = FieldTable::default();
        put(
            &mut arguments,
            "x-queue-type",
            text(config.queue_type.as_str()),
        );
        arguments
    };
    let dead_letter_to = |arguments: &mut FieldTable, target: &str| {
        put(arguments, "x-dead-letter-exchange", text(""));
        put(arguments, "x-dead-letter-routing-key", text(target));
        if quorum {
            put(arguments, "x-dead-letter-strategy", text("at-least-once"));
            put(arguments, "x-overflow", text("reject-publish"));
        }
    };
    let consumed = || {
        let mut arguments = plain();
        if quorum {
            put(
                &mut arguments,
                "x-delivery-limit",
                AMQPValue::LongLongInt(POISON_DELIVERY_LIMIT),
            );
            dead_letter_to(&mut arguments, &rejected);
        }
        arguments
    };

    let mut specs = vec![
        QueueSpec {
            name: topology.fanout_queue(),
            arguments: consumed(),
            durable: true,
        },
        QueueSpec {
            name: deliveries.clone(),
            arguments: consumed(),
            durable: true,
        },
        QueueSpec {
            name: topology.overflow_queue(),
            arguments: consumed(),
            durable: true,
        },
    ];
    for delay in config.stage_delays() {
        let mut arguments = plain();
        let ttl = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        put(&mut arguments, "x-message-ttl", AMQPValue::LongLongInt(ttl));
        dead_letter_to(&mut arguments, &deliveries);
        specs.push(QueueSpec {
            name: topology.retry_queue(delay),
            arguments,
            durable: true,
        });
    }
    specs.push(QueueSpec {
        name: topology.failed_queue(),
        arguments: plain(),
        durable: true,
    });
    specs.push(QueueSpec {
        name: rejected,
        arguments: plain(),
        durable: true,
    });
    // A lock, not a queue of messages: classic, for its exclusive consumers; transient (see
    // `QueueSpec::durable`).
    let mut lock = FieldTable::default();
    put(&mut lock, "x-queue-type", text(QueueType::Classic.as_str()));
    specs.push(QueueSpec {
        name: topology.parked_lock_queue(),
        arguments: lock,
        durable: false,
    });
    specs
}

/// Declares the topology on a channel of its own; a user the broker does not let declare
/// (the least-privilege users of [`roles`]) only checks, with passive declarations, that the
/// exchange and every queue exist.
pub async fn declare_or_verify(
    connection: &Connection,
    config: &BrokerConfig,
) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    match declare(&channel, config).await {
        Ok(()) => {
            let _ = channel.close(200, "declared".into()).await;
            Ok(())
        }
        Err(error) if error.to_string().contains("ACCESS_REFUSED") => {
            tracing::debug!(%error, "may not declare the topology; checking that it exists");
            verify(&connection.create_channel().await?, config).await
        }
        Err(error) => Err(error),
    }
}

/// Checks with passive declarations (which need no permission) that the events exchange and
/// every queue exist.
pub async fn verify(channel: &Channel, config: &BrokerConfig) -> Result<(), lapin::Error> {
    exchange_and_queues(channel, config, true).await?;
    let _ = channel.close(200, "verified".into()).await;
    Ok(())
}

/// Declares the events and operational exchanges, every queue, and the binding of the fanout queue.
///
/// Redeclaring with the same arguments is a no-op, so every service calls this at start.
pub async fn declare(channel: &Channel, config: &BrokerConfig) -> Result<(), lapin::Error> {
    let topology = &config.topology;
    exchange_and_queues(channel, config, false).await?;
    channel
        .queue_bind(
            topology.fanout_queue().into(),
            topology.events_exchange().into(),
            herald_contract::Topology::FANOUT_BINDING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// A RabbitMQ user of a least-privilege deployment, and what it may do on the vhost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The user's name in the shipped definitions.
    pub user: &'static str,
    /// What it is for.
    pub purpose: &'static str,
    /// Regular expressions over resource names, as RabbitMQ's permissions take them.
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// Matches no resource.
const NOTHING: &str = "^$";

/// The users of a least-privilege deployment: none may declare or delete anything (the
/// topology is loaded from the definitions, or declared by an administrator with `herald
/// topology declare`); each writes and reads only what its work needs. Publishing to a queue
/// goes through the default exchange, `amq.default`.
pub fn roles(config: &BrokerConfig) -> Vec<Role> {
    let topology = &config.topology;
    let exactly = |name: &str| format!("^{}$", regex_escape(name));
    let default_exchange = exactly("amq.default");
    // Senders and the API publish operational events (webhook failing, recovered, disabled).
    let default_and_operational = format!(
        "^({}|{})$",
        regex_escape("amq.default"),
        regex_escape(topology.operational_exchange())
    );
    vec![
        Role {
            user: "herald-publisher",
            purpose: "platform services publishing domain events",
            configure: NOTHING.into(),
            write: exactly(topology.events_exchange()),
            read: NOTHING.into(),
        },
        Role {
            user: "herald-fanout",
            purpose: "fanout: consumes events, publishes deliveries and rejections",
            configure: NOTHING.into(),
            write: default_exchange.clone(),
            read: exactly(&topology.fanout_queue()),
        },
        Role {
            user: "herald-sender",
            purpose: "senders: consume deliveries, publish retries, failures, rejections and operational events",
            configure: NOTHING.into(),
            write: default_and_operational.clone(),
            read: format!(
                "^({}|{})$",
                regex_escape(&topology.deliveries_queue()),
                regex_escape(&topology.overflow_queue())
            ),
        },
        Role {
            user: "herald-api",
            purpose: "the API and the CLI: inspect, replay and purge the parked queues; publish operational events",
            configure: NOTHING.into(),
            write: default_and_operational,
            read: format!(
                "^({}|{}|{})$",
                regex_escape(&topology.failed_queue()),
                regex_escape(&topology.rejected_queue()),
                regex_escape(&topology.parked_lock_queue())
            ),
        },
    ]
}

fn regex_escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// What the broker says of `queue` — messages ready, consumers — by a passive declaration,
/// which needs no permission and fails (closing `channel`) when the queue does not exist.
pub async fn inspect(channel: &Channel, queue: &str) -> Result<lapin::Queue, lapin::Error> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares a durable topic exchange named `name` (the events or the operational exchange), or with `passive`
/// only checks that it exists.
pub async fn events_exchange(
    channel: &Channel,
    name: &str,
    passive: bool,
) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                passive,
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares the events and operational exchanges and every queue, or with `passive` only checks that they exist.
async fn exchange_and_queues(
    channel: &Channel,
    config: &BrokerConfig,
    passive: bool,
) -> Result<(), lapin::Error> {
    events_exchange(channel, config.topology.events_exchange(), passive).await?;
    events_exchange(channel, config.topology.operational_exchange(), passive).await?;
    for spec in queue_specs(config) {
        let arguments = if passive {
            FieldTable::default()
        } else {
            spec.arguments
        };
        channel
            .queue_declare(
                spec.name.as_str().into(),
                QueueDeclareOptions {
                    passive,
                    durable: spec.durable,
                    ..Default::default()
                },
                arguments,
            )
            .await?;
    }
    Ok(())
}

/// The topology as a RabbitMQ definitions document (for `rabbitmqctl import_definitions`, the
/// management UI, or `load_definitions` at boot), for vhost `vhost`.
pub fn definitions(config: &BrokerConfig, vhost: &str) -> serde_json::Value {
    let topology = &config.topology;
    let queues: Vec<serde_json::Value> = queue_specs(config)
        .into_iter()
        .map(|spec| {
            let arguments: serde_json::Map<String, serde_json::Value> = spec
                .arguments
                .inner()
                .iter()
                .map(|(name, value)| (name.to_string(), json_value(value)))
                .collect();
            json!({"name": spec.name, "vhost": vhost, "durable": spec.durable, "auto_delete": false, "arguments": arguments})
        })
        .collect();
    let roles = roles(config);
    // Users without a password: they cannot log in until an operator sets one (no default
    // password is shipped).
    let users: Vec<serde_json::Value> = roles
        .iter()
        .map(|role| json!({"name": role.user, "password_hash": "", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}))
        .collect();
    let permissions: Vec<serde_json::Value> = roles
        .iter()
        .map(|role| json!({"user": role.user, "vhost": vhost, "configure": role.configure, "write": role.write, "read": role.read}))
        .collect();
    let exchanges: Vec<serde_json::Value> =
        [topology.events_exchange(), topology.operational_exchange()]
            .map(|name| {
                json!({
                    "name": name, "vhost": vhost, "type": "topic",
                    "durable": true, "auto_delete": false, "internal": false, "arguments": {}
                })
            })
            .into();
    json!({
        "users": users,
        "permissions": permissions,
        "vhosts": [{"name": vhost}],
        "exchanges": exchanges,
        "queues": queues,
        "bindings": [{
            "source": topology.events_exchange(), "vhost": vhost, "destination": topology.fanout_queue(),
            "destination_type": "queue", "routing_key": herald_contract::Topology::FANOUT_BINDING_KEY, "arguments": {}
        }]
    })
}

fn json_value(value: &AMQPValue) -> serde_json::Value {
    match value {
        AMQPValue::LongString(text) => json!(String::from_utf8_lossy(text.as_bytes())),
        AMQPValue::ShortString(text) => json!(text.as_str()),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::Boolean(b) => json!(b),
        other => json!(format!("{other:?}")),
    }
}

fn put(arguments: &mut FieldTable, name: &str, value: AMQPValue) {
    arguments.insert(ShortString::from(name), value);
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{get_int, get_str};
    use herald_contract::{RetryLadder, Topology};

    fn config(queue_type: QueueType) -> BrokerConfig {
        BrokerConfig {
            urls: vec![],
            topology: Topology::default(),
            queue_type,
            ladder: RetryLadder::standard(),
            defer_delay: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn quorum_retry_stages_dead_letter_at_least_once_back_to_the_deliveries_queue() {
        let specs = queue_specs(&config(QueueType::Quorum));
        let stage = specs
            .iter()
            .find(|spec| spec.name == "webhooks.retry.225s")
            .expect("a queue for the 225 s stage");
        let args = &stage.arguments;
        assert_eq!(get_str(args, "x-queue-type"), Some("quorum"));
        assert_eq!(get_int(args, "x-message-ttl"), Some(225_000));
        assert_eq!(get_str(args, "x-dead-letter-exchange"), Some(""));
        assert_eq!(
            get_str(args, "x-dead-letter-routing-key"),
            Some("webhooks.deliveries")
        );
        assert_eq!(
            get_str(args, "x-dead-letter-strategy"),
            Some("at-least-once")
        );
        assert_eq!(get_str(args, "x-overflow"), Some("reject-publish"));
    }

    #[test]
    fn the_topology_has_one_queue_per_role_and_per_stage() {
        let names: Vec<String> = queue_specs(&config(QueueType::Quorum))
            .into_iter()
            .map(|spec| spec.name)
            .collect();
        assert_eq!(
            names,
            [
                "webhooks.fanout",
                "webhooks.deliveries",
                "webhooks.overflow",
                "webhooks.retry.5s",
                "webhooks.retry.15s",
                "webhooks.retry.60s",
                "webhooks.retry.225s",
                "webhooks.retry.900s",
                "webhooks.retry.3600s",
                "webhooks.failed",
                "webhooks.rejected",
                "webhooks.parked.lock",
            ]
        );
    }

    #[test]
    fn consumed_quorum_queues_dead_letter_poison_messages_to_the_rejected_queue() {
        let specs = queue_specs(&config(QueueType::Quorum));
        for consumed in &specs[..3] {
            let arguments = &consumed.arguments;
            assert_eq!(
                get_int(arguments, "x-delivery-limit"),
                Some(POISON_DELIVERY_LIMIT),
                "{}",
                consumed.name
            );
            assert_eq!(
                get_str(arguments, "x-dead-letter-routing-key"),
                Some("webhooks.rejected"),
                "{}",
                consumed.name
            );
        }
    }

    #[test]
    fn the_checked_in_definitions_match_what_the_services_declare() {
        let checked_in: serde_json::Value =
            serde_json::from_str(include_str!("../../../deploy/rabbitmq/definitions.json"))
                .expect("valid JSON");
        assert_eq!(
            checked_in,
            definitions(&config(QueueType::Quorum), "/"),
            "regenerate with `herald topology definitions > deploy/rabbitmq/definitions.json`"
        );
    }

    #[test]
    fn least_privilege_roles_declare_nothing_and_read_only_their_queue() {
        let roles = roles(&config(QueueType::Quorum));
        let role = |user: &str| roles.iter().find(|r| r.user == user).expect("a role");
        assert!(roles.iter().all(|r| r.configure == "^$"));
        assert_eq!(role("herald-publisher").write, "^platform\\.events$");
        assert_eq!(role("herald-publisher").read, "^$");
        assert_eq!(role("herald-fanout").read, "^webhooks\\.fanout$");
        assert_eq!(
            role("herald-sender").read,
            "^(webhooks\\.deliveries|webhooks\\.overflow)$"
        );
        assert_eq!(
            role("herald-api").read,
            "^(webhooks\\.failed|webhooks\\.rejected|webhooks\\.parked\\.lock)$"
        );
        assert_eq!(role("herald-fanout").write, "^amq\\.default$");
        assert_eq!(
            role("herald-sender").write,
            "^(amq\\.default|herald\\.operational)$"
        );
        assert_eq!(role("herald-api").write, role("herald-sender").write);
    }

    #[test]
    fn classic_queues_get_no_quorum_only_arguments() {
        for spec in queue_specs(&config(QueueType::Classic)) {
            let args = &spec.arguments;
            assert_eq!(
                get_str(args, "x-queue-type"),
                Some("classic"),
                "{}",
                spec.name
            );
            assert!(get_str(args, "x-dead-letter-strategy").is_none());
            assert!(get_int(args, "x-delivery-limit").is_none());
        }
    }
}
