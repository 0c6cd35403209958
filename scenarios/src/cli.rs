//! The `faultline` command line: run, replay, shrink and exhaust the
//! simulation scenarios of a [`Registry`].
//!
//! Exit status: 0 when everything passed, 1 when something failed, 2 on
//! bad usage; a sweep stopped by SIGINT or SIGTERM writes what it finished
//! (marked partial) and exits 130 or 143. `RUST_LOG` (e.g. `RUST_LOG=faultline=trace`) turns on logs
//! on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a CLI prints.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::{Duration, Instant};

use crate::{
    Directed, Isolation, Registry, RunConfig, RunMode, RunReport, Scenario, Schedule, Shard,
    SweepConfig, WorkerSpec, corpus, exhaust, exhaust_strikes, report, run,
    run_checking_determinism, shrink, sweep,
};
use clap::{Parser, Subcommand, ValueEnum};
use faultline_sim::{CrashMode, Focus, FsProfile, Seed};
use indicatif::{ProgressBar, ProgressStyle};

/// Deterministic simulation testing for faultline's storage engine.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the scenarios.
    List,
    /// Sweep scenarios over seeds.
    Run(RunArgs),
    /// Run one scenario at one seed and print its trace hash.
    Replay(ReplayArgs),
    /// Minimise the fault schedule of a failing seed.
    Shrink(ShrinkArgs),
    /// Crash a bounded workload at every crash point, or (--strikes) strike
    /// every site with every fault class and crash mode.
    Exhaust(ExhaustArgs),
    /// A sweep's worker process: cases in on stdin, results out on stdout
    /// (started by `run`, not by hand).
    #[command(hide = true)]
    Worker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenarios: comma-separated names or parts of names; `all` for every one.
    #[arg(long, short, default_value = "all")]
    scenario: String,
    /// How many seeds per scenario (seeds FIRST, FIRST+1, ...). Default: 32,
    /// or without end when --time is given.
    #[arg(long, conflicts_with = "seed")]
    seeds: Option<u64>,
    /// Run exactly these seeds (hex `0x...` or decimal; repeatable).
    #[arg(long, value_parser = parse_seed)]
    seed: Vec<Seed>,
    /// The first seed of --seeds: a number, or `random` (drawn and printed).
    #[arg(long, default_value = "0")]
    first_seed: String,
    /// Stop starting new cases after this many seconds of wall time.
    #[arg(long)]
    time: Option<f64>,
    /// OS threads, each running whole cases. Default: the number of cores.
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Run only shard K of N (1-based): `--shard 2/8`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Output format of the results (progress and failures go to stderr
    /// for json and junit).
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the json/junit results to this file instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Run every case twice and report any divergence of the traces.
    #[arg(long)]
    check_determinism: bool,
    /// Append failing cases to this regression corpus (one per scenario
    /// and failure kind not already open there). Without it, nothing is
    /// written but the results.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Print one line per case (outcome and trace hash).
    #[arg(long, short)]
    verbose: bool,
    /// Print the first N failures in full as they come; the rest are
    /// counted in the groups printed at the end (the json and junit hold
    /// every one).
    #[arg(long, default_value_t = 10)]
    show: u64,
    /// Fail (after writing the results) if a scenario's must-reach
    /// situation was never reached: the nightly sweep's check.
    #[arg(long)]
    must_reach: bool,
    /// Directed search: aim half the cases of `swarm` (or of `all`
    /// scenarios, or `off`) at (site, strike) pairs not reached yet.
    #[arg(long, default_value = "swarm", value_parser = parse_directed)]
    directed: Directed,
    /// Run the cases on the sweep's own threads instead of supervised
    /// worker processes: a little faster, and simpler to profile, but one
    /// case that aborts the process ends the sweep and loses its results.
    #[arg(long)]
    in_process: bool,
    /// Wall seconds a case may run before its worker is killed and the
    /// case reported as `wall-timeout`.
    #[arg(long, default_value_t = 120.0)]
    case_timeout: f64,
    /// Address space each worker process may use, MiB (an allocation past
    /// it fails the case as `harness-abort`); 0: no limit.
    #[arg(long, default_value_t = 4096)]
    worker_memory: u64,
    /// The filesystem profile a failed fsync behaves like (ext4-ordered,
    /// ext4-journal, xfs, btrfs, freebsd), for every case; `all`: each
    /// case's own, drawn from its seed (swarm draws it from its mix).
    #[arg(long, default_value = "all", value_parser = parse_profile_choice)]
    fs_profile: ProfileChoice,
    /// Write the HTML timeline of each failing case into this directory
    /// (`<scenario>-<seed>.html`, the case replayed after the sweep); the
    /// json and junit failure entries name the file.
    #[arg(long)]
    html_dir: Option<PathBuf>,
    /// The most timelines --html-dir writes (the first failures, in
    /// scenario and seed order); the rest are counted.
    #[arg(long, default_value_t = 50)]
    html_max: usize,
}

