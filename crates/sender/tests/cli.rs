//! The `sender` binary's command line.

use std::process::Command;

fn sender() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sender"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = sender().arg("--help").output().expect("sender runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "AMQP_URL",
        "DATABASE_URL",
        "QUEUE_PREFIX",
        "QUEUE_TYPE",
        "RETRY_DELAYS",
        "DELIVERY_TIMEOUT",
        "ALLOW_PRIVATE_TARGETS",
        "ALLOW_HTTP",
        "SECRETS_KEY",
        "METRICS_ADDR",
        "DRAIN_TIMEOUT",
        "SENDER_PREFETCH",
    ] {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}"
        );
    }
}

#[test]
fn it_refuses_to_start_without_a_secrets_key() {
    let output = sender()
        .env("METRICS_ADDR", "127.0.0.1:0")
        .output()
        .expect("sender runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SECRETS_KEY is not set"));
}

#[test]
fn an_unusable_retry_ladder_is_a_clear_error() {
    let output = sender()
        .env("RETRY_DELAYS", "15s,soon")
        .output()
        .expect("sender runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("`soon` is not a duration"));
}
