//! Supervised cases: a sweep runs its cases in worker processes, so that
//! no case can take the sweep down with it.
//!
//! A panic is caught in-process, but an `abort`, an allocation failure, a
//! stack overflow or a loop that never yields to the simulated clock is
//! not: in-process, any of them ends the sweep and every result it held.
//! So each job of a sweep owns a worker process (the same program, its
//! `worker` subcommand, [`serve`]) and hands it one case at a time over a
//! pipe ([`wire`]). A worker that dies under a case makes that case a
//! `harness-abort` failure (with the signal or exit status and the
//! worker's last words on stderr); one that runs past the wall-time limit
//! is killed and its case is a `wall-timeout`. Either way the job starts a
//! new worker and the sweep goes on.
//!
//! A worker limits its own address space (so a runaway allocation fails in
//! it, not in the machine's OOM killer's choice of process), runs in a
//! process group of its own (a terminal's Ctrl-C reaches only the sweep,
//! which then stops cleanly), and dies with the job that started it.
//!
//! Results do not depend on isolation: a worker runs exactly the code an
//! in-process case runs, so the same case gives the same trace hash.

mod wire;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use faultline_sim::{Focus, Seed};
use parking_lot::Mutex;

use crate::outcome::{FailureKind, RunReport};
use crate::runner::{self, Backend, RunConfig, RunMode, run, run_checking_determinism};
use crate::scenario::{Registry, Scenario};
use wire::{Hello, Request, WireReport};

/// Where a sweep runs its cases.
#[derive(Clone, Debug, Default)]
pub enum Isolation {
    /// On the sweep's own threads: fastest, and what tests of the library
    /// use, but a case that aborts the process ends the sweep.
    #[default]
    InProcess,
    /// In worker processes, one per job (what `faultline run` does).
    Workers(WorkerSpec),
}

/// How to start a worker process and what it may use.
#[derive(Clone, Debug)]
pub struct WorkerSpec {
    /// The program: one whose command line serves [`serve`] (`faultline`,
    /// or a project's own binary over [`crate::cli::main`]).
    pub program: PathBuf,
    /// Its arguments (`worker` for the `faultline` command line).
    pub args: Vec<OsString>,
    /// Wall time a case may take before its worker is killed.
    pub case_timeout: Duration,
    /// Address space a worker may use, bytes (`None`: no limit).
    pub memory_limit: Option<u64>,
}

impl WorkerSpec {
    /// Workers of the running program's `worker` subcommand.
    pub fn this_program(
        case_timeout: Duration,
        memory_limit: Option<u64>,
    ) -> std::io::Result<Self> {
        Ok(WorkerSpec {
            program: std::env::current_exe()?,
            args: vec!["worker".into()],
            case_timeout,
            memory_limit,
        })
    }
}

/// Runs one job's cases, in-process or through its worker.
pub(crate) enum CaseRunner<'a> {
    /// On this thread.
    InProcess { check_determinism: bool },
    /// Through a worker process.
    Supervised(Supervised<'a>),
}

impl<'a> CaseRunner<'a> {
    /// A runner for one job of a sweep.
    pub(crate) fn new(isolation: &'a Isolation, check_determinism: bool, run: &RunConfig) -> Self {
        match isolation {
            Isolation::InProcess => CaseRunner::InProcess { check_determinism },
            Isolation::Workers(spec) => {
                CaseRunner::Supervised(Supervised::new(spec, check_determinism, run))
            }
        }
    }

    /// Runs `scenario` at `seed` with `config` (the sweep's, with the
    /// case's focus).
    pub(crate) fn run(
        &mut self,
        scenario: &Arc<dyn Scenario>,
        seed: Seed,
        config: &RunConfig,
    ) -> RunReport {
        match self {
            CaseRunner::InProcess { check_determinism } => {
                run_in_process(scenario.as_ref(), seed, config, *check_determinism)
            }
            CaseRunner::Supervised(supervised) => supervised.run(scenario, seed, config.focus),
        }
    }
}

