//! The simulated runtime a run executes on: deterministic task scheduling
//! and simulated time.
//!
//! With `--cfg madsim` (the workspace sets it in `.cargo/config.toml`) this
//! is madsim's runtime: one seed fixes the order in which ready tasks run
//! and every timer, and a `sleep` costs no wall time. Without the cfg (an
//! environment `RUSTFLAGS` that drops it) madsim is a thin layer over tokio,
//! and the runner falls back to a current-thread tokio runtime with a paused
//! clock: still single-threaded and free of wall time, but its schedule is
//! tokio's FIFO rather than a seeded choice, so trace hashes differ between
//! the two builds.

use std::future::Future;
use std::time::Duration;

/// Why [`block_on`] did not return the future's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RuntimeStop {
    /// The simulated-time budget ran out.
    TimeLimit(String),
    /// Every task waits and no timer is pending: a deadlock.
    Deadlock(String),
}

/// Runs `future` to completion on a fresh simulated runtime seeded with
/// `seed`, giving up once `time_limit` of simulated time has passed.
///
/// A panic that escapes the future's tasks propagates to the caller, except
/// the runtime's own time-limit and deadlock panics, which are returned.
pub(crate) fn block_on<F: Future>(
    seed: u64,
    time_limit: Duration,
    future: F,
) -> Result<F::Output, RuntimeStop> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        block_on_inner(seed, time_limit, future)
    }));
    match result {
        Ok(output) => Ok(output),
        Err(payload) => {
            let message = crate::panics::payload_message(payload.as_ref());
            if message.contains("time limit exceeded") {
                Err(RuntimeStop::TimeLimit(message))
            } else if message.contains("all tasks will block forever") {
                Err(RuntimeStop::Deadlock(message))
            } else {
                std::panic::resume_unwind(payload)
            }
        }
    }
}

#[cfg(madsim)]
fn block_on_inner<F: Future>(seed: u64, time_limit: Duration, future: F) -> F::Output {
    let mut runtime =
        madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.set_time_limit(time_limit);
    runtime.block_on(future)
}

#[cfg(not(madsim))]
fn block_on_inner<F: Future>(_seed: u64, time_limit: Duration, future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    let local = tokio::task::LocalSet::new();
    let output = local.block_on(&runtime, async move {
        START.with(|start| start.set(Some(tokio::time::Instant::now())));
        match tokio::time::timeout(time_limit, future).await {
            Ok(output) => output,
            Err(_) => panic!("time limit exceeded: {time_limit:?}"),
        }
    });
    START.with(|start| start.set(None));
    output
}

/// Sleeps for `duration` of simulated time.
pub(crate) async fn sleep(duration: Duration) {
    #[cfg(madsim)]
    madsim::time::sleep(duration).await;
    #[cfg(not(madsim))]
    tokio::time::sleep(duration).await;
}

/// Simulated time since the current runtime started; `None` outside a
/// runtime.
pub(crate) fn elapsed() -> Option<Duration> {
    #[cfg(madsim)]
    return madsim::time::TimeHandle::try_current().map(|handle| handle.elapsed());
    #[cfg(not(madsim))]
    return START.with(|start| start.get()).map(|start| tokio::time::Instant::now() - start);
}

#[cfg(not(madsim))]
thread_local! {
    /// When the current fallback runtime started.
    static START: std::cell::Cell<Option<tokio::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// A spawned task.
pub(crate) struct Task<T> {
    #[cfg(madsim)]
    handle: madsim::task::JoinHandle<T>,
    #[cfg(not(madsim))]
    handle: tokio::task::JoinHandle<T>,
}

/// Spawns `future` as a task on the current (single-threaded) runtime.
pub(crate) fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[cfg(madsim)]
    return Task { handle: madsim::task::spawn_local(future) };
    #[cfg(not(madsim))]
    return Task { handle: tokio::task::spawn_local(future) };
}

impl<T> Task<T> {
    /// Waits for the task to end; `None` if it was aborted.
    pub(crate) async fn join(self) -> Option<T> {
        self.handle.await.ok()
    }

    /// Stops the task at its next await point.
    pub(crate) fn abort(&self) {
        self.handle.abort();
    }
}
