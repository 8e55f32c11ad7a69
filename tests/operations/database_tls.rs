//! PostgreSQL over TLS, as `sslmode` and `sslrootcert` in `DATABASE_URL` say, against a
//! private server that takes TCP connections over TLS only.

use std::path::Path;

use herald_tests::private::{PrivatePostgres, issue_certificates};
use herald_tests::processes::binary;
use herald_tests::unique_id;

/// Runs `herald migrate` against `url`; its exit status and standard error.
async fn migrate(url: &str) -> (bool, String) {
    let output = tokio::process::Command::new(binary("herald"))
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .output()
        .await
        .expect("herald migrate runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn with_tls(base: &str, mode: &str, root: Option<&Path>) -> String {
    match root {
        Some(root) => format!("{base}?sslmode={mode}&sslrootcert={}", root.display()),
        None => format!("{base}?sslmode={mode}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sslmode_connects_or_refuses_as_libpq_defines_it() {
    // Arrange: the server's certificate is for db.internal, the tests connect to 127.0.0.1.
    let (postgres, ca) = PrivatePostgres::start_tls_only();
    let base = postgres.url("herald");
    let stranger_dir = std::env::temp_dir().join(format!("herald-other-ca-{}", unique_id()));
    std::fs::create_dir_all(&stranger_dir).unwrap();
    issue_certificates(&stranger_dir);
    let stranger = stranger_dir.join("ca.pem");

    // Act
    let cases = [
        (
            "disable",
            None,
            false,
            "no encryption: the server refuses plain connections",
        ),
        ("require", None, true, "encrypted, certificate not checked"),
        (
            "verify-ca",
            Some(ca.as_path()),
            true,
            "signed by the given CA",
        ),
        (
            "verify-ca",
            Some(stranger.as_path()),
            false,
            "signed by another CA",
        ),
        (
            "verify-full",
            Some(ca.as_path()),
            false,
            "issued for another host name",
        ),
        (
            "require",
            Some(stranger.as_path()),
            false,
            "require with a root file checks the chain",
        ),
    ];
    let mut outcomes = Vec::new();
    for (mode, root, _, _) in &cases {
        outcomes.push(migrate(&with_tls(&base, mode, *root)).await);
    }
    // A service whose database certificate is refused stops at start rather than retry.
    let serve = tokio::process::Command::new(binary("herald"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", with_tls(&base, "verify-full", Some(&ca)))
        .env("ADMIN_TOKEN", herald_tests::app::ADMIN_TOKEN)
        .env("SECRETS_KEY", herald_tests::app::SECRETS_KEY)
        .env(
            "HTTP_ADDR",
            format!("127.0.0.1:{}", herald_tests::processes::free_port()),
        )
        .kill_on_drop(true)
        .output();
    let served = tokio::time::timeout(std::time::Duration::from_secs(30), serve)
        .await
        .expect("herald serve stops by itself")
        .expect("herald serve runs");
    let _ = std::fs::remove_dir_all(&stranger_dir);

    // Assert
    assert!(!served.status.success());
    assert!(
        String::from_utf8_lossy(&served.stderr).contains("configuration is unusable"),
        "{}",
        String::from_utf8_lossy(&served.stderr)
    );
    for ((mode, _, connects, why), (succeeded, stderr)) in cases.iter().zip(outcomes) {
        assert_eq!(succeeded, *connects, "sslmode={mode} ({why}): {stderr}");
        if !connects {
            let line = stderr.lines().last().unwrap_or_default();
            assert!(line.starts_with("error: "), "sslmode={mode}: {stderr}");
        }
    }
}
