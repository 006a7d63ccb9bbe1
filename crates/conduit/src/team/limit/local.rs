//! The counts in memory, for one instance (SQLite): minute windows by counter name, and the
//! number of open streams by name (no expiry needed: the leases die with the process).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{rpm_over, tpm_over, Limit, Plan, Refusal, Release, WINDOW};

/// One counter's counts: the window it is in and the one before.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    start: i64,
    current: i64,
    previous: i64,
}

impl Counts {
    /// `(current, previous)` as seen from the window starting at `start`.
    fn at(&self, start: i64) -> (i64, i64) {
        if self.start == start {
            (self.current, self.previous)
        } else if self.start == start - WINDOW {
            (0, self.current)
        } else {
            (0, 0)
        }
    }

    /// Move into the window starting at `start`.
    fn roll(&mut self, start: i64) {
        if self.start != start {
            let (current, previous) = self.at(start);
            *self = Counts {
                start,
                current,
                previous,
            };
        }
    }
}

#[derive(Default)]
struct State {
    windows: HashMap<String, Counts>,
    streams: HashMap<String, i64>,
    /// The window in which idle counters were last dropped.
    pruned: i64,
}

#[derive(Default)]
pub(super) struct Local {
    state: Mutex<State>,
}

impl Local {
    /// Count `plan` if every limit admits it, else the refusal.
    pub(super) fn admit(&self, plan: &Plan) -> Option<Refusal> {
        let start = plan.window_start();
        let elapsed = plan.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.pruned != start {
            // Once a window: counters idle for two windows count nothing any more.
            state.pruned = start;
            state.windows.retain(|_, c| c.start >= start - WINDOW);
        }
        let read =
            |state: &State, name: &str| state.windows.get(name).map_or((0, 0), |c| c.at(start));
        for (i, check) in plan.checks.iter().enumerate() {
            let refuse = |limit| Some(Refusal { check: i, limit });
            let limits = check.limits;
            if let Some(rpm) = limits.rpm {
                let (current, previous) = read(&state, &check.name("rpm"));
                if rpm_over(previous, current + 1, elapsed, rpm) {
                    return refuse(Limit::Rpm);
                }
            }
            if let Some(tpm) = limits.tpm {
                let (current, previous) = read(&state, &check.name("tpm"));
                if tpm_over(previous, current, elapsed, tpm) {
                    return refuse(Limit::Tpm);
                }
            }
            if let Some(max) = limits.max_streams {
                let open = state.streams.get(&check.name("streams")).copied();
                if open.unwrap_or(0) >= max {
                    return refuse(Limit::Streams);
                }
            }
        }
        for check in &plan.checks {
            if check.limits.rpm.is_some() {
                add(&mut state, check.name("rpm"), start, 1);
            }
            if check.limits.max_streams.is_some() {
                *state.streams.entry(check.name("streams")).or_default() += 1;
            }
        }
        None
    }

    /// End an admission's leases and count its tokens.
    pub(super) fn release(&self, release: &Release) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for name in &release.streams {
            if let Some(open) = state.streams.get_mut(name) {
                *open -= 1;
                if *open <= 0 {
                    state.streams.remove(name);
                }
            }
        }
        for name in &release.tpm {
            add(&mut state, name.clone(), release.window, release.tokens);
        }
    }

    #[cfg(test)]
    pub(super) fn counters(&self) -> (Vec<String>, usize) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = state.windows.keys().cloned().collect();
        names.sort();
        (names, state.streams.len())
    }
}

fn add(state: &mut State, name: String, start: i64, n: i64) {
    let counts = state.windows.entry(name).or_default();
    if start < counts.start {
        // Late (a window already passed): the previous window still counts it.
        if start == counts.start - WINDOW {
            counts.previous += n;
        }
        return;
    }
    counts.roll(start);
    counts.current += n;
}
