//! A minimal Lambda Runtime API (2018-06-01) server that hands out events one at a time and
//! times the function process answering them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

use crate::{flag, percentile};

/// What the server tells the driver.
enum Signal {
    /// The function asked for its next event.
    Next(Instant),
    /// The function answered an invocation (its status code, if the payload had one).
    Done(Instant, Option<u64>),
    Failed(String),
}

struct Shared {
    events: Mutex<mpsc::Receiver<String>>,
    signals: mpsc::Sender<Signal>,
}

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let ok = |body: Bytes| hyper::Response::new(Full::new(body));
    if path.ends_with("/runtime/invocation/next") {
        let _ = shared.signals.send(Signal::Next(Instant::now())).await;
        let event = shared.events.lock().await.recv().await;
        let Some(event) = event else {
            // The driver is done: keep the function parked until it is killed.
            std::future::pending::<()>().await;
            return ok(Bytes::new());
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or(0);
        let mut resp = ok(Bytes::from(event));
        let h = resp.headers_mut();
        let id = uuid::Uuid::new_v4().to_string();
        for (k, v) in [
            ("lambda-runtime-aws-request-id", id.as_str()),
            ("lambda-runtime-deadline-ms", &deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            ),
            ("content-type", "application/json"),
        ] {
            if let Ok(v) = v.parse() {
                h.insert(k, v);
            }
        }
        return resp;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let signal = if path.ends_with("/response") {
        let status = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["statusCode"].as_u64());
        Signal::Done(Instant::now(), status)
    } else {
        Signal::Failed(format!("{path}: {}", String::from_utf8_lossy(&body)))
    };
    let _ = shared.signals.send(signal).await;
    let mut resp = ok(Bytes::from_static(b"{}"));
    *resp.status_mut() = hyper::StatusCode::ACCEPTED;
    resp
}

/// One function process under the fake runtime API.
struct Instance {
    child: tokio::process::Child,
    started: Instant,
    /// Wall-clock time of the spawn, in µs since the epoch (to place the function's own
    /// timestamps).
    spawned_unix_us: u128,
    events: mpsc::Sender<String>,
    signals: mpsc::Receiver<Signal>,
    server: tokio::task::JoinHandle<()>,
}

