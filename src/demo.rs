//! `batchprobe demo`: the whole story on one machine. The simulator plays the seed outage in
//! three regions on loopback, a probe with an embedded config watches it, `/metrics`, the
//! verdict and the status page are served, and a table per round shows what the probe sees.
//!
//! Nothing leaves the machine: every address is on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::probe::HttpProber;
use crate::service::Service;
use crate::simulator::{Scenario, SimulatorOptions};

/// The regions the demo's simulator serves, one listener each.
pub const DEMO_REGIONS: [&str; 3] = ["europe-west4", "us-central1", "asia-northeast1"];

/// The key the demo's probe sends; the simulator accepts any non-empty key.
const DEMO_KEY: &str = "demo-key-not-a-secret";

/// Flags of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address for /metrics, /api/v1/verdict and the status page.
    #[arg(long, alias = "web.listen-address", value_name = "ADDR", default_value = crate::cli::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Stop after this long (e.g. `45s`); runs until Ctrl-C without it.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// The simulator scenario to play (a built-in name or a YAML file).
    #[arg(long, default_value = "seed-outage")]
    pub scenario: String,
    /// Time between two runs of each check, and between two tables.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
}

/// Runs the demo until Ctrl-C or `--duration`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let listeners = DEMO_REGIONS
        .iter()
        .map(|region| (region.to_string(), SocketAddr::from(([127, 0, 0, 1], 0))))
        .collect();
    let simulator = crate::simulator::start(SimulatorOptions {
        listeners,
        scenario,
        api_key: None,
    })
    .await?;

    // The probe runs from a real config file, so `/-/reload` and SIGHUP work in the demo too.
    let dir = tempfile_dir()?;
    let config_path = dir.join("demo.yml");
    let key_path = dir.join("key");
    std::fs::write(&key_path, DEMO_KEY)?;
    let base_urls: Vec<(String, String)> = DEMO_REGIONS
        .iter()
        .map(|r| {
            (
                r.to_string(),
                simulator
                    .base_url(r)
                    .expect("the simulator serves every demo region"),
            )
        })
        .collect();
    std::fs::write(
        &config_path,
        demo_config(&base_urls, &key_path, args.interval),
    )?;

    let service = Service::start(&config_path, HttpProber::new()?)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (choose another with --listen): {e}",
                args.listen
            )
        })?;
    let local = listener.local_addr()?;
    println!(
        "batchprobe demo: scenario {}, regions {}",
        args.scenario,
        DEMO_REGIONS.join(", ")
    );
    println!("  status page  http://{local}/");
    println!("  metrics      http://{local}/metrics");
    println!("  verdict      http://{local}/api/v1/verdict");
    println!(
        "  simulator    {}",
        base_urls
            .iter()
            .map(|(r, u)| format!("{r}={u}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("Press Ctrl-C to stop.\n");

    let shutdown = CancellationToken::new();
    let printer = tokio::spawn(print_rounds(service.clone(), args.interval));
    if let Some(duration) = args.duration {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.cancel();
        });
    }
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });

    crate::server::serve(listener, service.clone(), shutdown).await?;
    printer.abort();
    service.shutdown().await;
    simulator.shutdown().await;

    let verdict = service.recorder().verdict();
    println!("\nfinal verdict: {}\n{}", verdict.scope, verdict.headline);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn print_rounds(service: std::sync::Arc<Service>, interval: Duration) {
    let buckets = crate::slice::SizeBuckets::default();
    let mut round = 0;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;

    loop {
        ticker.tick().await;
        round += 1;
        let verdict = service.recorder().verdict();
        println!("── round {round} ──────────────────────────────────────────────");
        println!("{}", crate::report::render(&verdict, &buckets));
    }
}

/// The probe config the demo runs: one target per simulated region, both API versions, every
/// read operation, discovery of the seeded jobs.
fn demo_config(
    base_urls: &[(String, String)],
    key_path: &std::path::Path,
    interval: Duration,
) -> String {
    let mut text = format!(
        "region: {region}\ninterval: {interval}\ntimeout: 20s\nconcurrency: 64\n\
         budget: {{ requests_per_minute: 1200 }}\nsize_buckets: [10, 100, 500]\n\
         verdict: {{ window: 2m, min_requests: 4 }}\ntargets:\n",
        region = DEMO_REGIONS[0],
        interval = humantime::format_duration(interval),
    );
    for (region, url) in base_urls {
        text.push_str(&format!(
            "  - name: gemini-{region}\n    provider: gemini\n    base_url: {url}\n    \
             api_key: {{ file: {key} }}\n    region: {region}\n    api_versions: [v1beta, v1]\n    \
             operations: [get, get_state, list, models]\n    \
             jobs:\n      discover: {{ max_jobs: 100, per_bucket: 2, interval: 1m }}\n",
            key = key_path.display(),
        ));
    }
    text
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("batchprobe-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