/// `--fs-profile` of a sweep.
#[derive(Clone, Copy, Debug)]
enum ProfileChoice {
    All,
    One(FsProfile),
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// The scenario.
    #[arg(long, short, required_unless_present = "case")]
    scenario: Option<String>,
    /// The seed (hex `0x...` or decimal).
    #[arg(long, value_parser = parse_seed, required_unless_present = "case")]
    seed: Option<Seed>,
    /// Replay a regression case (as `faultline shrink --emit` writes it):
    /// its plan from its seed, its schedule pinned, its workload sent.
    #[arg(long, conflicts_with_all = ["scenario", "seed", "schedule", "crash_at", "strike_at", "clean", "focus", "fs_profile"])]
    case: Option<PathBuf>,
    /// Print the plan (every parameter the seed drew) and the whole trace.
    #[arg(long)]
    trace: bool,
    /// Print every filesystem call the run made, numbered as a schedule
    /// keys them (`c<call>:...`).
    #[arg(long)]
    calls: bool,
    /// Replay this fault schedule (as `faultline shrink` prints it) instead
    /// of drawing faults and crashes from the seed.
    #[arg(long, value_parser = parse_schedule)]
    schedule: Option<Schedule>,
    /// Print the fault schedule the run made.
    #[arg(long)]
    show_schedule: bool,
    /// Run as `faultline exhaust` does (its repro lines say so): the
    /// workload without faults or crashes, in one incarnation.
    #[arg(long, conflicts_with_all = ["schedule", "crash_at", "strike_at"])]
    clean: bool,
    /// As `faultline exhaust`: crash just before mutation N, in MODE
    /// (`N:power-loss` or `N:process-crash`).
    #[arg(long, value_parser = parse_crash_at, conflicts_with_all = ["schedule", "strike_at"])]
    crash_at: Option<(u64, CrashMode)>,
    /// As `faultline exhaust --strikes`: exactly this schedule, aimed at
    /// the calls of the clean run.
    #[arg(long, value_parser = parse_schedule, conflicts_with = "schedule")]
    strike_at: Option<Schedule>,
    /// The strike directed search aimed at a site (`site=strike#nth`, as
    /// a failure's repro line names it).
    #[arg(long, value_parser = parse_focus)]
    focus: Option<Focus>,
    /// Run on this filesystem profile instead of the one the seed draws
    /// (as a failure's repro line names it).
    #[arg(long, value_parser = parse_profile)]
    fs_profile: Option<FsProfile>,
    /// Run twice and compare the traces.
    #[arg(long)]
    check_determinism: bool,
    /// Write the run's timeline to this file: one self-contained HTML page
    /// (every call, fault, crash, recovery, commit and acknowledgement on
    /// a simulated-time axis; the first broken invariant highlighted).
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ShrinkArgs {
    /// The scenario.
    #[arg(long, short)]
    scenario: String,
    /// The failing seed.
    #[arg(long, value_parser = parse_seed)]
    seed: Seed,
    /// The most runs to spend.
    #[arg(long, default_value_t = 400)]
    runs_max: usize,
    /// The case's focus, if its repro line names one.
    #[arg(long, value_parser = parse_focus)]
    focus: Option<Focus>,
    /// The case's filesystem profile, if its repro line names one.
    #[arg(long, value_parser = parse_profile)]
    fs_profile: Option<FsProfile>,
    /// Write the minimal case as a regression case (`<scenario>-<seed>.case`)
    /// into this directory: `tests/regressions/cases` makes `cargo test`
    /// replay it.
    #[arg(long)]
    emit: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    PowerLoss,
    ProcessCrash,
    Both,
}

#[derive(Debug, clap::Args)]
struct ExhaustArgs {
    /// The scenario whose workload is crashed at every point.
    #[arg(long, short)]
    scenario: String,
    /// The seed that draws the workload.
    #[arg(long, value_parser = parse_seed, default_value = "0")]
    seed: Seed,
    /// How the machine goes down at each point.
    #[arg(long, value_enum, default_value = "power-loss")]
    mode: ModeArg,
    /// Instead of every crash point: every fault class and crash mode at
    /// every site the workload calls (its first call there).
    #[arg(long)]
    strikes: bool,
    /// OS threads. Default: the number of cores.
    #[arg(long, short)]
    jobs: Option<usize>,
}

fn parse_seed(text: &str) -> Result<Seed, String> {
    text.parse::<Seed>().map_err(|e| format!("bad seed {text:?} (hex 0x... or decimal): {e}"))
}

fn parse_crash_at(text: &str) -> Result<(u64, CrashMode), String> {
    let bad = || format!("bad crash point {text:?}: expected N:power-loss or N:process-crash");
    let (n, mode) = text.split_once(':').ok_or_else(bad)?;
    let n = n.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(bad)?;
    let mode = match mode {
        "power-loss" => CrashMode::PowerLoss,
        "process-crash" => CrashMode::ProcessCrash,
        _ => return Err(bad()),
    };
    Ok((n, mode))
}

fn parse_directed(text: &str) -> Result<Directed, String> {
    text.parse()
}

fn parse_focus(text: &str) -> Result<Focus, String> {
    text.parse()
}

fn parse_profile(text: &str) -> Result<FsProfile, String> {
    FsProfile::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = FsProfile::ALL.iter().map(|p| p.name()).collect();
        format!("unknown filesystem profile {text:?}: one of {}", names.join(", "))
    })
}

