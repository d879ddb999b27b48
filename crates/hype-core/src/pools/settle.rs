//! Waiting for a pool's template to go quiet before it is saved. A browser
//! guest that has just answered CDP still has seconds of work queued (its
//! start-up's deferred tasks, the page cache, the kernel's own); saved then,
//! every fork of it would do that work again, each in a VMM whose code cache
//! (under TCG) starts empty. Measured under TCG: forks of a template saved
//! at once took 3x the CPU of forks of the same template saved quiet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Quiet: the VMM's threads ran or waited to run for at most `SHARE` of
/// one core over the last `WINDOW`. Waiting counts: a template is in the
/// pool's CPU-idle cgroup, and on a loaded host a busy one is starved
/// rather than idle.
const WINDOW: Duration = Duration::from_secs(1);
/// An idle browser guest under TCG takes 1-6 % of a core (its timers, the
/// agent); one still starting takes all it can get.
const SHARE: f64 = 0.10;
const SAMPLE: Duration = Duration::from_millis(250);
/// Past this the template is saved as it is: a guest that never settles
/// (a page with a busy loop) must not stop the pool from filling.
const LONGEST: Duration = Duration::from_secs(60);

/// Samples of one process's runnable time, oldest first, over about
/// `WINDOW`.
#[derive(Default)]
pub(super) struct Quiet {
    samples: VecDeque<(Instant, Duration)>,
}

impl Quiet {
    /// Adds a sample (when, runnable time so far) and says whether the
    /// last `WINDOW` was quiet. Needs a full window of samples first.
    pub(super) fn push(&mut self, at: Instant, busy: Duration) -> bool {
        self.samples.push_back((at, busy));
        while self
            .samples
            .get(1)
            .is_some_and(|&(t, _)| at.duration_since(t) >= WINDOW)
        {
            self.samples.pop_front();
        }
        let (t0, c0) = self.samples[0];
        let span = at.duration_since(t0);
        span >= WINDOW && busy.saturating_sub(c0).as_secs_f64() <= SHARE * span.as_secs_f64()
    }
}

/// Waits until `vm`'s VMM (`pid`) is quiet, for `LONGEST` at most. A
/// VMM that is gone (or cannot be read) ends the wait: saving it will
/// say why.
pub(super) async fn settle(vm: &str, pid: Option<u32>) {
    let Some(pid) = pid else {
        return;
    };
    let started = Instant::now();
    let mut quiet = Quiet::default();
    loop {
        let Some(busy) = hype_vmm::process::runnable_time(pid) else {
            return;
        };
        if quiet.push(Instant::now(), busy) {
            tracing::info!(
                vm,
                waited_ms = started.elapsed().as_millis() as u64,
                "template quiet"
            );
            return;
        }
        if started.elapsed() >= LONGEST {
            tracing::warn!(
                vm,
                "template still busy after {} s; saved as it is",
                LONGEST.as_secs()
            );
            return;
        }
        tokio::time::sleep(SAMPLE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quiet_only_after_a_full_window_under_the_share() {
        let t = Instant::now();
        let mut q = Quiet::default();
        // Busy: a whole core, sampled every 250 ms.
        for i in 0..=8 {
            assert!(!q.push(t + ms(250 * i), ms(250 * i)), "busy at sample {i}");
        }
        // Then 2 % of a core: quiet once a whole window has passed.
        let busy = ms(2000);
        assert!(!q.push(t + ms(2250), busy + ms(5)));
        assert!(!q.push(t + ms(2500), busy + ms(10)));
        assert!(!q.push(t + ms(2750), busy + ms(15)));
        assert!(q.push(t + ms(3000), busy + ms(20)));
        // A burst within the window ends the quiet.
        assert!(!q.push(t + ms(3250), busy + ms(200)));
    }

    #[test]
    fn one_sample_is_not_a_window() {
        let mut q = Quiet::default();
        assert!(!q.push(Instant::now(), ms(0)));
    }
}
