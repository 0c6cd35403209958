//! Real power cuts on LazyFS: a FUSE filesystem with its own page cache,
//! which drops everything not fsynced on `lazyfs::clear-cache`, and tears
//! a write on `lazyfs::torn-op` / `lazyfs::torn-seq`, then crashes itself
//! (its cache dies with it: a power cut too). [`LazyFs`] mounts it and
//! sends it commands; [`PowerCuts`] are the kill loop's hooks
//! (`crate::kill::CycleHooks`) that cut the power after each kill, or arm
//! a torn write on the segment being appended at the aimed moment.
//!
//! What this module relies on, as LazyFS (upstream a47a5ba) behaves:
//! - Commands are lines on a fifo that LazyFS reads 100 bytes at a time:
//!   one command per open and write, at most 99 bytes and its newline, and
//!   the next only after LazyFS answered the last (two in one read merge
//!   into one unknown command).
//! - Its fault worker opens the completion fifo for writing, blocking,
//!   before it reads any command: a reader is opened first, non-blocking.
//! - `finished::clear-cache` is the only completion it sends; that a torn
//!   fault was armed, and that it fired, shows in its log only. The log is
//!   truncated at every mount.
//! - A torn-op tears the next write LazyFS gets for the file, at the byte
//!   counts it is given (which must add up to the write's length); a
//!   torn-seq needs writes in a row without an fsync. The kernel sends
//!   FUSE one write per 4 KiB page, so a commit that crosses a page is two
//!   writes: the only sequences the engine makes (it syncs every commit).
//!
//! The faults stay inside the engine's model of a disk (README,
//! "Crashes"): writes tear at 512-byte sectors, each sector whole or lost.
//! So a torn-op cuts a write at a sector boundary only, and the driver is
//! paced (it waits before each commit) so that the fault is armed for a
//! write of known offset and length. LazyFS's equal `parts` would tear
//! inside a sector: finer than the model (a 16-byte segment header torn
//! in four keeps its magic and loses its version, which the engine
//! refuses to open, by design).
//! - It runs in `/` and names files by its own paths: the backing
//!   directory (absolute) joined with the path inside the mount.
//! - Creates, renames and unlinks go straight to the backing filesystem
//!   and there is no fsyncdir: LazyFS cannot lose a directory entry (the
//!   simulated filesystem models that).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use faultline_engine::commitlog::{SEGMENT_HEADER_LEN, segment_path};
use faultline_engine::db::LOG_DIR;
use faultline_sim::{Seed, SimRng, Stream};
use rand::RngExt;

use crate::kill::{AtAim, CycleHooks, HookError, Moment, Step};

/// Where LazyFS and its files are.
#[derive(Clone, Debug)]
pub struct LazyFsConfig {
    /// The `lazyfs` binary.
    pub binary: PathBuf,
    /// Its TOML config; its fifo and log paths must be the ones below.
    pub config: PathBuf,
    /// The mount point.
    pub mount: PathBuf,
    /// The directory LazyFS keeps the files in (`-o subdir=`). Keep its
    /// absolute path short: a torn fault's command names a file by it, in
    /// at most 99 bytes.
    pub backing: PathBuf,
    /// The faults fifo (`fifo_path`).
    pub fifo: PathBuf,
    /// The completion fifo (`fifo_path_completed`).
    pub fifo_done: PathBuf,
    /// LazyFS's log file (`logfile`).
    pub log: PathBuf,
    /// Where LazyFS's stdout and stderr go, appended across mounts.
    pub output: PathBuf,
    /// Where the running LazyFS's pid is written, for a cleanup that
    /// outlives this process. Default: none.
    pub pid_file: Option<PathBuf>,
}

/// A mounted LazyFS; unmounted and stopped on drop.
#[derive(Debug)]
pub struct LazyFs {
    config: LazyFsConfig,
    /// The mount point as `/proc/self/mountinfo` spells it.
    mount_canonical: PathBuf,
    child: Option<Child>,
    done: Option<File>,
    done_buffer: Vec<u8>,
    mounts: u64,
}