fn parse_profile_choice(text: &str) -> Result<ProfileChoice, String> {
    match text {
        "all" => Ok(ProfileChoice::All),
        name => parse_profile(name).map(ProfileChoice::One).map_err(|e| format!("{e}, or all")),
    }
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
}

fn parse_schedule(text: &str) -> Result<Schedule, String> {
    if text.trim().is_empty() {
        // An empty schedule pins no fault at all: a replay that looks like
        // one but tests nothing. `none` says so on purpose.
        return Err(
            "an empty schedule pins no decision (write `none` to pin none on purpose)".to_owned()
        );
    }
    if text.trim() == "none" {
        return Ok(Schedule::default());
    }
    text.parse()
}

/// A usage error found after parsing: exit 2.
struct Usage(String);

/// The `faultline` command line over `registry`: the built-in binary passes
/// [`Registry::builtin`]; a project that adds scenarios of its own gets the
/// whole CLI (sweeps in worker processes included) with a three-line
/// binary that passes its own registry.
pub fn main(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::List => {
            list(&registry);
            Ok(true)
        }
        Command::Run(args) => match run_sweep(&registry, args) {
            Ok(Ended::Interrupted(signal)) => return ExitCode::from(128 + signal),
            Ok(Ended::Done(passed)) => Ok(passed),
            Err(usage) => Err(usage),
        },
        Command::Replay(args) => replay(&registry, args),
        Command::Shrink(args) => shrink_seed(&registry, args),
        Command::Exhaust(args) => exhaust_points(&registry, args),
        Command::Worker => match crate::supervise::serve(&registry) {
            Ok(()) => Ok(true),
            Err(why) => {
                eprintln!("faultline worker: {why}");
                return ExitCode::from(3);
            }
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    // No colour codes in a log written to a file or a pipe.
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

fn list(registry: &Registry) {
    for scenario in registry.all() {
        println!("{:<24} {}", scenario.name(), scenario.summary());
    }
}

fn scenario(registry: &Registry, name: &str) -> Result<std::sync::Arc<dyn Scenario>, Usage> {
    registry.get(name).ok_or_else(|| {
        let names: Vec<&str> = registry.all().iter().map(|s| s.name()).collect();
        Usage(format!("unknown scenario {name:?}; one of: {}", names.join(", ")))
    })
}

fn jobs(jobs: Option<usize>) -> Result<usize, Usage> {
    match jobs {
        Some(0) => Err(Usage("--jobs must be at least 1".to_owned())),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cases, {msg} ({per_sec}, eta {eta})",
    )
    .expect("a valid template");
    bar.set_style(style);
    bar
}

/// How a sweep ended.
enum Ended {
    /// It ran out of cases or time: whether everything passed.
    Done(bool),
    /// A signal (its number) stopped it; what it finished was written.
    Interrupted(u8),
}

/// Stops the sweep cleanly on SIGINT and SIGTERM: the flag it returns
/// holds the signal's number once one came, and the sweep stops starting
/// cases. A second signal ends the process at once.
fn stop_on_signals() -> Result<Arc<AtomicUsize>, Usage> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicUsize::new(0));
    let again = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        let register = || -> std::io::Result<()> {
            let code = 128 + signal;
            signal_hook::flag::register_conditional_shutdown(signal, code, Arc::clone(&again))?;
            signal_hook::flag::register(signal, Arc::clone(&again))?;
            signal_hook::flag::register_usize(signal, Arc::clone(&stop), signal as usize)?;
            Ok(())
        };
        register().map_err(|e| Usage(format!("cannot handle signal {signal}: {e}")))?;
    }
    Ok(stop)
}