impl Instance {
    async fn start(command: &[String], phases: bool) -> Result<Instance, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (event_tx, event_rx) = mpsc::channel(1);
        let (signal_tx, signal_rx) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            events: Mutex::new(event_rx),
            signals: signal_tx,
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
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
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
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
            events: event_tx,
            signals: signal_rx,
            server,
        })
    }

    async fn wait_next(&mut self) -> Result<Instant, String> {
        match tokio::time::timeout(Duration::from_secs(30), self.signals.recv()).await {
            Ok(Some(Signal::Next(at))) => Ok(at),
            Ok(Some(Signal::Failed(e))) => Err(format!("function failed: {e}")),
            Ok(Some(Signal::Done(..))) => Err("unexpected response before next".into()),
            Ok(None) | Err(_) => Err("function never asked for an event (did it start?)".into()),
        }
    }

    /// Hands out one event; the time until the function responds.
    async fn invoke(&mut self, event: &str) -> Result<(Duration, Option<u64>), String> {
        let sent = Instant::now();
        self.events
            .send(event.to_owned())
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.signals.recv()).await {
                Ok(Some(Signal::Done(at, status))) => return Ok((at - sent, status)),
                Ok(Some(Signal::Next(_))) => continue,
                Ok(Some(Signal::Failed(e))) => return Err(format!("invocation failed: {e}")),
                Ok(None) | Err(_) => return Err("no response within 30 s".into()),
            }
        }
    }

    /// Page faults the process has taken so far that needed no disk read (`minflt` in
    /// `/proc/<pid>/stat`). Read when it first asks for an event, it counts the pages start-up
    /// touched (code, data the loader relocates, heap): unlike time, the same on every run.
    fn minor_faults(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces), from the 3rd (state) on.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(10 - 3)?.parse().ok()
    }

    /// Peak resident set size in KiB (`VmHWM`).
    fn peak_rss_kib(&self) -> Option<u64> {
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
    async fn stop(mut self) -> BTreeMap<String, f64> {
        let _ = self.child.kill().await;
        self.server.abort();
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

/// One cold start: exec → first `next` (init), the page faults by then, and the first
/// invocation of `event`.
struct ColdStart {
    instance: Instance,
    init_ms: f64,
    faults: Option<u64>,
    first: Duration,
    status: Option<u64>,
}

impl ColdStart {
    async fn measure(command: &[String], phases: bool, event: &str) -> Result<Self, String> {
        let mut instance = Instance::start(command, phases).await?;
        let asked = instance.wait_next().await?;
        let init_ms = (asked - instance.started).as_secs_f64() * 1e3;
        let faults = instance.minor_faults();
        let (first, status) = instance.invoke(event).await?;
        Ok(ColdStart {
            instance,
            init_ms,
            faults,
            first,
            status,
        })
    }

    fn first_ms(&self) -> f64 {
        self.first.as_secs_f64() * 1e3
    }
}

/// The cold starts of another command made in the same rounds as the function's: the floor's
/// (`--baseline`) or the Python peer's (`--peer`).
#[derive(Default)]
struct Alongside {
    init: Vec<f64>,
    cold: Vec<f64>,
    faults: Vec<f64>,
    statuses: BTreeMap<String, usize>,
}

impl Alongside {
    /// Starts `command` once, hands it `event`, records the start and stops it.
    async fn start(&mut self, command: &[String], event: &str) -> Result<(), String> {
        let start = ColdStart::measure(command, false, event).await?;
        self.faults.extend(start.faults.map(|f| f as f64));
        *self
            .statuses
            .entry(format!("{:?}", start.status))
            .or_default() += 1;
        self.init.push(start.init_ms);
        self.cold.push(start.init_ms + start.first_ms());
        start.instance.stop().await;
        Ok(())
    }

    fn report(mut self, command: serde_json::Value) -> serde_json::Value {
        json!({
            "command": command,
            "init_ms": summary(&mut self.init),
            "cold_start_ms": summary(&mut self.cold),
            "init_page_faults": summary(&mut self.faults),
            "statuses": self.statuses,
        })
    }
}

fn summary(samples: &mut [f64]) -> serde_json::Value {
    samples.sort_by(f64::total_cmp);
    json!({
        "n": samples.len(),
        "p50": percentile(samples, 50.0),
        "p90": percentile(samples, 90.0),
        "p99": percentile(samples, 99.0),
        "max": samples.last().copied().unwrap_or(f64::NAN),
        "samples": samples,
    })
}

pub async fn run(args: &[String]) -> Result<String, String> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .ok_or("run needs `-- command …`")?;
    let (opts, command) = (&args[..split], &args[split + 1..]);
    if command.is_empty() {
        return Err("no command after --".into());
    }
    let event_path: String = flag(opts, "--event", String::new())?;
    let event = std::fs::read_to_string(&event_path).map_err(|e| format!("{event_path}: {e}"))?;
    let cold: usize = flag(opts, "--cold", 5)?;
    let warm: usize = flag(opts, "--warm", 100)?;
    let label: String = flag(opts, "--label", command.join(" "))?;
    let phases_wanted = opts.iter().any(|o| o == "--phases");
    // A baseline (the floor) started before each cold start of the function, so that the ratio
    // of the two compares starts made seconds apart under the same load, not minutes apart.
    let baseline: Option<String> = match opts.iter().position(|o| o == "--baseline") {
        None => None,
        Some(_) => Some(flag(opts, "--baseline", String::new())?),
    };
    // The peer (the same handler in Python, a command line split at spaces), started in every
    // round too, on an event (and with `--fresh`, a company) of its own: its ratio to the
    // function pairs starts made under the same load, as the floor's does.
    let peer: Option<Vec<String>> = match opts.iter().position(|o| o == "--peer") {
        None => None,
        Some(_) => Some(
            flag(opts, "--peer", String::new())?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        ),
    };
    // `{{n}}` in the event becomes a number unique to each invocation (and to this run), so
    // writes that would refuse a repeat (an account added twice, a company deleted twice) can
    // be measured as the first of their kind every time.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 100_000)
        .unwrap_or(0);
    let mut counter = 0u64;
    // `--fresh`: each cold start acts on a company of its own, written (outside the timing)
    // just before it, so that every write measured is one that succeeds: an account added to a
    // company with room for it, a company or an account deleted that exists.
    let fresh = opts.iter().any(|o| o == "--fresh");
    let seeded_id = crate::overhead::company_id(&event);
    let store = match (fresh, &seeded_id) {
        (true, Some(_)) => Some(companies_store::DynamoStore::from_env()?),
        (true, None) => return Err("--fresh needs an event that names a company".into()),
        _ => None,
    };
    let mut company_event = event.clone();
    let mut next_event = |event: &str| {
        counter += 1;
        event.replace("{{n}}", &format!("{nonce}{counter:05}"))
    };
    let mut phase_samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();

    let (mut init, mut first, mut cold_total, mut warm_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut statuses = BTreeMap::<String, usize>::new();
    let mut peak_rss = Vec::new();
    let mut init_faults = Vec::new();
    let (mut floor_starts, mut peer_starts) = (Alongside::default(), Alongside::default());
    let mut peer_event = event.clone();
    for round in 0..cold.max(1) {
        // The companies first, so that every start of the round follows the writes.
        if let (Some(store), Some(seeded)) = (&store, &seeded_id) {
            company_event = event.replace(seeded.as_str(), &uuid::Uuid::new_v4().to_string());
            crate::overhead::seed_event(store, &company_event).await?;
            if peer.is_some() {
                peer_event = event.replace(seeded.as_str(), &uuid::Uuid::new_v4().to_string());
                crate::overhead::seed_event(store, &peer_event).await?;
            }
        }
        if let Some(peer) = &peer {
            peer_starts.start(peer, &next_event(&peer_event)).await?;
        }
        if let Some(baseline) = &baseline {
            floor_starts
                .start(std::slice::from_ref(baseline), &event)
                .await?;
        }
        let ColdStart {
            mut instance,
            init_ms,
            faults,
            first: took,
            status,
        } = ColdStart::measure(command, phases_wanted, &next_event(&company_event)).await?;
        init_faults.extend(faults.map(|f| f as f64));
        *statuses.entry(format!("{status:?}")).or_default() += 1;
        let took_ms = took.as_secs_f64() * 1e3;
        init.push(init_ms);
        first.push(took_ms);
        cold_total.push(init_ms + took_ms);
        if round + 1 == cold.max(1) {
            for _ in 0..warm {
                let (took, status) = instance.invoke(&next_event(&company_event)).await?;
                *statuses.entry(format!("{status:?}")).or_default() += 1;
                warm_ms.push(took.as_secs_f64() * 1e3);
            }
        }
        if let Some(kib) = instance.peak_rss_kib() {
            peak_rss.push(kib as f64);
        }
        let mut phases = instance.stop().await;
        if !phases.is_empty() {
            // What the function did not report: the runtime's own start (its client to the
            // Runtime API, the first `next`), and the first invocation outside the handler.
            let reported: f64 = ["exec_to_main", "logging", "client", "metrics"]
                .iter()
                .filter_map(|k| phases.get(*k))
                .sum();
            phases.insert("runtime_to_first_next".into(), init_ms * 1e3 - reported);
            if let Some(handler) = phases.get("first_request").copied() {
                phases.insert(
                    "first_invocation_outside_handler".into(),
                    took.as_secs_f64() * 1e6 - handler,
                );
            }
        }
        for (name, us) in phases {
            phase_samples.entry(name).or_default().push(us / 1e3);
        }
    }
    let phases: serde_json::Map<String, serde_json::Value> = phase_samples
        .into_iter()
        .map(|(name, mut ms)| (name, summary(&mut ms)))
        .collect();
    Ok(json!({
        "label": label,
        "command": command,
        "event": event_path,
        "init_ms": summary(&mut init),
        "first_invocation_ms": summary(&mut first),
        "cold_start_ms": summary(&mut cold_total),
        "warm_ms": summary(&mut warm_ms),
        "peak_rss_kib": summary(&mut peak_rss),
        "init_page_faults": summary(&mut init_faults),
        "baseline": baseline.map(|command| floor_starts.report(json!(command))),
        "peer": peer.map(|command| peer_starts.report(json!(command))),
        "statuses": statuses,
        "phases_ms": phases,
    })
    .to_string())
}
