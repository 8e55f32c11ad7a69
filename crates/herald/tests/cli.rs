//! The `herald` binary's command line.

use std::process::Command;

fn herald() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

#[test]
fn help_lists_the_commands() {
    let output = herald().arg("--help").output().expect("herald runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "up", "migrate", "publish"] {
        assert!(help.contains(command), "--help does not mention {command}");
    }
}

#[test]
fn serve_refuses_to_start_without_an_admin_token() {
    let output = herald().arg("serve").output().expect("herald runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ADMIN_TOKEN is not set"));
}

#[test]
fn publish_refuses_an_event_fanout_would_reject() {
    let output = herald()
        .args(["publish", "--tenant", "acme", "--type", "contact-merged"])
        .output()
        .expect("herald runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not in the catalog"));
}

#[test]
fn serve_refuses_a_short_admin_token() {
    let output = herald()
        .arg("serve")
        .env("ADMIN_TOKEN", "change-me")
        .env(
            "SECRETS_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .output()
        .expect("herald runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("at least 32 characters"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn serve_reads_its_admin_token_from_a_file_and_refuses_both_forms_at_once() {
    let path = std::env::temp_dir().join(format!("herald-cli-token-{}", std::process::id()));
    std::fs::write(&path, "short\n").expect("token file");
    let from_file = herald()
        .arg("serve")
        .env("ADMIN_TOKEN_FILE", &path)
        .output()
        .expect("herald runs");
    let both = herald()
        .arg("serve")
        .env("ADMIN_TOKEN_FILE", &path)
        .env("ADMIN_TOKEN", "x".repeat(40))
        .output()
        .expect("herald runs");
    let _ = std::fs::remove_file(&path);
    assert!(String::from_utf8_lossy(&from_file.stderr).contains("at least 32 characters"));
    assert!(String::from_utf8_lossy(&both.stderr).contains("not both"));
}