fn signal_name(signal: usize) -> String {
    match signal as i32 {
        signal_hook::consts::SIGINT => "SIGINT".to_owned(),
        signal_hook::consts::SIGTERM => "SIGTERM".to_owned(),
        other => format!("signal {other}"),
    }
}

/// Checks, before any case runs, that the results can be written where
/// asked, and empties that file: a sweep that cannot write its results
/// must not run first, and old results must not pass for new ones.
fn check_output(path: &std::path::Path) -> Result<(), Usage> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir
        && !dir.is_dir()
    {
        return Err(Usage(format!("--output {}: no directory {}", path.display(), dir.display())));
    }
    std::fs::File::create(path)
        .map(drop)
        .map_err(|e| Usage(format!("--output {}: cannot write: {e}", path.display())))
}

/// How often a sweep without a terminal prints a status line.
const STATUS_EVERY: Duration = Duration::from_secs(30);

fn run_sweep(registry: &Registry, args: RunArgs) -> Result<Ended, Usage> {
    let scenarios = registry.select(&args.scenario).map_err(Usage)?;
    let first_seed = match args.first_seed.as_str() {
        "random" => {
            let seed = rand::random::<u64>();
            eprintln!("first seed: {}", Seed(seed));
            seed
        }
        text => parse_seed(text).map_err(Usage)?.0,
    };
    let seed_count = match (args.seeds, args.time, args.seed.is_empty()) {
        (Some(0), _, _) => return Err(Usage("--seeds must be at least 1".to_owned())),
        (Some(n), _, _) => Some(n),
        (None, Some(_), true) => None,
        (None, _, _) => Some(32),
    };
    if args.time.is_some_and(|t| !(t > 0.0 && t.is_finite())) {
        return Err(Usage("--time must be a positive number of seconds".to_owned()));
    }
    if let Some(count) = seed_count.filter(|_| args.seed.is_empty())
        && first_seed.checked_add(count - 1).is_none()
    {
        return Err(Usage(format!(
            "--first-seed {} --seeds {count} would wrap past {}",
            Seed(first_seed),
            Seed(u64::MAX)
        )));
    }
    if let Some(path) = &args.output {
        check_output(path)?;
    }
    if let Some(dir) = &args.html_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| Usage(format!("--html-dir {}: cannot create: {e}", dir.display())))?;
    }
    let shard = args.shard.unwrap_or(Shard::ALL);
    let cases = crate::cases(scenarios, args.seed.clone(), first_seed, seed_count, shard);
    if !(args.case_timeout > 0.0 && args.case_timeout.is_finite()) {
        return Err(Usage("--case-timeout must be a positive number of seconds".to_owned()));
    }
    let isolation = if args.in_process {
        Isolation::InProcess
    } else {
        let memory = match args.worker_memory {
            0 => None,
            mib => Some(mib.checked_mul(1 << 20).ok_or_else(|| {
                Usage(format!("--worker-memory {mib}: more MiB than an address space has"))
            })?),
        };
        let timeout = Duration::from_secs_f64(args.case_timeout);
        let spec = WorkerSpec::this_program(timeout, memory)
            .map_err(|e| Usage(format!("cannot find this program to start workers: {e}")))?;
        Isolation::Workers(spec)
    };
    let config = SweepConfig {
        jobs: jobs(args.jobs)?,
        time_budget: args.time.map(Duration::from_secs_f64),
        check_determinism: args.check_determinism,
        run: RunConfig {
            fs_profile: match args.fs_profile {
                ProfileChoice::All => None,
                ProfileChoice::One(profile) => Some(profile),
            },
            ..RunConfig::default()
        },
        directed: args.directed,
        stop: Some(stop_on_signals()?),
        isolation,
    };
    let bar = progress_bar(cases.len());
    let mut failed = 0u64;
    let (verbose, show) = (args.verbose, args.show);
    let (started, terminal) = (Instant::now(), std::io::stderr().is_terminal());
    let (mut done, mut status_at) = (0u64, STATUS_EVERY);
    let mut result = sweep(&cases, &config, &mut |report: &RunReport| {
        bar.inc(1);
        done += 1;
        if !terminal && started.elapsed() >= status_at {
            status_at += STATUS_EVERY;
            eprintln!(
                "faultline run: {done} cases, {failed} failed, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        if report.outcome.is_failure() {
            failed += 1;
            if failed <= show {
                bar.suspend(|| eprint!("{}", report::failure_text(report)));
            } else if failed == show + 1 {
                bar.suspend(|| {
                    eprintln!(
                        "(more failures: not printed in full past --show {show}; grouped at the end)"
                    );
                });
            }
        } else if verbose {
            bar.suspend(|| eprintln!("{}", report::run_line(report)));
        }
        bar.set_message(format!("{failed} failed"));
    });
    bar.finish_and_clear();
    eprint!("{}", report::failure_groups_text(&result.failures));
    if let Some(error) = result.cases.spill_error() {
        eprintln!(
            "warning: could not spill the case records to a temporary file ({error}): kept in memory instead"
        );
    }
    if let Some(path) = &args.corpus
        && !result.failures.is_empty()
    {
        match corpus::append(path, &result.failures, "found by faultline run") {
            Ok(appended) => eprintln!(
                "corpus {}: {} case(s) added, {} failing run(s) already there by scenario and kind",
                path.display(),
                appended.added.len(),
                appended.duplicates
            ),
            Err(error) => eprintln!("warning: could not update the corpus: {error}"),
        }
    }
    if let Some(dir) = &args.html_dir {
        if result.interrupted_by.is_some() {
            eprintln!(
                "timelines: none written: the sweep was interrupted (its results come first)"
            );
        } else {
            let stop = config.stop.as_deref();
            write_timelines(registry, &config.run, dir, args.html_max, stop, &mut result.failures);
        }
    }
    emit(&args, &result, shard)?;
    if let Some(signal) = result.interrupted_by {
        eprintln!(
            "interrupted by {}: {} cases finished, their results written (marked partial)",
            signal_name(signal),
            result.cases.len()
        );
        return Ok(Ended::Interrupted(u8::try_from(signal).unwrap_or(127)));
    }
    let never = if args.must_reach { result.never_reached() } else { Vec::new() };
    for (scenario, situation) in &never {
        eprintln!("must-reach situation never reached: {scenario}: {situation}");
    }
    Ok(Ended::Done(result.failures.is_empty() && never.is_empty()))
}

