//! The command line: `run`, `once`, `check-config`, `simulate` and `demo`.
//!
//! Flags follow Prometheus exporters where they overlap (`--web.listen-address` is accepted for
//! `--listen`). Exit codes: 0 healthy, 1 failures seen (or a failing verdict), 2 a config or
//! usage error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config;
use crate::probe::HttpProber;
use crate::scheduler::Scheduler;
use crate::service::{HttpProbes, Recorder, Service};
use crate::telemetry::{self, LogFormat};
use crate::verdict::Scope;

/// The default address of the metrics server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Synthetic probes of LLM batch APIs that tell a provider outage from your own.
#[derive(Debug, Parser)]
#[command(name = "batchprobe", version, about, max_term_width = 100)]
pub struct Cli {
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log level or filter (e.g. `debug`, `batchprobe=debug,info`); overrides RUST_LOG.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe on a schedule and serve /metrics, the verdict and the status page.
    Run(RunArgs),
    /// Run every check for a few rounds, print a table per slice and the verdict, and exit
    /// 0 when healthy, 1 when failures were seen, 2 on a bad config.
    Once(OnceArgs),
    /// Check a config file and print what it would probe; exit 2 if it is invalid.
    CheckConfig(CheckConfigArgs),
    /// Serve a fake Gemini Batch API with fault injection.
    Simulate(crate::simulator::SimulateArgs),
    /// Run the simulator's seed outage in three regions on loopback, probe it, serve /metrics
    /// and print a live table each round.
    Demo(crate::demo::DemoArgs),
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file (YAML).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Address for /metrics, /healthz, /-/reload, /api/v1/verdict and the status page.
    #[arg(long, alias = "web.listen-address", value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
}

/// Flags of `once`.
#[derive(Debug, Args)]
pub struct OnceArgs {
    /// The config file (YAML).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Rounds to run back to back; more rounds give the verdict more samples per slice.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub rounds: u64,
}

/// Flags of `check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The config file (YAML).
    #[arg(value_name = "FILE")]
    pub config: PathBuf,
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    // The gRPC trace exporter needs the runtime's context when it is built.
    let telemetry = {
        let _context = runtime.enter();
        telemetry::init(cli.log_format, cli.log_level.as_deref())
    };

    let code = runtime.block_on(dispatch(cli.command));
    telemetry.shutdown();
    // In-flight probes may be holding a connection open for a minute; do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn dispatch(command: Command) -> ExitCode {
    let result = match command {
        Command::Run(args) => run(args).await,
        Command::Once(args) => return once(args).await,
        Command::CheckConfig(args) => return check_config(&args.config),
        Command::Simulate(args) => crate::simulator::run(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let prober = HttpProber::new()?;
    let service = Service::start(&args.config, prober)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;

    serve_until_signal(listener, service).await
}

/// Serves `service` until SIGINT or SIGTERM; SIGHUP reloads the config.
pub async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    spawn_signal_handlers(service.clone(), shutdown.clone())?;

    crate::server::serve(listener, service.clone(), shutdown).await?;
    service.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

fn spawn_signal_handlers(service: Arc<Service>, shutdown: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;

    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    // The outcome is logged and exported by the reload itself.
                    let _ = service.reload().await;
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        shutdown.cancel();
    });
    Ok(())
}

async fn once(args: OnceArgs) -> ExitCode {
    let config = match config::load(&args.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let prober = match HttpProber::new() {
        Ok(prober) => prober,
        Err(err) => {
            eprintln!("error: cannot build the HTTP client: {err}");
            return ExitCode::from(2);
        }
    };

    let recorder = Arc::new(Recorder::new(&config));
    let probes = Arc::new(HttpProbes::new(&config, prober));
    let buckets = config.size_buckets.clone();
    let scheduler = Scheduler::new(config, probes, recorder.clone());
    for round in 0..args.rounds {
        scheduler.run_round(round, round == 0).await;
    }

    let verdict = recorder.verdict();
    print!("{}", crate::report::render(&verdict, &buckets));
    let failures: u64 = verdict.slices.iter().map(|s| s.failures).sum();
    if failures > 0 || verdict.scope != Scope::None {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn check_config(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(config) => {
            let checks = crate::scheduler::plan(&config);
            println!("{}: ok", path.display());
            for target in &config.targets {
                println!(
                    "  target {}: {} {} region={} versions={} operations={} interval={} \
                     timeout={} budget={}/min key=<redacted>",
                    target.name,
                    target.provider.as_str(),
                    target.base_url,
                    target.region,
                    target.api_versions.join(","),
                    target
                        .operations
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    humantime::format_duration(target.interval),
                    humantime::format_duration(target.timeout),
                    target.requests_per_minute,
                );
            }
            println!("  {} checks", checks.len());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
