//! The `fanout` binary's command line.

use std::process::Command;

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_fanout"))
        .arg("--help")
        .output()
        .expect("fanout runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "AMQP_URL",
        "DATABASE_URL",
        "EVENTS_EXCHANGE",
        "QUEUE_PREFIX",
        "QUEUE_TYPE",
        "MAX_EVENT_BYTES",
        "METRICS_ADDR",
        "FANOUT_PREFETCH",
    ] {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}"
        );
    }
}

#[test]
fn an_unknown_queue_type_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_fanout"))
        .env("QUEUE_TYPE", "stream")
        .output()
        .expect("fanout runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("`stream` is not a queue type"));
}
