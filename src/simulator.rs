//! A fake of the Gemini Batch API (`generativelanguage.googleapis.com`) with fault injection,
//! for tests and the demo.
//!
//! The simulator answers the calls the probe and the official SDK make, with the real wire
//! shapes: `POST {v}/models/{m}:batchGenerateContent`, `GET {v}/batches/{id}` (optionally with
//! `fields=`), `GET {v}/batches`, `POST {v}/batches/{id}:cancel`, `DELETE {v}/batches/{id}`,
//! `GET {v}/models[/{m}]` and `GET download/{v}/files/{id}:download?alt=media`. Any API version
//! segment works. Every answer carries `server-timing: gfet4t7; dur=<ms>`, errors use Google's
//! `{"error": {code, message, status}}` body, and an `x-goog-api-key` header is required.
//!
//! One listener per region: a request's region is the listener it arrived on. A [`Scenario`]
//! seeds jobs into every region and lists fault rules ([`faults::FaultRule`]) that match on
//! operation, API version, region, batch size, response size and time, and answer with an
//! error status, `Retry-After`, a reset or truncated body, a hang or a closed connection.
//! Faults can be replaced while running, in process with [`RunningSimulator::set_faults`] or
//! over HTTP with `PUT /_simulator/faults` (and read back with `GET /_simulator/faults`).
//!
//! Built-in scenarios (see `docs/simulator.md` for the rule syntax):
//!
//! - `healthy`: jobs of 10, 100 and 500 requests, no faults.
//! - `seed-outage`: GET of jobs with more than 10 requests answers 503 after the 60 s deadline
//!   everywhere; `fields=` GETs, list, models and 10-request jobs are healthy.
//! - `widespread`: every operation answers 503 everywhere.
//! - `region-down`: every request on the *second* listener answers 503.
//! - `api-version-down`: `v1beta` answers 503, other versions work.
//! - `get-only`: GET of every job fails at the deadline; everything else works.
//! - `size-cliff`: GET and download bodies over 1 MiB are reset mid-body.
//! - `refuse-all`: every connection is closed before any response.
//! - `forbidden`: 403 everywhere. `quota`: 429 with `Retry-After: 30` everywhere.
//! - `noise`: 2% of requests answer 503 at random.
//!
//! This module owns the listeners and the public API; `api` handles requests, `conn` owns
//! connections, `jobs` the job records, `scenario` and `faults` the configuration.

mod api;
mod conn;
pub mod faults;
pub mod field_mask;
mod jobs;
mod models;
mod routes;
pub mod scenario;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use faults::{Effect, FaultRule, Range, SimOperation};
pub use scenario::{Scenario, ScenarioError, parse_fault_rules};

use crate::secret::{ApiKey, KeySource};

/// The region name used when `--listen` gives an address without a region.
pub const DEFAULT_REGION: &str = "default";

