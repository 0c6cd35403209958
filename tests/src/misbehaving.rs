//! A test-only scenario whose cases misbehave the ways that take a process
//! down (`std::process::abort`, an allocation failure, a stack overflow) or
//! never finish (a loop that never yields to the simulated clock), each on
//! its own seeds, so that a sweep's supervision is shown to survive them.
//! The misbehaviour happens inside the run, in a check the plan brings (as
//! a bug in the engine or in a user's check would), at the run's first
//! event. Every other seed is an ordinary, passing case.

use faultline_scenarios::{
    Checker, Facts, Plan, PlanError, RunEvent, Scenario, Violation, WorkloadShape,
};
use faultline_sim::Seed;

/// The scenario's name.
pub const NAME: &str = "selftest_misbehaving";

/// How a case of [`Misbehaving`] misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// None: an ordinary case.
    None,
    /// `std::process::abort()`.
    Abort,
    /// A loop that never yields to the simulated clock (or returns).
    Spin,
    /// An allocation larger than a worker's memory limit.
    HugeAllocation,
    /// Unbounded recursion.
    StackOverflow,
    /// An ordinary, passing case that writes to stdout and writes bytes
    /// that are not UTF-8 to stderr, as a user's debugging would.
    Chatty,
}

impl Misbehaviour {
    /// How the case at `seed` misbehaves: by `seed % 16`, 3 aborts, 5
    /// spins, 7 allocates too much, 9 overflows its stack, 11 chatters
    /// (and passes).
    pub fn of(seed: Seed) -> Misbehaviour {
        match seed.0 % 16 {
            3 => Misbehaviour::Abort,
            5 => Misbehaviour::Spin,
            7 => Misbehaviour::HugeAllocation,
            9 => Misbehaviour::StackOverflow,
            11 => Misbehaviour::Chatty,
            _ => Misbehaviour::None,
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Misbehaving;

impl Scenario for Misbehaving {
    fn name(&self) -> &str {
        NAME
    }

    fn summary(&self) -> &str {
        "test only: cases that abort, spin, allocate too much or overflow their stack"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let how = Misbehaviour::of(seed);
        let workload = WorkloadShape { clients: 1, txs_per_client: 4, ..WorkloadShape::default() };
        Plan::builder(seed)
            .workload(workload)
            .check("misbehave", move || Box::new(Misbehave { how, spoke: false }))
            .build()
    }
}

struct Misbehave {
    how: Misbehaviour,
    spoke: bool,
}

impl Checker for Misbehave {
    fn name(&self) -> &str {
        "misbehave"
    }

    fn observe(&mut self, _event: &RunEvent<'_>, _facts: &Facts<'_>) -> Result<(), Violation> {
        match self.how {
            Misbehaviour::None => {}
            Misbehaviour::Abort => std::process::abort(),
            Misbehaviour::Spin => {
                #[allow(clippy::empty_loop)] // the point: it never yields.
                loop {
                    std::hint::spin_loop();
                }
            }
            Misbehaviour::HugeAllocation => {
                let huge: Vec<u8> = Vec::with_capacity(HUGE);
                std::hint::black_box(huge);
            }
            Misbehaviour::StackOverflow => {
                std::hint::black_box(recurse(std::hint::black_box(0)));
            }
            Misbehaviour::Chatty if !self.spoke => {
                use std::io::Write;
                self.spoke = true;
                #[allow(clippy::print_stdout)] // the point: stdout is not the protocol.
                {
                    println!("a scenario's own line on stdout, not a result");
                }
                let _ = std::io::stderr().write_all(b"not utf-8: \xff\xfe\n");
            }
            Misbehaviour::Chatty => {}
        }
        Ok(())
    }
}

/// More than a worker's default memory limit (4 GiB), less than the
/// address space, so only the limit makes it fail.
const HUGE: usize = 64 << 30;

#[allow(unconditional_recursion)] // the point: it never ends.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1).wrapping_add(frame[0])
}