/// Replays each failing case (up to `max`) with its timeline kept and
/// writes its page into `dir`, naming it in the case's report. A case that
/// cannot be replayed in this process (its worker aborted or hung) or whose
/// replay does not fail as it did is said so, on stderr and on its page. A
/// signal (`stop`) ends the replays: the results are written next, and a
/// second signal would end the process before they are.
fn write_timelines(
    registry: &Registry,
    base: &RunConfig,
    dir: &std::path::Path,
    max: usize,
    stop: Option<&AtomicUsize>,
    failures: &mut [RunReport],
) {
    use crate::FailureKind;
    use std::sync::atomic::Ordering;
    let mut written = 0;
    let mut skipped = 0;
    for failure in failures.iter_mut() {
        if stop.is_some_and(|stop| stop.load(Ordering::Relaxed) != 0) {
            eprintln!("timelines: stopped by a signal; the results are written now");
            break;
        }
        let kind = failure.outcome.failure().map(|f| f.kind);
        // These never finished in a worker: replayed here, they would take
        // the sweep's own process down with them.
        if matches!(kind, Some(FailureKind::HarnessAbort | FailureKind::WallTimeout)) {
            eprintln!(
                "timeline: not written for {} seed={}: its worker died under it (replay it alone with --html)",
                failure.scenario, failure.seed
            );
            continue;
        }
        if written == max {
            skipped += 1;
            continue;
        }
        let Some(scenario) = registry.get(&failure.scenario) else { continue };
        let config = RunConfig {
            focus: failure.focus,
            fs_profile: failure.fs_profile.or(base.fs_profile),
            keep_timeline: true,
            ..base.clone()
        };
        let replayed = run(scenario.as_ref(), failure.seed, &config);
        let Some(timeline) = &replayed.timeline else {
            eprintln!(
                "timeline: none for {} seed={}: {}",
                failure.scenario,
                failure.seed,
                no_timeline_reason(&replayed)
            );
            continue;
        };
        let notice = replay_notice(failure, &replayed);
        if let Some(notice) = &notice {
            eprintln!("warning: timeline of {} seed={}: {notice}", failure.scenario, failure.seed);
        }
        let path = dir.join(format!("{}-{}.html", failure.scenario, failure.seed));
        let html = crate::timeline::page_with_notice(&replayed, timeline, notice.as_deref());
        match std::fs::write(&path, html) {
            Ok(()) => {
                written += 1;
                failure.timeline_page = Some(path);
            }
            Err(error) => eprintln!("warning: timeline {}: {error}", path.display()),
        }
    }
    eprintln!(
        "timelines: {written} written to {}{}",
        dir.display(),
        if skipped > 0 {
            format!(" ({skipped} more failures past --html-max)")
        } else {
            String::new()
        }
    );
}