/// `batchprobe simulate`: serve a fake Gemini Batch API until Ctrl-C or SIGTERM.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_long_help = "Built-in scenarios: healthy, seed-outage, widespread, region-down, \
api-version-down, get-only, size-cliff, refuse-all, forbidden, quota, noise. \
docs/simulator.md describes each one and the YAML syntax of scenario files."
)]
pub struct SimulateArgs {
    /// Where to listen, one region per listener: `REGION=ADDR` (repeat for more regions), or a
    /// bare `ADDR` for a single region called `default`. Port 0 picks a free port.
    #[arg(
        long = "listen",
        value_name = "[REGION=]ADDR",
        default_value = "127.0.0.1:8787"
    )]
    pub listen: Vec<String>,

    /// A built-in scenario (healthy, seed-outage, widespread, region-down, api-version-down,
    /// get-only, size-cliff, refuse-all, forbidden, quota, noise) or a scenario YAML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "healthy")]
    pub scenario: String,

    /// Accept exactly the API key held in this environment variable. Without it any non-empty
    /// `x-goog-api-key` is accepted.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// `(region, address)` pairs, one listener each, in order (fault rules count listeners from
    /// 1 in this order).
    pub listeners: Vec<(String, SocketAddr)>,
    /// Jobs, created-job behaviour and fault rules.
    pub scenario: Scenario,
    /// The one key accepted; any non-empty key when `None`.
    pub api_key: Option<ApiKey>,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// No listener was given.
    #[error("the simulator needs at least one listener")]
    NoListeners,
    /// Two listeners share a region name.
    #[error("region {region:?} is given to more than one listener")]
    DuplicateRegion {
        /// The repeated name.
        region: String,
    },
    /// A `--listen` value is not `[REGION=]ADDR`.
    #[error(
        "invalid --listen value {value:?}: expected ADDR or REGION=ADDR, e.g. eu=127.0.0.1:8081"
    )]
    InvalidListen {
        /// The value given.
        value: String,
    },
    /// A listener's address could not be bound.
    #[error("cannot listen on {addr} for region {region:?}")]
    Bind {
        /// The region.
        region: String,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A simulator serving in the background. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningSimulator {
    addrs: Vec<(String, SocketAddr)>,
    shared: Arc<api::Shared>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl RunningSimulator {
    /// The bound address of a region's listener (the real port when 0 was asked for).
    pub fn addr(&self, region: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(name, _)| name == region)
            .map(|(_, addr)| *addr)
    }

    /// The region names, in listener order.
    pub fn regions(&self) -> Vec<String> {
        self.addrs.iter().map(|(name, _)| name.clone()).collect()
    }

    /// `http://ADDR` of a region's listener, the SDK's `base_url`.
    pub fn base_url(&self, region: &str) -> Option<String> {
        self.addr(region).map(|addr| format!("http://{addr}"))
    }

    /// Replaces the fault rules; requests already waiting on a rule finish with it.
    pub fn set_faults(&self, faults: Vec<FaultRule>) {
        self.shared.faults.replace(faults);
    }

    /// The fault rules in force.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.faults.rules().as_ref().clone()
    }

    /// Stops accepting, lets requests in flight finish briefly, and closes every connection.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Binds every listener and starts serving in the background.
pub async fn start(options: SimulatorOptions) -> Result<RunningSimulator, SimulatorError> {
    if options.listeners.is_empty() {
        return Err(SimulatorError::NoListeners);
    }
    for (index, (region, _)) in options.listeners.iter().enumerate() {
        if options.listeners[..index]
            .iter()
            .any(|(other, _)| other == region)
        {
            return Err(SimulatorError::DuplicateRegion {
                region: region.clone(),
            });
        }
    }

    // Bind everything before serving anything, so a bad address fails the whole start.
    let mut bound = Vec::new();
    for (region, addr) in &options.listeners {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimulatorError::Bind {
                region: region.clone(),
                addr: *addr,
                source,
            })?;
        let local = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                region: region.clone(),
                addr: *addr,
                source,
            })?;
        bound.push((region.clone(), local, listener));
    }

    let scenario = options.scenario;
    let started = Instant::now();
    let wall = SystemTime::now();
    let shutdown = CancellationToken::new();
    let regions = bound
        .iter()
        .map(|(region, _, _)| {
            let store = jobs::JobStore::default();
            for seed in scenario.jobs.iter().rev() {
                store.insert(jobs::Job::seeded(seed, started, wall));
            }
            (region.clone(), store)
        })
        .collect::<HashMap<_, _>>();
    let shared = Arc::new(api::Shared {
        regions,
        faults: faults::FaultState::new(
            scenario.faults.clone(),
            scenario.seed,
            scenario.time_scale,
        ),
        created_jobs: scenario.created_jobs.clone(),
        api_key: options.api_key,
        started,
        shutdown: shutdown.clone(),
    });
    let router = api::router(shared.clone());

    let tracker = TaskTracker::new();
    let mut addrs = Vec::new();
    for (position, (region, local, listener)) in bound.into_iter().enumerate() {
        tracing::info!(region = %region, addr = %local, scenario = %scenario.name, "simulator listening");
        tracker.spawn(conn::serve(
            listener,
            Arc::from(region.as_str()),
            position + 1,
            router.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
        addrs.push((region, local));
    }

    Ok(RunningSimulator {
        addrs,
        shared,
        shutdown,
        tracker,
    })
}

/// Runs `batchprobe simulate` until Ctrl-C or SIGTERM.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let listeners = parse_listen(&args.listen)?;
    let scenario = Scenario::load(&args.scenario)?;
    let api_key = match &args.api_key_env {
        Some(var) => Some(KeySource::Env(var.clone()).load()?),
        None => None,
    };

    let simulator = start(SimulatorOptions {
        listeners,
        scenario,
        api_key,
    })
    .await?;
    for region in simulator.regions() {
        let url = simulator.base_url(&region).unwrap_or_default();
        println!("simulator region {region}: {url}");
    }

    wait_for_signal().await;
    tracing::info!("simulator shutting down");
    simulator.shutdown().await;
    Ok(())
}

/// Parses `--listen` values: `REGION=ADDR` each, or one bare `ADDR` for region `default`.
pub fn parse_listen(values: &[String]) -> Result<Vec<(String, SocketAddr)>, SimulatorError> {
    values
        .iter()
        .map(|value| {
            let (region, addr) = value.split_once('=').unwrap_or((DEFAULT_REGION, value));
            let addr = addr.trim().parse::<SocketAddr>();
            match (region.trim(), addr) {
                (region, Ok(addr)) if !region.is_empty() => Ok((region.to_string(), addr)),
                _ => Err(SimulatorError::InvalidListen {
                    value: value.clone(),
                }),
            }
        })
        .collect()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(err) => {
                tracing::warn!(cause = %err, "cannot watch SIGTERM; only Ctrl-C stops the simulator");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, Command};

    use super::*;

    #[test]
    fn listen_values_parse() {
        let one = parse_listen(&["127.0.0.1:0".to_string()]).unwrap();
        assert_eq!(one[0].0, DEFAULT_REGION);

        let two =
            parse_listen(&["us=127.0.0.1:1".to_string(), "eu=127.0.0.1:2".to_string()]).unwrap();
        assert_eq!(two[1], ("eu".to_string(), "127.0.0.1:2".parse().unwrap()));

        assert!(parse_listen(&["=127.0.0.1:1".to_string()]).is_err());
        assert!(parse_listen(&["eu=nowhere".to_string()]).is_err());
    }

    #[test]
    fn help_lists_every_builtin_scenario() {
        let mut command = SimulateArgs::augment_args(Command::new("simulate"));

        let help = command.render_long_help().to_string();

        for name in Scenario::builtin_names() {
            assert!(help.contains(name), "--help does not mention {name}");
        }
        assert!(help.contains("--api-key-env"));
    }
}
