//! The running probe: one config, its scheduler, the HTTP prober behind it, and the recorder
//! that feeds metrics and the verdict. Reloads swap the config and scheduler whole, and only
//! after the new config has loaded; a bad config never replaces a good one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigError, Target};
use crate::discovery::JobPool;
use crate::metrics::Metrics;
use crate::outcome::Observation;
use crate::probe::{BodyRead, HttpProber};
use crate::provider::{self, DiscoveredJob, ListPage, Provider};
use crate::scheduler::{BoxFuture, Prober, Scheduler, Sink, SkipReason, Task};
use crate::slice::Operation;
use crate::verdict::{Evaluator, Verdict};

/// The `pageSize` of the list requests that discovery sends.
const DISCOVERY_PAGE_SIZE: u32 = 100;

/// Sends the scheduler's tasks over HTTP to the configured targets.
pub struct HttpProbes {
    prober: HttpProber,
    targets: Vec<TargetProbe>,
}

struct TargetProbe {
    provider: Arc<dyn Provider>,
    target: Target,
}

impl HttpProbes {
    /// Probes for every target of `config`.
    pub fn new(config: &Config, prober: HttpProber) -> HttpProbes {
        let targets = config
            .targets
            .iter()
            .map(|target| TargetProbe {
                provider: Arc::from(provider::for_target(
                    target.provider,
                    &target.base_url,
                    &target.api_key,
                )),
                target: target.clone(),
            })
            .collect();

        HttpProbes { prober, targets }
    }
}

impl Prober for HttpProbes {
    fn probe(&self, task: Task) -> BoxFuture<Observation> {
        let probe = &self.targets[task.target];
        let provider = probe.provider.clone();
        let operation = task.slice.operation;
        let request = match operation {
            Operation::List => {
                provider.list_page(&task.api_version, probe.target.list_page_size, None)
            }
            _ => provider.request(operation, &task.api_version, task.job.as_deref()),
        };
        let body_read = match (operation, probe.target.body_limit) {
            (Operation::Get | Operation::Download, Some(limit)) => BodyRead::Limit(limit),
            _ => BodyRead::Full,
        };
        let timeout = probe.target.timeout;
        let prober = self.prober.clone();

        Box::pin(async move {
            let response = prober
                .send(provider.as_ref(), task.slice, request, timeout, body_read)
                .await;
            response.observation
        })
    }

    fn list_page(
        &self,
        target: usize,
        api_version: String,
        page_token: Option<String>,
    ) -> BoxFuture<Result<ListPage, String>> {
        let probe = &self.targets[target];
        let provider = probe.provider.clone();
        // Large pages keep discovery to a few requests of the target's budget.
        let request = provider.list_page(&api_version, DISCOVERY_PAGE_SIZE, page_token.as_deref());
        let timeout = probe.target.timeout;
        let prober = self.prober.clone();
        let slice = crate::slice::SliceKey {
            provider: provider.label().to_string(),
            operation: Operation::List,
            api_version,
            region: probe.target.region.clone(),
            batch_size: crate::slice::NO_BATCH_SIZE.to_string(),
        };

        Box::pin(async move {
            let response = prober
                .send(provider.as_ref(), slice, request, timeout, BodyRead::Full)
                .await;
            let observation = &response.observation;
            match response.body {
                Some(body) => provider.parse_list(&body),
                None => Err(format!(
                    "list answered {} ({})",
                    observation.code_label(),
                    observation.outcome
                )),
            }
        })
    }

    fn is_succeeded(&self, target: usize, job: &DiscoveredJob) -> bool {
        self.targets[target].provider.is_succeeded(job)
    }
}

/// Where observations go: the metrics and the verdict's windows.
pub struct Recorder {
    /// The metrics registry.
    pub metrics: Metrics,
    evaluator: Mutex<Evaluator>,
}

impl Recorder {
    /// A recorder whose verdict follows `config`.
    pub fn new(config: &Config) -> Recorder {
        Recorder {
            metrics: Metrics::new(),
            evaluator: Mutex::new(Evaluator::new(
                config.verdict.clone(),
                config.size_buckets.clone(),
            )),
        }
    }