/// One case on this thread; a panic that escapes the run is its own
/// failure.
fn run_in_process(
    scenario: &dyn Scenario,
    seed: Seed,
    config: &RunConfig,
    check_determinism: bool,
) -> RunReport {
    crate::panics::catch(|| {
        let _quiet = crate::panics::in_run();
        if check_determinism {
            run_checking_determinism(scenario, seed, config)
        } else {
            run(scenario, seed, config)
        }
    })
    .unwrap_or_else(|caught| runner::panicked_report(scenario, seed, caught))
}

/// What a worker wrote to stderr since its current case began: the first
/// and the last few lines (an abort's reason comes first, a backtrace
/// after it), for a report of its death.
#[derive(Debug, Default)]
struct LastWords {
    head: Vec<String>,
    tail: VecDeque<String>,
    skipped: usize,
}

impl LastWords {
    /// Lines kept at each end.
    const KEEP: usize = 4;

    fn push(&mut self, line: String) {
        if self.head.len() < Self::KEEP {
            self.head.push(line);
            return;
        }
        if self.tail.len() == Self::KEEP {
            self.tail.pop_front();
            self.skipped += 1;
        }
        self.tail.push_back(line);
    }

    fn text(&self) -> String {
        let lines: Vec<&str> = self.head.iter().map(String::as_str).collect();
        if lines.is_empty() {
            return String::new();
        }
        let mut text = format!("; its last words on stderr: {}", lines.join(" | "));
        if self.skipped > 0 {
            text.push_str(&format!(" | ({} lines) ", self.skipped));
        }
        for line in &self.tail {
            text.push_str(" | ");
            text.push_str(line);
        }
        text
    }
}

/// A job's worker process, started when the first case comes and again
/// after each one that died.
pub(crate) struct Supervised<'a> {
    spec: &'a WorkerSpec,
    hello: Hello,
    worker: Option<Worker>,
}

/// A running worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    /// Its stdout, a line at a time (closed when it exits).
    replies: mpsc::Receiver<String>,
    /// What its stderr said during the current case (all of it is
    /// passed on to ours).
    last_words: Arc<Mutex<LastWords>>,
    stderr_reader: JoinHandle<()>,
}

impl<'a> Supervised<'a> {
    fn new(spec: &'a WorkerSpec, check_determinism: bool, run: &RunConfig) -> Self {
        // Only what a sweep varies crosses the pipe; a worker runs the
        // rest at its defaults.
        assert!(run.mode == RunMode::Random, "a supervised sweep draws its cases");
        assert!(matches!(run.backend, Backend::Sim), "a supervised sweep simulates");
        assert!(!run.keep_trace && !run.keep_calls, "a sweep keeps no trace events or calls");
        assert!(run.script.is_none() && !run.record_script, "a sweep sends drawn workloads");
        assert!(run.focus.is_none(), "the focus is the case's, not the sweep's");
        let hello = Hello {
            check_determinism,
            sim_time_max_ns: u64::try_from(run.sim_time_max.as_nanos()).unwrap_or(u64::MAX),
            fs_calls_max: run.fs_calls_max,
            memory_limit: spec.memory_limit,
            fs_profile: run.fs_profile.map(|p| p.name().to_owned()),
        };
        Supervised { spec, hello, worker: None }
    }

