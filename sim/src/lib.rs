//! faultline's simulation layer: a simulated filesystem that runs the engine
//! unchanged, the fault model it injects, and the seeds and traces that make
//! every run reproducible.
//!
//! # Durability model
//!
//! [`SimFs`] keeps, for every file and directory, a **durable** image (what
//! is on the platters), a **volatile** view (the page cache, which every read
//! sees) and a list of **pending** operations between the two.
//!
//! - `sync_data(file)` makes that file's pending writes and truncates
//!   durable; not its name.
//! - `sync_dir(dir)` makes the pending entry operations of that directory
//!   (create, rename, remove) durable. A rename inside one directory is
//!   atomic; across directories it is a remove in one and an insert in the
//!   other, each durable with its own directory's sync.
//! - A file is reachable after a power loss only through durable entries:
//!   data synced into a file whose name was never synced is lost with it.
//!
//! # Crashes
//!
//! - **Power loss**: of each file's and each directory's pending operations,
//!   a seeded choice survives: none, a prefix, or a subset (a disk with a
//!   write cache reorders). A surviving write may be torn at 512-byte
//!   sectors: lost sectors hold the old bytes, zeros or garbage.
//! - **Process crash** (kill -9): the page cache survives and stays pending.
//! - A crash strikes now ([`SimFs::crash`]) or just before the k-th mutating
//!   operation ([`SimFs::crash_at_mutation`]). Every handle from before a
//!   crash is dead afterwards; [`SimFs::reopen`] serves the next process.
//!
//! # Faults
//!
//! Each [`FaultClass`] is off by default and fires with its own probability,
//! from its own random stream: EIO and short writes, ENOSPC past a quota,
//! fsync errors (what becomes of the dirty data and which call reports the
//! error is the configuration's [`FsProfile`]: ext4, XFS, Btrfs, FreeBSD;
//! a directory's failed sync leaves its entry operations pending, as a
//! journal would), latent bit flips on read
//! that persist until the sector is rewritten, misdirected writes, lying
//! fsyncs, and torn writes at power loss. Every fault that fires is counted
//! and recorded as an [`FsEvent`] naming the operation, path and offset.
//!
//! A misdirected write goes wrong on its way to the device, as on real
//! hardware: the page cache holds the right bytes where they were asked
//! for (a process crash loses nothing), and only when the write reaches
//! the device (a sync, or a power loss that persists it) do its bytes land
//! elsewhere. Both places are then damaged ([`Happening::Damage`]) until
//! rewritten: where the bytes belonged keeps the old ones, where they
//! landed lost what was there.
//!
//! Simplifications, on purpose: bit flips strike whatever a read returns
//! (page cache included) and a rewrite of the sector in the page cache heals
//! it; metadata operations (create, rename, remove) never fail by injection.
//!
//! # One injector
//!
//! Every call asks one function what happens to it (`fs::decide`): the
//! answer comes from a configuration drawn on the seed's streams
//! ([`SimFs::new`]) or from a pinned [`Schedule`] ([`SimFs::replaying`]),
//! and the same code applies it and records it. [`SimFs::schedule`] is the
//! record: replayed pinned, it makes the same calls fail the same way. The
//! harness arms its plan's crashes here ([`SimFs::crash_at_mutation`],
//! [`SimFs::arm_crash_timer`]) and takes the log of calls and events
//! ([`SimFs::take_log`]) and images of the disk ([`SimFs::image`]) for its
//! judge; nothing outside this crate decides, applies, heals or flips a
//! fault.
//!
//! ```
//! use std::path::Path;
//! use faultline_engine::fs::{File, Fs};
//! use faultline_sim::{CrashMode, FaultConfig, Seed, SimFs};
//!
//! let fs = SimFs::new(Seed(1), FaultConfig::none());
//! let file = fs.create(Path::new("/log"))?;
//! file.write_at(b"synced", 0)?;
//! file.sync_data()?;
//! fs.sync_dir(Path::new("/"))?;
//! file.write_at(b"-and-maybe-not", 6)?;
//!
//! fs.crash(CrashMode::PowerLoss);
//! assert!(file.len().is_err(), "handles die with the process");
//!
//! let fs = fs.reopen();
//! let after = fs.open(Path::new("/log"))?.read_to_end()?;
//! assert!(after.starts_with(b"synced"));
//! # Ok::<(), std::io::Error>(())
//! ```

mod fault;
mod fs;
mod schedule;
mod seed;
mod site;
mod trace;

pub use fault::{
    DirtyAfterFailure, ErrorReport, FILE_LEN_MAX, Fault, FaultClass, FaultConfig, FaultCounts,
    FsProfile, SECTOR_SIZE, TornFill,
};
pub use fs::{
    CALL_BUDGET_MARKER, CallOutcome, CallRecord, Changes, CrashMode, DamageCause, DiskImage,
    FileImage, FsEvent, FsRecord, FsStats, Happening, NodeId, Op, PowerLossReport, SimFs, View,
};
pub use schedule::{CrashTrigger, Decision, PinnedFault, Schedule};
pub use seed::{Seed, SimRng, Stream};
pub use site::{Focus, Site, Strike};
pub use trace::TraceHasher;
