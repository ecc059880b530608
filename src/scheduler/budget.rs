//! Per-target admission: the request budget and the `Retry-After` pause.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::time::{Duration, Instant};

/// Why a check did not send its request. The label values of
/// `batchprobe_checks_skipped_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The previous run of the same check was still in flight at its next tick.
    Overlap,
    /// The target's requests-per-minute budget was spent.
    Budget,
    /// The provider asked for a pause with `Retry-After`.
    RetryAfter,
}

impl SkipReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Overlap => "overlap",
            SkipReason::Budget => "budget",
            SkipReason::RetryAfter => "retry_after",
        }
    }
}

/// The window the budget is counted over.
const BUDGET_WINDOW: Duration = Duration::from_secs(60);

/// The longest pause a `Retry-After` may impose: a provider asking for a day would otherwise
/// blind the probe for that long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Admission state of one target, shared by all its checks.
#[derive(Debug)]
pub struct Gate {
    requests_per_minute: usize,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// Send times within the last window, oldest first.
    sent: VecDeque<Instant>,
    /// No request before this instant.
    paused_until: Option<Instant>,
}

impl Gate {
    /// A gate allowing `requests_per_minute` in any 60 s.
    pub fn new(requests_per_minute: u32) -> Gate {
        Gate {
            requests_per_minute: requests_per_minute as usize,
            state: Mutex::new(GateState::default()),
        }
    }

    /// Takes one request from the budget, or says why not. A sliding window, not a token
    /// bucket: no 60 s span ever sees more than the budget, bursts included.
    pub fn try_admit(&self, now: Instant) -> Result<(), SkipReason> {
        let mut state = self.state.lock().expect("gate lock poisoned");

        if state.paused_until.is_some_and(|until| now < until) {
            return Err(SkipReason::RetryAfter);
        }
        while state
            .sent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= BUDGET_WINDOW)
        {
            state.sent.pop_front();
        }
        if state.sent.len() >= self.requests_per_minute {
            return Err(SkipReason::Budget);
        }

        state.sent.push_back(now);
        Ok(())
    }

    /// When the budget next has room; discovery waits for it instead of skipping.
    pub fn next_room(&self, now: Instant) -> Instant {
        let state = self.state.lock().expect("gate lock poisoned");
        let paused = state.paused_until.filter(|&until| until > now);
        let budget = (state.sent.len() >= self.requests_per_minute)
            .then(|| state.sent.front().map(|&t| t + BUDGET_WINDOW))
            .flatten();
        paused.into_iter().chain(budget).max().unwrap_or(now)
    }

    /// Pauses the target for `delay` (capped at [`MAX_RETRY_AFTER`]).
    pub fn pause(&self, now: Instant, delay: Duration) {
        let until = now + delay.min(MAX_RETRY_AFTER);
        let mut state = self.state.lock().expect("gate lock poisoned");
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_a_sliding_window() {
        let gate = Gate::new(3);
        let start = Instant::now();

        for i in 0..3 {
            assert_eq!(gate.try_admit(start + Duration::from_secs(i)), Ok(()));
        }
        assert_eq!(
            gate.try_admit(start + Duration::from_secs(59)),
            Err(SkipReason::Budget)
        );
        assert_eq!(
            gate.next_room(start + Duration::from_secs(59)),
            start + BUDGET_WINDOW
        );
        assert_eq!(gate.try_admit(start + Duration::from_secs(60)), Ok(()));
        assert_eq!(
            gate.try_admit(start + Duration::from_secs(60)),
            Err(SkipReason::Budget)
        );
    }

    #[test]
    fn retry_after_pauses_and_is_capped() {
        let gate = Gate::new(100);
        let start = Instant::now();

        gate.pause(start, Duration::from_secs(30));
        assert_eq!(
            gate.try_admit(start + Duration::from_secs(29)),
            Err(SkipReason::RetryAfter)
        );
        assert_eq!(gate.try_admit(start + Duration::from_secs(30)), Ok(()));

        gate.pause(start, Duration::from_secs(86_400));
        assert_eq!(gate.next_room(start), start + MAX_RETRY_AFTER);
    }
}