    fn run(&mut self, scenario: &Arc<dyn Scenario>, seed: Seed, focus: Option<Focus>) -> RunReport {
        let pinned_profile =
            self.hello.fs_profile.as_deref().and_then(faultline_sim::FsProfile::from_name);
        let harness_failure = |kind, detail: String| {
            let mut report = runner::failure_report(scenario.as_ref(), seed, kind, detail);
            report.focus = focus;
            report.fs_profile = pinned_profile;
            report
        };
        let worker = match self.worker.take() {
            Some(worker) => worker,
            None => match Worker::start(self.spec, &self.hello) {
                Ok(worker) => worker,
                Err(e) => {
                    let detail = format!(
                        "could not start a worker process ({}): {e}",
                        self.spec.program.display()
                    );
                    return harness_failure(FailureKind::HarnessAbort, detail);
                }
            },
        };
        let request = Request {
            scenario: scenario.name().to_owned(),
            seed: seed.0,
            focus: focus.map(|f| f.to_string()),
        };
        let mut worker = worker;
        let started = Instant::now();
        let sent = worker.send(&request);
        let reply = match sent {
            Ok(()) => worker.replies.recv_timeout(self.spec.case_timeout),
            Err(_) => Err(RecvTimeoutError::Disconnected),
        };
        match reply {
            Ok(line) => {
                let parsed = serde_json::from_str::<WireReport>(&line)
                    .map_err(|e| e.to_string())
                    .and_then(|wire| wire.into_report(scenario));
                match parsed {
                    Ok(report) if report.seed == seed && report.scenario == scenario.name() => {
                        self.worker = Some(worker);
                        report
                    }
                    Ok(report) => {
                        let (status, last_words) = worker.kill();
                        let detail = format!(
                            "its worker answered another case ({} seed {}); worker {status}{}",
                            report.scenario, report.seed, last_words
                        );
                        harness_failure(FailureKind::HarnessAbort, detail)
                    }
                    Err(why) => {
                        let (status, last_words) = worker.kill();
                        let detail = format!(
                            "its worker replied with something that is not a result ({why}): \
                             {}; worker {status}{}",
                            crate::report::clip(&line, 200),
                            last_words
                        );
                        harness_failure(FailureKind::HarnessAbort, detail)
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let (_, last_words) = worker.kill();
                let detail = format!(
                    "ran past its wall-time limit of {:.0} s (a loop that never yields to the \
                     simulated clock?); its worker was killed{}",
                    self.spec.case_timeout.as_secs_f64(),
                    last_words
                );
                harness_failure(FailureKind::WallTimeout, detail)
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Its stdout closed: it has died or is dying. One that
                // closed its stdout and lives on is killed, not waited for.
                let (status, last_words) = worker.end_within(EXIT_GRACE);
                let detail = format!(
                    "its worker process died under it after {:.1} s: {status}{}",
                    started.elapsed().as_secs_f64(),
                    last_words
                );
                harness_failure(FailureKind::HarnessAbort, detail)
            }
        }
    }
}

impl Drop for Supervised<'_> {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.finish();
        }
    }
}

impl Worker {
    fn start(spec: &WorkerSpec, hello: &Hello) -> std::io::Result<Worker> {
        let mut command = Command::new(&spec.program);
        command.args(&spec.args).stdin(Stdio::piped()).stdout(Stdio::piped());
        command.stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: a terminal's Ctrl-C stops the sweep
            // (cleanly), not the cases in flight under it.
            command.process_group(0);
        }
        let mut child = command.spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("every stream was piped");
        };
        let (send, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lossy_lines(stdout) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let last_words = Arc::new(Mutex::new(LastWords::default()));
        let kept = Arc::clone(&last_words);
        let stderr_reader = std::thread::spawn(move || {
            for line in lossy_lines(stderr) {
                #[allow(clippy::print_stderr)] // its logs go where ours go.
                {
                    eprintln!("{line}");
                }
                kept.lock().push(line);
            }
        });
        let mut worker = Worker { child, stdin, replies, last_words, stderr_reader };
        let hello = serde_json::to_string(hello).expect("a hello serialises");
        if let Err(e) = writeln!(worker.stdin, "{hello}").and_then(|()| worker.stdin.flush()) {
            worker.kill();
            return Err(e);
        }
        Ok(worker)
    }

    fn send(&mut self, request: &Request) -> std::io::Result<()> {
        *self.last_words.lock() = LastWords::default();
        let line = serde_json::to_string(request).expect("a request serialises");
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()
    }

    /// Waits up to `grace` for it to exit, then kills it; how it ended
    /// and its last words.
    fn end_within(mut self, grace: Duration) -> (String, String) {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                return self.reap();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill()
    }

    /// Kills it; how it ended and its last words.
    fn kill(mut self) -> (String, String) {
        let _ = self.child.kill();
        self.reap()
    }

    /// Waits for it to end (it has, or was killed); how it ended and its
    /// last words.
    fn reap(mut self) -> (String, String) {
        let status = match self.child.wait() {
            Ok(status) => exit_text(status),
            Err(e) => format!("its status could not be read: {e}"),
        };
        drop(self.stdin);
        // stderr closes when the process is gone: every last word is in.
        let _ = self.stderr_reader.join();
        let last_words = self.last_words.lock().text();
        (status, last_words)
    }

    /// Ends an idle worker: its input closes, so it exits.
    fn finish(self) {
        let Worker { mut child, stdin, stderr_reader, .. } = self;
        drop(stdin);
        let _ = child.wait();
        let _ = stderr_reader.join();
    }
}