    /// Evaluates the verdict now and updates its gauges.
    pub fn verdict(&self) -> Verdict {
        let verdict = self
            .evaluator
            .lock()
            .expect("evaluator lock poisoned")
            .evaluate(SystemTime::now());
        self.metrics.verdict.update(&verdict);
        verdict
    }

    fn reconfigure(&self, config: &Config) {
        let mut evaluator = self.evaluator.lock().expect("evaluator lock poisoned");
        evaluator.set_config(config.verdict.clone(), config.size_buckets.clone());
    }
}

impl Sink for Recorder {
    fn observe(&self, observation: &Observation) {
        tracing::debug!(
            slice = %observation.slice,
            outcome = %observation.outcome,
            code = %observation.code_label(),
            duration = ?observation.duration,
            "probe finished"
        );
        self.metrics.observe(observation);
        self.evaluator
            .lock()
            .expect("evaluator lock poisoned")
            .record(observation);
    }

    fn skipped(&self, provider: &str, reason: SkipReason) {
        tracing::debug!(provider, reason = reason.as_str(), "check skipped");
        self.metrics.skipped(provider, reason);
    }

    fn discovered(&self, target: &Target, api_version: &str, pool: &JobPool) {
        self.metrics.discovered(target, api_version, pool);
    }
}

/// The probe service: a config file, the scheduler running it, and the recorder.
pub struct Service {
    config_path: PathBuf,
    recorder: Arc<Recorder>,
    prober: HttpProber,
    running: tokio::sync::Mutex<Running>,
}

struct Running {
    config: Config,
    scheduler: RunningScheduler,
}

impl Service {
    /// Loads the config and starts probing. Fails if the config cannot be used.
    pub fn start(config_path: &Path, prober: HttpProber) -> Result<Arc<Service>, ConfigError> {
        let config = config::load(config_path)?;
        let recorder = Arc::new(Recorder::new(&config));
        recorder.metrics.set_reload_successful(true);

        let scheduler = RunningScheduler::spawn(&config, &prober, &recorder);
        tracing::info!(
            config = %config_path.display(),
            targets = config.targets.len(),
            "probing started"
        );

        Ok(Arc::new(Service {
            config_path: config_path.to_path_buf(),
            recorder,
            prober,
            running: tokio::sync::Mutex::new(Running { config, scheduler }),
        }))
    }

    /// The recorder, for the HTTP server.
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// Reloads the config file. On error the running config stays and the reload gauge drops
    /// to 0 until a reload succeeds.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let mut running = self.running.lock().await;

        let config = match config::load(&self.config_path) {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(error = %err, "config reload failed; keeping the running config");
                self.recorder.metrics.set_reload_successful(false);
                return Err(err);
            }
        };

        // The old scheduler stops starting checks; its requests in flight still finish and are
        // recorded. Gauges of slices the new config drops go now, and once more after that
        // drain, which may have set them again.
        running.scheduler.cancel();
        let planned = crate::scheduler::planned_slices(&config);
        self.recorder.metrics.retain_slices(&planned);
        self.recorder.reconfigure(&config);
        let old = std::mem::replace(
            &mut running.scheduler,
            RunningScheduler::spawn(&config, &self.prober, &self.recorder),
        );
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            let _ = old.task.await;
            recorder.metrics.retain_slices(&planned);
        });
        running.config = config;
        self.recorder.metrics.set_reload_successful(true);
        tracing::info!(config = %self.config_path.display(), "config reloaded");
        Ok(())
    }

    /// Stops probing.
    pub async fn shutdown(&self) {
        self.running.lock().await.scheduler.cancel();
    }
}

/// A scheduler running in its own task.
struct RunningScheduler {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunningScheduler {
    fn spawn(config: &Config, prober: &HttpProber, recorder: &Arc<Recorder>) -> RunningScheduler {
        let probes = Arc::new(HttpProbes::new(config, prober.clone()));
        let scheduler = Scheduler::new(config.clone(), probes, recorder.clone());
        let cancel = CancellationToken::new();

        let token = cancel.clone();
        let task = tokio::spawn(async move { scheduler.run(token).await });
        RunningScheduler { cancel, task }
    }

    /// Stops starting checks; the task ends once the requests in flight are recorded.
    fn cancel(&self) {
        self.cancel.cancel();
    }
}