/// What a page must say when its replay is not the run the sweep judged:
/// another trace hash, or another outcome (a nondeterministic case, whose
/// single replay may well pass).
fn replay_notice(swept: &RunReport, replayed: &RunReport) -> Option<String> {
    let (was, now) = (swept.outcome.label(), replayed.outcome.label());
    if was != now {
        return Some(format!(
            "the sweep's run ended {was}, this replay {now} (trace hash {:#018x}, the sweep's {:#018x}): the page shows the replay",
            replayed.trace_hash, swept.trace_hash
        ));
    }
    (replayed.trace_hash != swept.trace_hash).then(|| {
        format!(
            "this replay's trace hash {:#018x} is not the sweep's {:#018x}: the page shows the replay",
            replayed.trace_hash, swept.trace_hash
        )
    })
}

/// Why a run has no timeline.
fn no_timeline_reason(report: &RunReport) -> &'static str {
    if report.plan.is_empty() {
        "it failed before its run could start (its plan, or the harness outside the run)"
    } else {
        "its scenario runs itself, without the runner's events"
    }
}

fn emit(args: &RunArgs, result: &crate::SweepReport, shard: Shard) -> Result<(), Usage> {
    let json = match args.format {
        Format::Human => {
            print!("{}", report::summary_table(result));
            print!("{}", report::coverage_table(result));
            return Ok(());
        }
        Format::Json => true,
        Format::Junit => false,
    };
    eprint!("{}", report::summary_table(result));
    eprint!("{}", report::coverage_table(result));
    // Streamed to the file or stdout: a million cases are never one
    // document in memory.
    let write = |out: &mut dyn std::io::Write| {
        if json {
            report::write_json(result, &shard.to_string(), out)
        } else {
            report::write_junit(result, out)
        }
    };
    match &args.output {
        Some(path) => std::fs::File::create(path)
            .and_then(|mut file| {
                write(&mut file)?;
                file.sync_all()
            })
            .map_err(|e| Usage(format!("--output {}: {e}", path.display()))),
        None => write(&mut std::io::stdout().lock())
            .map_err(|e| Usage(format!("writing the results to stdout: {e}"))),
    }
}

