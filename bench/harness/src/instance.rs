//! One function process under the Runtime API server: started with the environment the Lambda
//! runtime gives a function, read from `/proc` while it runs, stopped with what it reported.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::runtime_api::RuntimeApi;

/// One function process and the Runtime API server it talks to.
pub struct Instance {
    child: tokio::process::Child,
    /// When the process was spawned (init is timed from here).
    pub started: Instant,
    /// Wall-clock time of the spawn, in µs since the epoch (to place the function's own
    /// timestamps).
    spawned_unix_us: u128,
    api: RuntimeApi,
    /// Where the function sends its trace documents (`AWS_XRAY_DAEMON_ADDRESS`), as Lambda's
    /// daemon receives them; they are not read.
    _daemon: std::net::UdpSocket,
}

impl Instance {
    /// Starts a server and `command` pointed at it; with `phases`, the function reports its
    /// start-up phases on stderr (`COMPANIES_INIT_PHASES`), which [`Instance::stop`] reads.
    pub async fn start(command: &[String], phases: bool) -> Result<Instance, String> {
        let api = RuntimeApi::start().await?;
        let daemon = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|d| Ok((d.local_addr()?, d)))
            .map_err(|e| format!("cannot open the trace daemon's socket: {e}"))?;
        let spawned_unix_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        let started = Instant::now();
        let mut cmd = tokio::process::Command::new(&command[0]);
        if phases {
            cmd.env("COMPANIES_INIT_PHASES", "1");
        }
        let child = cmd
            .args(&command[1..])
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon.0.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if phases {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", command[0]))?;
        Ok(Instance {
            child,
            started,
            spawned_unix_us,
            api,
            _daemon: daemon.1,
        })
    }

    /// When the function asks for an event.
    pub async fn wait_next(&mut self) -> Result<Instant, String> {
        self.api.wait_next().await
    }

    /// Hands out one event; the time until the function responds.
    pub async fn invoke(&mut self, event: &str) -> Result<(Duration, Option<u64>), String> {
        self.api.invoke(event).await
    }

    /// Page faults the process has taken so far that needed no disk read (`minflt` in
    /// `/proc/<pid>/stat`). Read when it first asks for an event, it counts the pages start-up
    /// touched (code, data the loader relocates, heap): unlike time, the same on every run.
    pub fn minor_faults(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces), from the 3rd (state) on.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(10 - 3)?.parse().ok()
    }

    /// Peak resident set size in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// Stops the process; the start-up phases it reported on stderr (µs by phase name), with
    /// `exec_to_main` placed against the spawn time.
    pub async fn stop(mut self) -> BTreeMap<String, f64> {
        let _ = self.child.kill().await;
        self.api.stop();
        let mut phases = BTreeMap::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if let (Some(name), Some(us)) = (v["init_phase"].as_str(), v["us"].as_u64()) {
                    if name == "main_at_unix" {
                        let since = u128::from(us).saturating_sub(self.spawned_unix_us);
                        phases.insert("exec_to_main".into(), since as f64);
                    } else {
                        phases.insert(name.to_owned(), us as f64);
                    }
                }
            }
        }
        phases
    }
}
