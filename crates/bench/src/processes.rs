//! Herald's processes for a benchmark run: spawned from the release binaries, measured
//! through `/proc` (CPU seconds, peak RSS), stopped with SIGTERM.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::process::{Child, Command};

/// The directory holding this executable and its sibling binaries.
fn binary_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(PathBuf::from)
        .context("no directory for the bench executable")
}

/// Makes sure `fanout`, `sender` and `herald` are built next to this binary, in its profile.
pub fn build_binaries() -> anyhow::Result<()> {
    let dir = binary_dir()?;
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "--bins", "--workspace"]);
    if dir.file_name().is_some_and(|profile| profile == "release") {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .context("running cargo to build the Herald binaries")?;
    anyhow::ensure!(status.success(), "building the Herald binaries failed");
    Ok(())
}

/// A running Herald process.
pub struct HeraldProcess {
    pub name: String,
    child: Child,
    pub health_port: u16,
}

/// What a process cost.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCost {
    pub process: String,
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
}

impl HeraldProcess {
    pub fn spawn(
        binary: &str,
        args: &[&str],
        env: &[(String, String)],
        health_port: u16,
        name: &str,
    ) -> anyhow::Result<Self> {
        let child = Command::new(binary_dir()?.join(binary))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            health_port,
        })
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://127.0.0.1:{}/readyz", self.health_port);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{} did not become ready", self.name)
    }

    /// CPU seconds so far and peak RSS, from `/proc`.
    pub fn cost(&self) -> ProcessCost {
        let pid = self.child.id().unwrap_or_default();
        let cpu_seconds = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // Fields after the parenthesised command name; utime and stime are 14 and 15.
                let rest = stat.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let ticks: f64 =
                    fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
                Some(ticks / clock_ticks_per_second())
            })
            .unwrap_or_default();
        let peak_rss_mib = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib / 1024.0)
            })
            .unwrap_or_default();
        ProcessCost {
            process: self.name.clone(),
            cpu_seconds,
            peak_rss_mib,
        }
    }

    /// SIGTERM, then wait (bounded).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A free local port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