fn replay(registry: &Registry, args: ReplayArgs) -> Result<bool, Usage> {
    // A page that cannot be written is said before the run, not after it.
    if let Some(path) = &args.html {
        check_output(path).map_err(|Usage(why)| Usage(why.replace("--output", "--html")))?;
    }
    if let Some(path) = &args.case {
        return replay_case(registry, path, &args);
    }
    let (Some(name), Some(seed)) = (&args.scenario, args.seed) else {
        return Err(Usage("replay needs --scenario and --seed, or --case".to_owned()));
    };
    let scenario = scenario(registry, name)?;
    let mode = match (args.schedule.clone(), args.crash_at, args.strike_at.clone()) {
        (Some(schedule), _, _) => RunMode::Pinned(schedule),
        (_, Some((mutation, mode)), _) => RunMode::CrashAt { mutation, mode },
        (_, _, Some(schedule)) => RunMode::StrikeAt(schedule),
        _ if args.clean => RunMode::Clean,
        _ => RunMode::Random,
    };
    let config = RunConfig {
        mode,
        keep_trace: args.trace,
        keep_calls: args.calls,
        focus: args.focus,
        fs_profile: args.fs_profile,
        keep_timeline: args.html.is_some(),
        ..RunConfig::default()
    };
    let result = if args.check_determinism {
        run_checking_determinism(scenario.as_ref(), seed, &config)
    } else {
        run(scenario.as_ref(), seed, &config)
    };
    print_replay(&result, &args);
    write_page(&result, &args)?;
    Ok(!result.outcome.is_failure())
}

/// Writes the replay's timeline page where `--html` asks (after its
/// results were printed: they are never lost to a page that cannot be
/// written).
fn write_page(result: &RunReport, args: &ReplayArgs) -> Result<(), Usage> {
    let Some(path) = &args.html else { return Ok(()) };
    let Some(timeline) = &result.timeline else {
        // The empty file the check before the run made is no page.
        let _ = std::fs::remove_file(path);
        return Err(Usage(format!(
            "--html {}: no timeline: {}",
            path.display(),
            no_timeline_reason(result)
        )));
    };
    std::fs::write(path, crate::timeline::page(result, timeline))
        .map_err(|e| Usage(format!("--html {}: {e}", path.display())))?;
    println!("timeline: {} ({} events)", path.display(), timeline.marks.len());
    Ok(())
}

/// Replays a regression case and says whether it behaved as it records.
fn replay_case(
    registry: &Registry,
    path: &std::path::Path,
    args: &ReplayArgs,
) -> Result<bool, Usage> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Usage(format!("{}: {e}", path.display())))?;
    let case = crate::regress::Case::parse(&text)
        .map_err(|e| Usage(format!("{}: {e}", path.display())))?;
    let result = case
        .run_configured(registry, |config| RunConfig {
            keep_trace: args.trace,
            keep_timeline: args.html.is_some(),
            ..config
        })
        .map_err(|e| Usage(format!("{}: {e}", path.display())))?;
    print_replay(&result, args);
    match case.judge(registry, &result) {
        Ok(crate::regress::Verdict::AsRecorded) => {
            println!("{}: as recorded ({})", path.display(), case.status.name());
        }
        Ok(crate::regress::Verdict::NowPasses) => {
            println!("{}: an open case now passes: mark it `status fixed`", path.display());
        }
        Err(why) => println!("{}: NOT as recorded: {why}", path.display()),
    }
    write_page(&result, args)?;
    Ok(!result.outcome.is_failure())
}

fn print_replay(result: &RunReport, args: &ReplayArgs) {
    if args.trace {
        println!("{}", result.plan);
        for event in result.trace.events() {
            println!("{event}");
        }
    }
    if args.calls {
        for call in &result.calls {
            println!(
                "c{} gen={} {} path={} offset={} len={} -> {:?}",
                call.call,
                call.generation,
                call.op.name(),
                call.path,
                call.offset,
                call.len,
                call.outcome
            );
        }
    }
    if args.show_schedule {
        println!("schedule: {}", result.schedule);
    }
    if !result.unused.is_empty() {
        println!("pinned decisions that never struck: {}", result.unused);
    }
    print!("{}", report::failure_text(result));
    println!("{}", report::run_line(result));
    println!("trace hash: {:#018x}", result.trace_hash);
}