/// How long a worker whose stdout closed gets to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A pipe's lines, invalid UTF-8 replaced (a worker's bytes never stop the
/// reading, so it never blocks on a full pipe), until the pipe closes.
fn lossy_lines(pipe: impl std::io::Read) -> impl Iterator<Item = String> {
    BufReader::new(pipe).split(b'\n').map_while(Result::ok).map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        String::from_utf8_lossy(line).into_owned()
    })
}

/// How a process ended, in words.
fn exit_text(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map_or_else(|_| format!("signal {signal}"), |s| format!("{s} ({signal})"));
            return format!("killed by {name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "ended without a status".to_owned(),
    }
}

/// A worker's life (the `worker` subcommand): reads a [`Hello`] and then
/// one case per line from stdin, runs each as an in-process sweep would,
/// and writes its result as one line to stdout; returns when stdin closes.
///
/// # Errors
///
/// A line that is not a request, or a scenario `registry` does not have:
/// the worker's caller (the sweep) sees it die and reports the case.
pub fn serve(registry: &Registry) -> Result<(), String> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let hello: Hello = match lines.next() {
        Some(line) => {
            let line = line.map_err(|e| format!("reading stdin: {e}"))?;
            serde_json::from_str(&line).map_err(|e| format!("bad hello {line:?}: {e}"))?
        }
        None => return Ok(()),
    };
    limit_self(&hello)?;
    let base = hello.run_config()?;
    let mut stdout = protocol_out()?;
    for line in lines {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let request: Request =
            serde_json::from_str(&line).map_err(|e| format!("bad request {line:?}: {e}"))?;
        let scenario = registry
            .get(&request.scenario)
            .ok_or_else(|| format!("unknown scenario {:?}", request.scenario))?;
        let config = RunConfig { focus: request.focus()?, ..base.clone() };
        let report =
            run_in_process(scenario.as_ref(), Seed(request.seed), &config, hello.check_determinism);
        let reply = serde_json::to_string(&WireReport::of(&report)).expect("a report serialises");
        writeln!(stdout, "{reply}")
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("writing stdout: {e}"))?;
    }
    Ok(())
}

/// Where a worker's replies go: a private copy of its stdout, with fd 1
/// pointed at stderr, so that a scenario's own `println!` goes to the logs
/// instead of into the protocol.
fn protocol_out() -> Result<Box<dyn Write>, String> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let stdout = std::io::stdout();
        let private =
            stdout.as_fd().try_clone_to_owned().map_err(|e| format!("dup stdout: {e}"))?;
        nix::unistd::dup2_stdout(std::io::stderr())
            .map_err(|e| format!("stdout to stderr: {e}"))?;
        Ok(Box::new(std::io::LineWriter::new(std::fs::File::from(private))))
    }
    #[cfg(not(unix))]
    Ok(Box::new(std::io::stdout()))
}

/// A worker's limits on itself: its address space, and its death with the
/// thread that started it.
fn limit_self(hello: &Hello) -> Result<(), String> {
    #[cfg(unix)]
    if let Some(bytes) = hello.memory_limit {
        use nix::sys::resource::{Resource, setrlimit};
        setrlimit(Resource::RLIMIT_AS, bytes, bytes)
            .map_err(|e| format!("cannot limit the worker's memory to {bytes} bytes: {e}"))?;
    }
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| format!("cannot tie the worker's life to the sweep's: {e}"))?;
    Ok(())
}
