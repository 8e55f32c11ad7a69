//! Herald's binaries as processes: built once, spawned with an environment, stopped gently or
//! not, and measured through `/proc`.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::wait;

/// The directory of the workspace's binaries for the profile this executable was built in
/// (a test executable lives one level deeper, in `deps/`).
fn binary_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe.parent().context("no directory for this executable")?;
    Ok(if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().context("no target directory")?.to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

/// The path of workspace binary `name`. The first call builds the workspace's binaries in this
/// executable's profile (a no-op when they are fresh), so that a run never uses stale ones.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| build_binaries().map_err(|error| format!("{error:#}")))
        .clone()
        .map_err(anyhow::Error::msg)?;
    let path = dir.join(name);
    anyhow::ensure!(path.exists(), "{} is missing", path.display());
    Ok(path)
}

fn build_binaries() -> anyhow::Result<PathBuf> {
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
    Ok(dir)
}

/// A free local port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where a process's output goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// Standard output and error into this file, logging at `info`.
    File(PathBuf),
    /// Standard output discarded, errors to this process's standard error, logging at `warn`.
    Quiet,
}

/// A running Herald process; killed when dropped.
pub struct Process {
    pub name: String,
    child: Child,
    /// Where its `/healthz`, `/readyz` and `/metrics` are served.
    pub port: u16,
}

/// What a process cost so far.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCost {
    pub process: String,
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
}

impl Process {
    /// Starts workspace binary `binary_name` with `args` and `env`, serving health on `port`.
    pub fn start(
        binary_name: &str,
        args: &[&str],
        env: &[(String, String)],
        port: u16,
        output: Output,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(binary(binary_name)?);
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match output {
            Output::File(path) => {
                let file = std::fs::File::create(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
                command
                    .env("RUST_LOG", "info")
                    .stdout(file.try_clone()?)
                    .stderr(file);
            }
            Output::Quiet => {
                command
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit());
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {binary_name}"))?;
        Ok(Self {
            name: binary_name.to_owned(),
            child,
            port,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/readyz` answers 200, up to `limit`.
    pub async fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/readyz", self.base_url());
        wait::try_until(limit, || async {
            match client.get(&url).send().await {
                Ok(response) if response.status().is_success() => Some(()),
                _ => None,
            }
        })
        .await
        .with_context(|| format!("{} was not ready within {limit:?}", self.name))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("SIGKILL")
    }

    /// Starts killing without waiting.
    pub fn start_kill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// SIGTERM: a graceful stop.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let pid = self.pid().context("the process has exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .context("running kill")?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        Ok(())
    }

    /// Waits for the process to exit, up to `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .with_context(|| format!("{} did not exit within {limit:?}", self.name))?
            .context("waiting for the exit status")
    }

    /// SIGTERM, then waits up to `limit` for the exit.
    pub async fn stop(mut self, limit: Duration) {
        if self.terminate().is_ok() {
            let _ = self.wait_exit(limit).await;
        }
    }

    /// The resident memory now, from `/proc` (0 when it cannot be read).
    pub fn rss_mib(&self) -> f64 {
        self.memory_mib("VmRSS:")
    }

    /// A `/proc/{pid}/status` memory line, in MiB.
    fn memory_mib(&self, field: &str) -> f64 {
        let pid = self.pid().unwrap_or_default();
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|line| line.starts_with(field))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib / 1024.0)
            })
            .unwrap_or_default()
    }

    /// CPU seconds so far and peak RSS, from `/proc`.
    pub fn cost(&self) -> ProcessCost {
        let pid = self.pid().unwrap_or_default();
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
        let peak_rss_mib = self.memory_mib("VmHWM:");
        ProcessCost {
            process: self.name.clone(),
            cpu_seconds,
            peak_rss_mib,
        }
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