fn shrink_seed(registry: &Registry, args: ShrinkArgs) -> Result<bool, Usage> {
    let scenario = scenario(registry, &args.scenario)?;
    if let Some(dir) = &args.emit
        && !dir.is_dir()
    {
        return Err(Usage(format!("--emit {}: no such directory", dir.display())));
    }
    let result = shrink(scenario.as_ref(), args.seed, args.focus, args.fs_profile, args.runs_max)
        .map_err(Usage)?;
    print!("{}", report::failure_text(&result.original));
    println!("before: {}", result.before);
    if !result.reproduced {
        println!(
            "the failure does not reproduce with the recorded workload and schedule pinned: not shrunk"
        );
        return Ok(false);
    }
    println!("after:  {} ({} runs)", result.after, result.runs);
    println!("minimal schedule: {}", result.minimal);
    let failure = result.minimal_report.as_ref().and_then(|r| r.outcome.failure());
    if let Some(failure) = failure {
        println!("still fails: {failure}");
    }
    let case = crate::regress::Case {
        scenario: args.scenario.clone(),
        seed: args.seed,
        focus: args.focus,
        fs_profile: result.original.fs_profile.unwrap_or_default(),
        status: corpus::Status::Open,
        failure: failure.map_or(String::new(), |f| f.kind.name().to_owned()),
        schedule: result.minimal.clone(),
        script: result.minimal_script.clone(),
    };
    let text = case.to_text().map_err(Usage)?;
    match &args.emit {
        Some(dir) => {
            let path = dir.join(format!("{}-{}.case", args.scenario, args.seed));
            std::fs::write(&path, &text).map_err(|e| Usage(format!("{}: {e}", path.display())))?;
            println!("emitted {}", path.display());
            println!(
                "repro: cargo run --release -p faultline-scenarios -- replay --case {}",
                path.display()
            );
        }
        None => {
            println!("minimal workload:\n{}", case.script.to_text().map_err(Usage)?);
            println!("(--emit DIR writes it as a regression case that cargo test replays)");
        }
    }
    Ok(false)
}

/// Runs `work` with a progress bar it reports `(done, total)` to.
fn with_progress<T>(work: impl FnOnce(&mut dyn FnMut(u64, u64)) -> T) -> T {
    let bar = progress_bar(None);
    let result = work(&mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    result
}

/// Each failure's report and the schedule that replays it.
fn print_failures(failures: &[RunReport]) {
    for failure in failures {
        print!("{}", report::failure_text(failure));
        println!("  schedule: {}", failure.schedule);
    }
}

fn exhaust_points(registry: &Registry, args: ExhaustArgs) -> Result<bool, Usage> {
    let scenario = scenario(registry, &args.scenario)?;
    let jobs = jobs(args.jobs)?;
    if args.strikes {
        let result =
            with_progress(|progress| exhaust_strikes(scenario.as_ref(), args.seed, jobs, progress));
        print_failures(&result.failures);
        for pair in result.pairs.iter().filter(|pair| !result.reached.contains(pair)) {
            println!("not reached: {}={}", pair.0, pair.1);
        }
        println!(
            "{} seed={}: (site, strike) pairs={} reached={} runs={} failed={}",
            result.scenario,
            result.seed,
            result.pairs.len(),
            result.reached.len(),
            result.runs,
            result.failures.len()
        );
        return Ok(result.failures.is_empty());
    }
    let modes = match args.mode {
        ModeArg::PowerLoss => vec![CrashMode::PowerLoss],
        ModeArg::ProcessCrash => vec![CrashMode::ProcessCrash],
        ModeArg::Both => vec![CrashMode::PowerLoss, CrashMode::ProcessCrash],
    };
    let result =
        with_progress(|progress| exhaust(scenario.as_ref(), args.seed, &modes, jobs, progress));
    print_failures(&result.failures);
    println!(
        "{} seed={}: crash points={} modes={} runs={} visited={} failed={}",
        result.scenario,
        result.seed,
        result.crash_points,
        modes.len(),
        result.runs,
        result.visited,
        result.failures.len()
    );
    Ok(result.failures.is_empty() && result.visited == result.runs)
}
