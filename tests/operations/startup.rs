//! A process that cannot work stops at start with one clear line; one that waits for an
//! outage keeps running.

use std::process::Stdio;
use std::time::Duration;

use herald_tests::app::{ADMIN_TOKEN, SECRETS_KEY};
use herald_tests::processes::{binary, free_port};
use herald_tests::{POSTGRES_BASE, drop_database, unique_id};
use tokio::process::Command;

/// Another valid key than the harness's.
const OTHER_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// `herald serve` with `database_url` and `secrets_key`.
fn serve(database_url: &str, secrets_key: &str) -> Command {
    let mut command = Command::new(binary("herald"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("SECRETS_KEY", secrets_key)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end (within 30 s) and returns its stderr, asserting a failure.
async fn fails_with(mut command: Command) -> String {
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the process stops by itself")
        .expect("the process ran");
    assert!(!output.status.success(), "the process succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The last line of `stderr`, which must be the one error line.
fn error_line(stderr: &str) -> &str {
    let line = stderr.lines().last().unwrap_or_default();
    assert!(line.starts_with("error: "), "{stderr}");
    line
}

fn psql(database: &str, sql: &str) {
    let status = std::process::Command::new("psql")
        .args([&format!("{POSTGRES_BASE}/{database}"), "-q", "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "{sql}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_the_server_refuses_stops_the_process_at_start() {
    let stderr = fails_with(serve(
        "postgres://no_such_role_for_herald@127.0.0.1:5432/herald",
        SECRETS_KEY,
    ))
    .await;
    let line = error_line(&stderr);
    assert!(line.contains("configuration is unusable"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_database_url_or_pool_size_stops_the_process_at_start() {
    let stderr = fails_with(serve(
        "postgres://127.0.0.1:5432/herald?sslmode=sideways",
        SECRETS_KEY,
    ))
    .await;
    assert!(error_line(&stderr).contains("DATABASE_URL"), "{stderr}");
    let mut zero_pool = serve(&format!("{POSTGRES_BASE}/herald"), SECRETS_KEY);
    zero_pool.env("DATABASE_POOL_SIZE", "0");
    let stderr = fails_with(zero_pool).await;
    assert!(
        error_line(&stderr).contains("DATABASE_POOL_SIZE"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migration_stops_the_process_at_start() {
    let name = format!("herald_test_{}", unique_id());
    psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    psql(&name, "CREATE TABLE webhooks (unrelated int)");
    let stderr = fails_with(serve(&format!("{POSTGRES_BASE}/{name}"), SECRETS_KEY)).await;
    drop_database(&name);
    assert!(error_line(&stderr).contains("migration failed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secrets_key_that_does_not_open_the_stored_secrets_stops_the_process_at_start() {
    // Arrange: a database whose secrets were written with the harness's key.
    let name = format!("herald_test_{}", unique_id());
    let url = format!("{POSTGRES_BASE}/{name}");
    let migrate = Command::new(binary("herald"))
        .args(["migrate"])
        .env("DATABASE_URL", &url)
        .output()
        .await
        .expect("herald migrate runs");
    assert!(migrate.status.success());
    let mut first = serve(&url, SECRETS_KEY);
    first.stderr(Stdio::null());
    let mut running = first.spawn().expect("herald serve starts");
    let recorded = herald_tests::wait::until(
        "the first key's check value",
        Duration::from_secs(30),
        || async {
            let output = std::process::Command::new("psql")
                .args([&url, "-tAc", "SELECT count(*) FROM secrets_key_checks"])
                .output()
                .ok()?;
            (String::from_utf8_lossy(&output.stdout).trim() == "1").then_some(())
        },
    );
    recorded.await;
    running.kill().await.expect("stop the first server");

    // Act
    let stderr = fails_with(serve(&url, OTHER_KEY)).await;
    let again = serve(&url, SECRETS_KEY)
        .spawn()
        .expect("herald serve starts");

    // Assert
    let line = error_line(&stderr).to_owned();
    assert!(line.contains("does not open the secrets"), "{line}");
    let mut again = again;
    let still_running = tokio::time::timeout(Duration::from_secs(3), again.wait()).await;
    assert!(still_running.is_err(), "the right key was refused");
    again.kill().await.expect("stop");
    drop_database(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_waited_for_not_fatal() {
    let port = free_port();
    let mut waiting = serve(
        &format!("postgres://postgres@127.0.0.1:{port}/herald"),
        SECRETS_KEY,
    )
    .spawn()
    .expect("herald serve starts");
    let exited = tokio::time::timeout(Duration::from_secs(4), waiting.wait()).await;
    assert!(exited.is_err(), "the process gave up on a database outage");
    waiting.kill().await.expect("stop");
}
