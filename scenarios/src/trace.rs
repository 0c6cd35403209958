//! The trace of a run: every workload step, fault, crash and recovery, in
//! order, with its simulated time; and its hash.
//!
//! The hash mixes every event (time and text) and, at the end, the
//! simulated filesystem's own hash of every operation it served, so two
//! runs with the same hash did the same things in the same order. It uses
//! the sim crate's FNV-1a, which is fixed by definition: a hash printed by a
//! sweep on one machine is the hash `faultline replay` prints on another.

use std::fmt;

use faultline_sim::TraceHasher;

/// One event of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// Simulated nanoseconds since the run started.
    pub at_ns: u64,
    /// What happened, `kind key=value ...`.
    pub text: String,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>10.3}ms {}", self.at_ns as f64 / 1e6, self.text)
    }
}

/// The events of a run and their running hash.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    events: Vec<TraceEvent>,
    hasher: TraceHasher,
    n_events: u64,
    keep: bool,
}

/// The first event at which two traces differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Its index (0-based).
    pub index: usize,
    /// The first run's event there (`None`: the trace ended).
    pub first: Option<TraceEvent>,
    /// The second run's event there.
    pub second: Option<TraceEvent>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |event: &Option<TraceEvent>| match event {
            Some(event) => event.to_string(),
            None => "<end of trace>".to_owned(),
        };
        write!(
            f,
            "first differing event #{}: run 1: {} | run 2: {}",
            self.index,
            show(&self.first),
            show(&self.second)
        )
    }
}

impl Trace {
    /// A trace that keeps its events (`keep`) or only their hash.
    pub fn new(keep: bool) -> Self {
        Trace { keep, ..Trace::default() }
    }

    /// Appends an event.
    pub fn push(&mut self, at_ns: u64, text: String) {
        self.hasher.u64(at_ns);
        self.hasher.str(&text);
        self.n_events += 1;
        tracing::trace!(target: "faultline::trace", at_ns, "{text}");
        if self.keep {
            self.events.push(TraceEvent { at_ns, text });
        }
    }

    /// Appends an event whose text costs more to write than its content
    /// costs to hash (a commit and its operations): `content` feeds the
    /// hash everything that identifies the event, and `text` is written
    /// only if the trace keeps its events or a `tracing` subscriber
    /// listens. The hash is the same either way.
    pub fn push_hashed(
        &mut self,
        at_ns: u64,
        content: impl FnOnce(&mut TraceHasher),
        text: impl FnOnce() -> String,
    ) {
        self.hasher.u64(at_ns);
        content(&mut self.hasher);
        self.n_events += 1;
        let traced = tracing::enabled!(target: "faultline::trace", tracing::Level::TRACE);
        if self.keep || traced {
            let text = text();
            tracing::trace!(target: "faultline::trace", at_ns, "{text}");
            if self.keep {
                self.events.push(TraceEvent { at_ns, text });
            }
        }
    }

    /// The events kept (empty unless the trace keeps them).
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// How many events were pushed.
    pub fn len(&self) -> u64 {
        self.n_events
    }

    /// Whether no event was pushed.
    pub fn is_empty(&self) -> bool {
        self.n_events == 0
    }

    /// The trace hash, given the filesystem's hash of its operations.
    pub fn hash(&self, fs_trace_hash: u64) -> u64 {
        let mut hasher = self.hasher;
        hasher.u64(fs_trace_hash);
        hasher.finish()
    }

    /// The first event at which `self` and `other` differ, if any.
    pub fn first_difference(&self, other: &Trace) -> Option<Divergence> {
        let n = self.events.len().max(other.events.len());
        (0..n).find(|&i| self.events.get(i) != other.events.get(i)).map(|index| Divergence {
            index,
            first: self.events.get(index).cloned(),
            second: other.events.get(index).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_events_same_hash_and_the_first_difference_is_named() {
        let mut a = Trace::new(true);
        let mut b = Trace::new(true);
        for trace in [&mut a, &mut b] {
            trace.push(1, "open".into());
            trace.push(2, "commit offset=1".into());
        }
        assert_eq!(a.hash(7), b.hash(7));
        assert_ne!(a.hash(7), a.hash(8), "the filesystem's hash counts");
        assert_eq!(a.first_difference(&b), None);
        b.push(3, "crash".into());
        let divergence = a.first_difference(&b).unwrap();
        assert_eq!(divergence.index, 2);
        assert_eq!(divergence.first, None);
        assert!(divergence.to_string().contains("<end of trace>"));
        let hashed_only = {
            let mut t = Trace::new(false);
            t.push(1, "open".into());
            t.push(2, "commit offset=1".into());
            t
        };
        assert_eq!(hashed_only.hash(7), a.hash(7), "keeping events does not change the hash");
        assert!(hashed_only.events().is_empty());
    }
}
