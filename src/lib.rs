//! batchprobe: synthetic probes of LLM batch APIs that tell a provider outage from your own.
//!
//! How data flows through the crate:
//!
//! ```text
//! config ──► scheduler ──► provider (builds the request) ──► probe (sends it, classifies it)
//!                 ▲                                               │
//!             discovery                                       Observation
//!                                                                 │
//!                                   ┌─────────────────────────────┼───────────────┐
//!                                   ▼                             ▼               ▼
//!                                metrics                       verdict         report
//!                                   └────────────► server ◄───────┘       (terminal tables)
//!                                         /metrics, /api/v1/verdict, /
//! ```
//!
//! - [`config`] loads and validates the YAML config; [`secret`] keeps API keys unprintable.
//! - [`slice`] names the dimensions (operation, API version, region, batch size bucket) and
//!   [`outcome`] the closed set of ways a request can end.
//! - [`provider`] knows the provider's wire format: URLs, headers, what a good body looks like.
//! - [`probe`] sends one request and always returns an [`outcome::Observation`].
//! - [`discovery`] pages through the batch list to pick jobs of each batch size bucket.
//! - [`scheduler`] decides when each check runs: intervals, jitter, no overlap, budgets,
//!   `Retry-After` pauses and a global concurrency limit.
//! - [`metrics`] turns observations into Prometheus metrics; [`verdict`] turns them into a scope:
//!   is it us, one batch size, one API version, one region, or everyone?
//! - [`service`] runs one config: scheduler, HTTP prober and the recorder feeding metrics and
//!   verdict; reloads replace it whole, and only with a config that loaded.
//! - [`server`] serves `/metrics`, `/healthz`, `/-/reload`, the verdict API and the status page.
//! - [`simulator`] is a fake of the provider's API with fault injection, for tests and the demo.
//! - [`telemetry`] sets up logs and OpenTelemetry traces.
//! - [`report`] prints slice tables in the terminal; [`demo`] plays the seed outage on loopback.
//! - [`cli`] wires all of it into the `run`, `once`, `check-config`, `simulate` and `demo`
//!   commands.

pub mod cli;
pub mod config;
pub mod demo;
pub mod discovery;
pub mod metrics;
pub mod outcome;
pub mod probe;
pub mod provider;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod server;
pub mod service;
pub mod simulator;
pub mod slice;
pub mod status_page;
pub mod telemetry;
pub mod verdict;