/// What went wrong with LazyFS (never a verdict on the engine).
#[derive(Debug)]
pub enum LazyFsError {
    /// The binary did not start.
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It did not mount, or not listen on its fifo, in time.
    NotReady {
        /// How long it was waited for.
        waited_ms: u128,
        /// The end of its output.
        output_tail: String,
    },
    /// It is dead (or its mount is gone).
    Dead {
        /// Its exit status, if reaped.
        status: Option<ExitStatus>,
        /// The end of its output.
        output_tail: String,
    },
    /// No answer to a command in time.
    Timeout {
        /// The command.
        command: String,
        /// How long it was waited for.
        waited_ms: u128,
    },
    /// It refused a command.
    Refused {
        /// The command.
        command: String,
        /// What its log said.
        log: String,
    },
    /// A command longer than LazyFS reads at once.
    TooLong {
        /// The command.
        command: String,
    },
    /// A file operation of the control failed.
    Io {
        /// What was done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
}

impl fmt::Display for LazyFsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LazyFsError::Spawn { binary, source } => {
                write!(f, "lazyfs did not start: binary={} error={source}", binary.display())
            }
            LazyFsError::NotReady { waited_ms, output_tail } => {
                write!(
                    f,
                    "lazyfs not mounted and listening: waited-ms={waited_ms} output: {output_tail}"
                )
            }
            LazyFsError::Dead { status, output_tail } => {
                let status = status.map_or("running, mount gone".to_owned(), |s| s.to_string());
                write!(f, "lazyfs is dead: status={status} output: {output_tail}")
            }
            LazyFsError::Timeout { command, waited_ms } => {
                write!(f, "lazyfs did not answer: command={command} waited-ms={waited_ms}")
            }
            LazyFsError::Refused { command, log } => {
                write!(f, "lazyfs refused a command: command={command} log: {log}")
            }
            LazyFsError::TooLong { command } => write!(
                f,
                "lazyfs command longer than {COMMAND_LEN_MAX} bytes: len={} command={command}",
                command.len()
            ),
            LazyFsError::Io { what, path, source } => {
                write!(f, "{what} failed: path={} error={source}", path.display())
            }
        }
    }
}

impl std::error::Error for LazyFsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LazyFsError::Spawn { source, .. } | LazyFsError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The longest command, newline excluded: LazyFS reads 100 bytes at once
/// and overwrites the last with the terminator.
const COMMAND_LEN_MAX: usize = 99;
/// How long a mount, a command's answer or an unmount is waited for.
const WAIT_MAX: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(1);
/// The most bytes of LazyFS's output an error quotes.
const OUTPUT_TAIL_MAX: usize = 1_500;
/// `O_NONBLOCK` on Linux (x86-64, aarch64, riscv64): std has no name for
/// it. A fifo opened with it never blocks on the other side's absence.
const O_NONBLOCK: i32 = 0o4000;
/// `ENXIO`: a fifo opened non-blocking for writing has no reader.
const ENXIO: i32 = 6;

impl LazyFs {
    /// Mounts LazyFS on `config.mount` over `config.backing` (unmounting a
    /// mount an earlier run left there) and waits until it listens.
    pub fn mount(config: LazyFsConfig) -> Result<LazyFs, LazyFsError> {
        let mount_canonical = canonical(&config.mount)?;
        let backing = std::path::absolute(&config.backing)
            .map_err(|source| io_error("resolve the backing dir", &config.backing, source))?;
        let config = LazyFsConfig { backing, ..config };
        let mut lazyfs = LazyFs {
            config,
            mount_canonical,
            child: None,
            done: None,
            done_buffer: Vec::new(),
            mounts: 0,
        };
        lazyfs.start()?;
        Ok(lazyfs)
    }

    /// Mounts since [`LazyFs::mount`], that one included.
    pub fn mounts(&self) -> u64 {
        self.mounts
    }

    /// Whether LazyFS runs and its mount is there.
    pub fn is_alive(&mut self) -> bool {
        let running = self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        running && self.is_mounted()
    }

