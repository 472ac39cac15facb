//! `lambda-bench run`: cold starts (init, first invocation, the page faults start-up took), warm
//! invocations and peak memory of a function process, with the floor's and the Python peer's
//! cold starts made in the same rounds.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::instance::Instance;
use crate::{flag, percentile};

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
    /// Starts `command` and hands it `event` once it asks for one.
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

/// The distribution of `samples` (sorted in place): count, percentiles, maximum, every sample.
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

/// `run [options] -- command …`: the cold rounds, then the warm invocations of the last
/// process; one JSON document with every sample (options in the crate's header).
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
    // of the two compares starts made side by side under the same load, not far apart in a run.
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
