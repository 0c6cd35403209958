//! Panics inside a run: the engine's one deliberate panic (the poisoned
//! commitlog) is a crash; any other is a finding.
//!
//! A process-wide panic hook keeps the expected panics quiet while a run is
//! in progress on the current thread, and remembers where the last panic
//! happened so that an unexpected one can be reported with its location.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// The prefix of the engine's poisoned-write panic (DESIGN 2.2).
pub const POISON_PREFIX: &str = faultline_engine::commitlog::POISON_PREFIX;

/// The marker of a panic the harness raises to stop a run that ran past its
/// budget (classified as a hang, not as an engine panic).
pub(crate) const BUDGET_MARKER: &str = faultline_sim::CALL_BUDGET_MARKER;

thread_local! {
    /// Whether the current thread is inside a run (panics are expected).
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic on this thread happened.
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic caught by [`catch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caught {
    /// The panic message.
    pub(crate) message: String,
    /// `file:line:column` of the panic, if the hook saw it.
    pub(crate) location: Option<String>,
}

impl Caught {
    /// Whether this is the engine's poisoned-write panic.
    pub(crate) fn is_poison(&self) -> bool {
        self.message.starts_with(POISON_PREFIX)
    }

    /// Whether this is the harness's own budget stop.
    pub(crate) fn is_budget(&self) -> bool {
        self.message.starts_with(BUDGET_MARKER)
    }
}

/// The text of a panic payload.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic with a non-string payload".to_owned())
}

/// Runs `f`, returning its panic (if any) as a value.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Caught> {
    LAST_LOCATION.with(|l| l.borrow_mut().take());
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Caught {
        message: payload_message(payload.as_ref()),
        location: LAST_LOCATION.with(|l| l.borrow_mut().take()),
    })
}

/// Runs `f` on a new OS thread (as large a stack as a main thread's) and
/// returns its result; a panic in it continues on this thread, its
/// location kept, and panics stay as quiet there as they are here.
pub(crate) fn on_fresh_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let quiet = IN_RUN.with(Cell::get);
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("faultline-run".to_owned())
            .stack_size(RUN_STACK)
            .spawn_scoped(scope, move || {
                let _quiet = quiet.then(in_run);
                LAST_LOCATION.with(|l| l.borrow_mut().take());
                let result = panic::catch_unwind(AssertUnwindSafe(f));
                result.map_err(|payload| (payload, LAST_LOCATION.with(|l| l.borrow_mut().take())))
            })
            .expect("a run's thread starts")
            .join()
            .expect("the run's panics are caught on its thread")
    });
    match outcome {
        Ok(value) => value,
        Err((payload, location)) => {
            LAST_LOCATION.with(|l| *l.borrow_mut() = location);
            panic::resume_unwind(payload)
        }
    }
}

/// The stack of a run's thread: a main thread's usual 8 MiB.
const RUN_STACK: usize = 8 << 20;

/// Marks the current thread as running a simulation until the guard drops:
/// panics on it are expected and caught, so the hook stays quiet.
pub(crate) fn in_run() -> RunGuard {
    install_hook();
    let was = IN_RUN.with(|flag| flag.replace(true));
    RunGuard { was }
}

/// See [`in_run`].
pub(crate) struct RunGuard {
    was: bool,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        IN_RUN.with(|flag| flag.set(self.was));
    }
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let location =
                info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LAST_LOCATION.with(|l| *l.borrow_mut() = location);
            if !IN_RUN.with(Cell::get) {
                default(info);
            }
        }));
    });
}