    /// [`LazyFs::is_alive`], after the driver died: if LazyFS's log says it
    /// is killing itself (a fault fired), waits for it to be gone, since
    /// the driver may see the mount fail a moment before LazyFS exits.
    pub fn is_alive_after_death(&mut self) -> Result<bool, LazyFsError> {
        if self.log_from(0)?.contains("Killing LazyFS pid") {
            let deadline = Instant::now() + WAIT_MAX;
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(POLL_INTERVAL);
            }
        }
        Ok(self.is_alive())
    }

    /// Unmounts (whatever state LazyFS is in) and mounts again. Unsynced
    /// data does not survive: LazyFS does not write its cache back.
    pub fn remount(&mut self) -> Result<(), LazyFsError> {
        self.unmount();
        self.start()
    }

    /// Stops LazyFS: unmounts (lazily if busy), then waits for it to exit
    /// and kills it if it does not.
    pub fn unmount(&mut self) {
        self.done = None;
        self.done_buffer.clear();
        if self.is_mounted() {
            let unmounted =
                run_quiet(Command::new("fusermount3").arg("-u").arg(&self.config.mount));
            if !unmounted {
                run_quiet(Command::new("umount").arg("-l").arg(&self.config.mount));
            }
        }
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + WAIT_MAX;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL_INTERVAL);
            }
            // Dead already: kill fails, and wait reaps.
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(pid_file) = &self.config.pid_file {
            let _ = std::fs::remove_file(pid_file);
        }
    }

    /// The power cut: drops everything not fsynced, and returns once
    /// LazyFS says it did.
    pub fn clear_cache(&mut self) -> Result<(), LazyFsError> {
        const COMMAND: &str = "lazyfs::clear-cache";
        const DONE: &[u8] = b"finished::clear-cache\n";
        self.drain_done()?;
        self.send(COMMAND)?;
        let start = Instant::now();
        loop {
            self.read_done()?;
            if let Some(at) = find(&self.done_buffer, DONE) {
                self.done_buffer.drain(..at + DONE.len());
                return Ok(());
            }
            self.wait_a_little(COMMAND, start)?;
        }
    }

    /// Arms a torn write: the next write to `file` (a path inside the
    /// mount) is cut in parts of `parts_bytes` bytes (which must add up to
    /// its length, or LazyFS lets it through whole and does not crash), of
    /// which only those numbered in `persist` (from 1) reach the backing
    /// file; then LazyFS crashes.
    pub fn torn_op(
        &mut self,
        file: &Path,
        parts_bytes: &[u64],
        persist: &[u32],
    ) -> Result<(), LazyFsError> {
        assert!(parts_bytes.iter().all(|&len| len > 0), "parts_bytes={parts_bytes:?}");
        let parts = parts_bytes.len() as u32;
        assert!(
            !persist.is_empty() && persist.iter().all(|p| (1..=parts).contains(p)),
            "persist={persist:?} parts={parts}"
        );
        let command = format!(
            "lazyfs::torn-op::file={}::persist={}::parts_bytes={}",
            self.lazyfs_path(file).display(),
            join(persist),
            join(parts_bytes)
        );
        self.arm(&command)
    }

    /// Arms a torn sequence: of the next writes to `file` (a path inside
    /// the mount) without an fsync between them, only those numbered in
    /// `persist` (from 1) reach the backing file; LazyFS crashes after the
    /// last of them. It needs as many writes in a row as `persist` names.
    pub fn torn_seq(&mut self, file: &Path, persist: &[u32]) -> Result<(), LazyFsError> {
        assert!(!persist.is_empty() && persist.iter().all(|p| *p >= 1), "persist={persist:?}");
        let command = format!(
            "lazyfs::torn-seq::op=write::file={}::persist={}",
            self.lazyfs_path(file).display(),
            join(persist)
        );
        self.arm(&command)
    }

    /// Whether LazyFS's log, since this mount, says it persisted part of a
    /// torn write to `file` (a path inside the mount): the torn fault fired.
    pub fn torn_write_fired(&self, file: &Path) -> Result<bool, LazyFsError> {
        let path = self.lazyfs_path(file);
        let path = path.display();
        let log = self.log_from(0)?;
        let torn_op = format!("Write to path {path}: will persist");
        let torn_seq = format!("for the path {path}");
        Ok(log.contains(&torn_op)
            || log.lines().any(|l| l.contains("Going to persist") && l.contains(&torn_seq)))
    }

    /// How full LazyFS's cache is, in percent of its pages. A full cache
    /// writes through silently, which would hide unsynced data.
    pub fn cache_usage_percent(&mut self) -> Result<f64, LazyFsError> {
        const COMMAND: &str = "lazyfs::display-cache-usage";
        const USAGE: &str = "cache usage (%pages) is ";
        let from = self.send(COMMAND)?;
        let start = Instant::now();
        loop {
            let log = self.log_from(from)?;
            if let Some(line) = log.lines().find(|line| line.contains(USAGE)) {
                let value = line.split(USAGE).nth(1).unwrap_or("").trim().trim_end_matches('%');
                return value.parse().map_err(|_| LazyFsError::Refused {
                    command: COMMAND.to_owned(),
                    log: line.to_owned(),
                });
            }
            self.wait_a_little(COMMAND, start)?;
        }
    }

    /// LazyFS's name of `file`, a path inside the mount.
    fn lazyfs_path(&self, file: &Path) -> PathBuf {
        let inside = file.strip_prefix(&self.config.mount).unwrap_or_else(|_| {
            panic!("{} is not inside the mount {}", file.display(), self.config.mount.display())
        });
        self.config.backing.join(inside)
    }

    fn start(&mut self) -> Result<(), LazyFsError> {
        assert!(self.child.is_none(), "one LazyFS at a time");
        if self.is_mounted() {
            self.unmount();
        }
        let output = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.output)
            .map_err(|source| io_error("open the output file", &self.config.output, source))?;
        let stderr = output
            .try_clone()
            .map_err(|source| io_error("clone the output file", &self.config.output, source))?;
        let mut subdir = std::ffi::OsString::from("subdir=");
        subdir.push(&self.config.backing);
        let child = Command::new(&self.config.binary)
            .arg(&self.config.mount)
            .arg("--config-path")
            .arg(&self.config.config)
            .args(["-o", "modules=subdir", "-o"])
            .arg(subdir)
            .arg("-f")
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(stderr)
            // Its own process group: a `timeout` or ^C aimed at the loop
            // must not kill it before it is unmounted.
            .process_group(0)
            .spawn()
            .map_err(|source| LazyFsError::Spawn { binary: self.config.binary.clone(), source })?;
        if let Some(pid_file) = &self.config.pid_file {
            std::fs::write(pid_file, format!("{}\n", child.id()))
                .map_err(|source| io_error("write the pid file", pid_file, source))?;
        }
        self.child = Some(child);
        self.mounts += 1;
        self.wait_ready()
    }

    /// Waits until the mount is there and the fault worker listens; opens
    /// the completion fifo's reader on the way (the worker waits for it).
    fn wait_ready(&mut self) -> Result<(), LazyFsError> {
        let start = Instant::now();
        loop {
            if self.done.is_none() && is_fifo(&self.config.fifo_done) {
                self.done = Some(open_fifo(&self.config.fifo_done, false)?);
            }
            if self.done.is_some() && self.is_mounted() && self.is_listening()? {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(LazyFsError::Dead {
                    status: Some(status),
                    output_tail: self.output_tail(),
                });
            }
            if start.elapsed() > WAIT_MAX {
                return Err(LazyFsError::NotReady {
                    waited_ms: start.elapsed().as_millis(),
                    output_tail: self.output_tail(),
                });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether the faults fifo has a reader (LazyFS's worker holds it).
    fn is_listening(&self) -> Result<bool, LazyFsError> {
        match open_fifo(&self.config.fifo, true) {
            Ok(_) => Ok(true),
            Err(LazyFsError::Io { source, .. }) if source.raw_os_error() == Some(ENXIO) => {
                Ok(false)
            }
            Err(LazyFsError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Sends a torn fault's command and waits for LazyFS to accept it.
    fn arm(&mut self, command: &str) -> Result<(), LazyFsError> {
        let from = self.send(command)?;
        let accepted = format!("configured successfully '{command}'");
        let start = Instant::now();
        loop {
            let log = self.log_from(from)?;
            if log.contains(&accepted) {
                return Ok(());
            }
            if log.contains("INVALID") {
                return Err(LazyFsError::Refused { command: command.to_owned(), log });
            }
            self.wait_a_little(command, start)?;
        }
    }

    /// Writes one command to the faults fifo (one open, one write); returns
    /// the log's length before it, where its answer starts.
    fn send(&mut self, command: &str) -> Result<u64, LazyFsError> {
        if command.len() > COMMAND_LEN_MAX {
            return Err(LazyFsError::TooLong { command: command.to_owned() });
        }
        if !self.is_alive() {
            return Err(self.dead());
        }
        let from = std::fs::metadata(&self.config.log).map_or(0, |m| m.len());
        let mut fifo = match open_fifo(&self.config.fifo, true) {
            Ok(fifo) => fifo,
            Err(LazyFsError::Io { source, .. }) if source.raw_os_error() == Some(ENXIO) => {
                return Err(self.dead());
            }
            Err(error) => return Err(error),
        };
        fifo.write_all(format!("{command}\n").as_bytes())
            .map_err(|source| io_error("write a command", &self.config.fifo, source))?;
        Ok(from)
    }

    /// Sleeps a poll interval; fails if LazyFS died or `command` waited
    /// too long.
    fn wait_a_little(&mut self, command: &str, start: Instant) -> Result<(), LazyFsError> {
        if !self.is_alive() {
            return Err(self.dead());
        }
        if start.elapsed() > WAIT_MAX {
            return Err(LazyFsError::Timeout {
                command: command.to_owned(),
                waited_ms: start.elapsed().as_millis(),
            });
        }
        std::thread::sleep(POLL_INTERVAL);
        Ok(())
    }

    /// Reads what the completion fifo holds into the buffer.
    fn read_done(&mut self) -> Result<(), LazyFsError> {
        let Some(done) = self.done.as_mut() else { return Err(self.dead()) };
        let mut chunk = [0u8; 256];
        loop {
            match done.read(&mut chunk) {
                // No writer: LazyFS closed it; `wait_a_little` tells why.
                Ok(0) => return Ok(()),
                Ok(n) => self.done_buffer.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(io_error("read", &self.config.fifo_done, source)),
            }
        }
    }

    /// Drops completions nobody waited for.
    fn drain_done(&mut self) -> Result<(), LazyFsError> {
        self.read_done()?;
        self.done_buffer.clear();
        Ok(())
    }

    /// The log from byte `from` on (the log is truncated at every mount).
    fn log_from(&self, from: u64) -> Result<String, LazyFsError> {
        let bytes = std::fs::read(&self.config.log)
            .map_err(|source| io_error("read the log", &self.config.log, source))?;
        let from = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
        Ok(String::from_utf8_lossy(&bytes[from..]).into_owned())
    }

    fn dead(&mut self) -> LazyFsError {
        LazyFsError::Dead { status: self.exited(), output_tail: self.output_tail() }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|child| child.try_wait().ok().flatten())
    }

    fn output_tail(&self) -> String {
        let bytes = std::fs::read(&self.config.output).unwrap_or_default();
        let start = bytes.len().saturating_sub(OUTPUT_TAIL_MAX);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    fn is_mounted(&self) -> bool {
        let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
        let mount = self.mount_canonical.to_string_lossy();
        // Field 5 is the mount point, with spaces and the like octal-escaped.
        mountinfo.lines().any(|line| {
            line.split(' ').nth(4).is_some_and(|point| unescape_mountinfo(point) == mount)
        })
    }
}

impl Drop for LazyFs {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The fault a [`PowerCuts`] cycle injects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CycleFault {
    /// SIGKILL, then `lazyfs::clear-cache`.
    PowerCut,
    /// A torn write to the segment being appended (or to the header of the
    /// segment a rotation creates); LazyFS then crashes.
    TornOp {
        /// What was armed; `None` until the driver reached a write to tear.
        armed: Option<TornWrite>,
    },
    /// A torn sequence: a commit that crosses a page is two writes, and
    /// only `persist` of them reach the disk; LazyFS then crashes.
    TornSeq {
        /// What was armed; `None` until the driver reached such a commit.
        armed: Option<TornWrite>,
    },
}

/// A torn fault as armed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornWrite {
    /// The segment, inside the mount.
    pub file: PathBuf,
    /// Where the torn write starts in the file.
    pub offset: u64,
    /// The parts' lengths (torn-op), or the writes' (torn-seq).
    pub parts_bytes: Vec<u64>,
    /// The parts (or writes) that reach the disk, from 1.
    pub persist: Vec<u32>,
}

/// What [`PowerCuts`] did, beyond what the kill loop counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PowerCutCounts {
    /// Cycles that ended with `lazyfs::clear-cache`.
    pub power_cuts: u64,
    /// Torn-op faults armed.
    pub torn_op_armed: u64,
    /// Of those, on the header of a segment a rotation creates (one
    /// sector: it reaches the disk whole, then the power goes before its
    /// sync).
    pub torn_op_on_header: u64,
    /// Torn-op faults that fired: LazyFS persisted the torn parts (its log
    /// says) and crashed.
    pub torn_op_fired: u64,
    /// Torn-seq faults armed.
    pub torn_seq_armed: u64,
    /// Torn-seq faults that fired, as torn-op's do.
    pub torn_seq_fired: u64,
    /// Torn cycles that met no write to tear in [`TORN_WAIT_STEPS_MAX`]
    /// steps (or a driver that does not say its commits' lengths): killed
    /// and power-cut instead.
    pub torn_unarmed: u64,
    /// Times LazyFS died without a fired fault to explain it.
    pub lazyfs_died_unexplained: u64,
    /// Remounts: after a fired fault, to disarm one that did not fire, or
    /// after an unexplained death.
    pub remounts: u64,
    /// Time spent running the driver to its death.
    pub driver_time: Duration,
    /// Time spent cutting the power and remounting.
    pub power_cut_time: Duration,
    /// Time spent reopening and checking (between cycles).
    pub recovery_time: Duration,
}

impl PowerCutCounts {
    /// Adds a later batch's counts and times.
    pub fn add(&mut self, batch: &PowerCutCounts) {
        self.power_cuts += batch.power_cuts;
        self.torn_op_armed += batch.torn_op_armed;
        self.torn_op_fired += batch.torn_op_fired;
        self.torn_seq_armed += batch.torn_seq_armed;
        self.torn_seq_fired += batch.torn_seq_fired;
        self.torn_op_on_header += batch.torn_op_on_header;
        self.torn_unarmed += batch.torn_unarmed;
        self.lazyfs_died_unexplained += batch.lazyfs_died_unexplained;
        self.remounts += batch.remounts;
        self.driver_time += batch.driver_time;
        self.power_cut_time += batch.power_cut_time;
        self.recovery_time += batch.recovery_time;
    }
}

/// The kill loop's hooks on LazyFS: each cycle ends in a power cut. One
/// cycle in five tears a write to the segment being appended (torn-op),
/// one in five a sequence of two (torn-seq), from the aimed moment on;
/// the others SIGKILL at the aimed moment, then clear the cache.
#[derive(Debug)]
pub struct PowerCuts<'a> {
    lazyfs: &'a mut LazyFs,
    rng: SimRng,
    fault: CycleFault,
    steps_waited: u64,
    /// What was done so far.
    pub counts: PowerCutCounts,
    phase_started: Option<Instant>,
}

/// The sector size of the engine's disk model: a write tears only at
/// these boundaries (of the file's offsets).
pub const SECTOR_SIZE: u64 = 512;
/// The page size at which the kernel splits a write to FUSE.
pub const PAGE_SIZE: u64 = 4096;
/// Steps a torn cycle waits, from the aimed moment, for a write it can
/// tear before it gives up (a step's commit inside one sector, or inside
/// one page for a torn-seq).
pub const TORN_WAIT_STEPS_MAX: u64 = 200;
/// Lines a driver may print after a torn fault was armed before it is
/// killed: the fault is for the step's own write, so it dies in that step.
const TORN_LINES_MAX: u64 = 4;

impl<'a> PowerCuts<'a> {
    /// Hooks on `lazyfs`, their fault draws from `seed`.
    pub fn new(lazyfs: &'a mut LazyFs, seed: u64) -> Self {
        PowerCuts {
            lazyfs,
            rng: Seed(seed).rng(Stream::Faults),
            fault: CycleFault::PowerCut,
            steps_waited: 0,
            counts: PowerCutCounts::default(),
            phase_started: None,
        }
    }

    /// The LazyFS the hooks drive.
    pub fn lazyfs(&mut self) -> &mut LazyFs {
        self.lazyfs
    }

    /// Counts the time since the last mark into the recovery time: call it
    /// once the loop has checked its last cycle.
    pub fn end_of_loop(&mut self) {
        if let Some(start) = self.phase_started.take() {
            self.counts.recovery_time += start.elapsed();
        }
    }

    fn draw_fault(&mut self) -> CycleFault {
        match self.rng.random_range(0..5u8) {
            0 => CycleFault::TornOp { armed: None },
            1 => CycleFault::TornSeq { armed: None },
            _ => CycleFault::PowerCut,
        }
    }

    /// Arms the cycle's torn fault if the step the driver waits before
    /// has a write to tear; `NotYet` otherwise, `Kill` past the wait.
    fn arm(&mut self, moment: &Moment<'_>) -> Result<AtAim, HookError> {
        let Some(step) = moment.step.filter(|_| moment.before_step) else {
            return Ok(AtAim::NotYet);
        };
        self.steps_waited += 1;
        let is_torn_op = matches!(self.fault, CycleFault::TornOp { .. });
        let write = if is_torn_op {
            self.torn_op_write(moment.dir, step)?
        } else {
            self.torn_seq_write(moment.dir, step)?
        };
        let Some(write) = write else {
            if self.steps_waited < TORN_WAIT_STEPS_MAX && step.commit_len.is_some() {
                return Ok(AtAim::NotYet);
            }
            self.counts.torn_unarmed += 1;
            self.fault = CycleFault::PowerCut;
            return Ok(AtAim::Kill);
        };
        if is_torn_op {
            self.lazyfs.torn_op(&write.file, &write.parts_bytes, &write.persist)?;
            self.counts.torn_op_armed += 1;
            self.counts.torn_op_on_header += u64::from(step.rotate);
            self.fault = CycleFault::TornOp { armed: Some(write) };
        } else {
            self.lazyfs.torn_seq(&write.file, &write.persist)?;
            self.counts.torn_seq_armed += 1;
            self.fault = CycleFault::TornSeq { armed: Some(write) };
        }
        Ok(AtAim::RunInto { lines_max: TORN_LINES_MAX })
    }

    /// The torn-op for `step`'s first write: a rotation's new header whole
    /// (one sector), or the commit's first FUSE write cut at one of the
    /// sector boundaries inside it, one side kept. `None` if it has none.
    fn torn_op_write(&mut self, dir: &Path, step: Step) -> Result<Option<TornWrite>, HookError> {
        let log_dir = dir.join(LOG_DIR);
        if step.rotate {
            let file = segment_path(&log_dir, step.offset);
            let header = SEGMENT_HEADER_LEN as u64;
            return Ok(Some(TornWrite {
                file,
                offset: 0,
                parts_bytes: vec![header],
                persist: vec![1],
            }));
        }
        let (Some(commit_len), Some(head_len)) = (step.commit_len, step.head_len) else {
            return Ok(None);
        };
        let Some(file) = last_segment(&log_dir)? else { return Ok(None) };
        let boundaries =
            sector_boundaries_inside(head_len, first_fuse_write_len(head_len, commit_len));
        if boundaries.is_empty() {
            return Ok(None);
        }
        let cut = boundaries[self.rng.random_range(0..boundaries.len())];
        let len = first_fuse_write_len(head_len, commit_len);
        let parts_bytes = vec![cut - head_len, head_len + len - cut];
        let persist = vec![self.rng.random_range(1..=2u32)];
        Ok(Some(TornWrite { file, offset: head_len, parts_bytes, persist }))
    }

    /// The torn-seq for `step`'s commit if it crosses a page (two writes),
    /// keeping the first, the second, or both. `None` otherwise.
    fn torn_seq_write(&mut self, dir: &Path, step: Step) -> Result<Option<TornWrite>, HookError> {
        let (Some(commit_len), Some(head_len)) = (step.commit_len, step.head_len) else {
            return Ok(None);
        };
        let first = first_fuse_write_len(head_len, commit_len);
        if step.rotate || first == commit_len {
            return Ok(None);
        }
        let Some(file) = last_segment(&dir.join(LOG_DIR))? else { return Ok(None) };
        let persist = match self.rng.random_range(0..3u8) {
            0 => vec![1],
            1 => vec![2],
            _ => vec![1, 2],
        };
        let parts_bytes = vec![first, commit_len - first];
        Ok(Some(TornWrite { file, offset: head_len, parts_bytes, persist }))
    }

    /// After the death: LazyFS crashed of the torn fault (or of itself),
    /// or it runs and the cache is cleared. A torn fault that did not fire
    /// is disarmed by a remount (LazyFS keeps it, and one per file).
    fn cut_power(&mut self) -> Result<(), HookError> {
        let torn_file = match &self.fault {
            CycleFault::PowerCut => None,
            CycleFault::TornOp { armed } | CycleFault::TornSeq { armed } => {
                armed.as_ref().map(|write| write.file.clone())
            }
        };
        let alive = self.lazyfs.is_alive_after_death()?;
        // Fired: LazyFS persisted the torn parts and crashed.
        let fired = match &torn_file {
            Some(file) => !alive && self.lazyfs.torn_write_fired(file)?,
            None => false,
        };
        match (&self.fault, fired) {
            (CycleFault::TornOp { .. }, true) => self.counts.torn_op_fired += 1,
            (CycleFault::TornSeq { .. }, true) => self.counts.torn_seq_fired += 1,
            _ => {}
        }
        if alive {
            self.lazyfs.clear_cache()?;
            self.counts.power_cuts += 1;
            if torn_file.is_none() {
                return Ok(());
            }
        } else if !fired {
            self.counts.lazyfs_died_unexplained += 1;
        }
        self.lazyfs.remount()?;
        self.counts.remounts += 1;
        Ok(())
    }

    /// Adds the time since the last mark to `bucket`'s counter, and marks.
    fn mark(&mut self, bucket: fn(&mut PowerCutCounts) -> &mut Duration) {
        let now = Instant::now();
        if let Some(start) = self.phase_started.replace(now) {
            *bucket(&mut self.counts) += now - start;
        }
    }
}

impl CycleHooks for PowerCuts<'_> {
    fn before_cycle(&mut self, _cycle: u64) -> Result<(), HookError> {
        self.mark(|c| &mut c.recovery_time);
        if !self.lazyfs.is_alive() {
            self.counts.lazyfs_died_unexplained += 1;
            self.lazyfs.remount()?;
            self.counts.remounts += 1;
        }
        self.fault = self.draw_fault();
        self.steps_waited = 0;
        Ok(())
    }

    fn paced(&self) -> bool {
        self.fault != CycleFault::PowerCut
    }

    fn at_aim(&mut self, moment: &Moment<'_>) -> Result<AtAim, HookError> {
        if self.fault == CycleFault::PowerCut {
            return Ok(AtAim::Kill);
        }
        self.arm(moment)
    }

    fn after_death(&mut self, _cycle: u64) -> Result<(), HookError> {
        self.mark(|c| &mut c.driver_time);
        let cut = self.cut_power();
        self.mark(|c| &mut c.power_cut_time);
        cut
    }

    fn cycle_fault(&self) -> String {
        let describe = |kind: &str, armed: &Option<TornWrite>| match armed {
            None => format!("{kind}(not armed)"),
            Some(w) => format!(
                "{kind}(file={} offset={} parts-bytes={} persist={})",
                w.file.display(),
                w.offset,
                join(&w.parts_bytes),
                join(&w.persist)
            ),
        };
        match &self.fault {
            CycleFault::PowerCut => "power-cut".to_owned(),
            CycleFault::TornOp { armed } => describe("torn-op", armed),
            CycleFault::TornSeq { armed } => describe("torn-seq", armed),
        }
    }
}

/// The length of the first write FUSE gets for a write of `len` bytes at
/// `offset`: the kernel cuts at page boundaries.
fn first_fuse_write_len(offset: u64, len: u64) -> u64 {
    len.min(PAGE_SIZE - offset % PAGE_SIZE)
}

/// The sector boundaries strictly inside `offset..offset + len`.
fn sector_boundaries_inside(offset: u64, len: u64) -> Vec<u64> {
    let first = (offset / SECTOR_SIZE + 1) * SECTOR_SIZE;
    (first..offset + len).step_by(SECTOR_SIZE as usize).collect()
}

/// The last segment in `log_dir` (the one being appended), if any.
fn last_segment(log_dir: &Path) -> Result<Option<PathBuf>, HookError> {
    let entries = match std::fs::read_dir(log_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let mut last: Option<String> = None;
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_segment = name.len() == 24
            && name.ends_with(".log")
            && name[..20].bytes().all(|b| b.is_ascii_digit());
        if is_segment && last.as_deref().is_none_or(|l| name > l) {
            last = Some(name.to_owned());
        }
    }
    Ok(last.map(|name| log_dir.join(name)))
}

fn open_fifo(path: &Path, write: bool) -> Result<File, LazyFsError> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(|source| io_error("open the fifo", path, source))
}

fn is_fifo(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// The canonical path of `path`, which need not exist (but its parent
/// must): a mount point may be a dead FUSE mount that `stat` refuses.
fn canonical(path: &Path) -> Result<PathBuf, LazyFsError> {
    let absolute = std::path::absolute(path)
        .map_err(|source| io_error("resolve the mount point", path, source))?;
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return Ok(absolute);
    };
    let parent = parent
        .canonicalize()
        .map_err(|source| io_error("resolve the mount point", parent, source))?;
    Ok(parent.join(name))
}

fn unescape_mountinfo(field: &str) -> String {
    field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

/// Runs a helper command, its output discarded; whether it succeeded.
fn run_quiet(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn join<T: ToString>(numbers: &[T]) -> String {
    numbers.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

fn io_error(what: &'static str, path: &Path, source: io::Error) -> LazyFsError {
    LazyFsError::Io { what, path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/a\\040b\\134c"), "/a b\\c");
    }

    #[test]
    fn the_last_segment_is_the_highest_well_named_one() {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().join(LOG_DIR);
        assert_eq!(last_segment(&log_dir).unwrap(), None);
        std::fs::create_dir(&log_dir).unwrap();
        for name in ["00000000000000000000.log", "00000000000000000042.log", "x.log", "9.log"] {
            std::fs::write(log_dir.join(name), b"").unwrap();
        }
        assert_eq!(last_segment(&log_dir).unwrap(), Some(log_dir.join("00000000000000000042.log")));
    }

    #[test]
    fn writes_are_cut_at_pages_and_torn_at_sectors() {
        assert_eq!(first_fuse_write_len(4084, 226), 12);
        assert_eq!(first_fuse_write_len(16, 2052), 2052);
        assert_eq!(sector_boundaries_inside(16, 2052), vec![512, 1024, 1536, 2048]);
        assert!(sector_boundaries_inside(500, 12).is_empty());
        assert_eq!(sector_boundaries_inside(500, 13), vec![512]);
        assert!(sector_boundaries_inside(512, 512).is_empty());
    }
}
