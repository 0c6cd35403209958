//! The storage seam: the engine's only door to storage.
//!
//! Every byte the engine persists goes through [`Fs`] and [`File`]. Production
//! uses [`RealFs`] (on `std::fs`); the harness uses a simulated filesystem
//! that tears writes, loses what was not synced and fails on purpose. The
//! traits are deliberately small: each method documents what an
//! implementation *must* guarantee, because the engine's durability argument
//! rests on exactly those guarantees and nothing more.
//!
//! Durability contract, in short:
//! - bytes written to a file are durable only after [`File::sync_data`] on
//!   that file returned `Ok`;
//! - a directory entry (a file or directory created in, renamed into or out
//!   of, or removed from a directory) is durable only after [`Fs::sync_dir`]
//!   on that directory returned `Ok`;
//! - after any error from a write or a sync, the implementation promises
//!   nothing about what reached the disk (a prefix of a write may have, a
//!   failed sync may have dropped dirty data). Callers must not retry.

pub mod phase;
mod real;

use std::fmt;
use std::io;
use std::path::Path;

pub use phase::{Phase, PhaseStack};
pub use real::RealFs;

/// The kind of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirEntry {
    /// The entry's name (one path component, valid UTF-8).
    pub name: String,
    /// Whether it is a file or a directory.
    pub kind: EntryKind,
}

/// The engine's only door to storage.
///
/// Paths are absolute or relative as the implementation defines; the engine
/// only ever joins names onto the directory it was given.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Creates a new, empty file and opens it for reading and writing.
    ///
    /// Must fail with [`io::ErrorKind::AlreadyExists`] if `path` exists and
    /// with [`io::ErrorKind::NotFound`] if its parent directory does not. The
    /// new entry is durable only after `sync_dir` on the parent.
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>>;

    /// Opens an existing file for reading and writing.
    ///
    /// Must fail with [`io::ErrorKind::NotFound`] if there is no file at `path`.
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>>;

    /// Creates an empty directory.
    ///
    /// Must fail with [`io::ErrorKind::AlreadyExists`] if `path` exists. The
    /// new entry is durable only after `sync_dir` on the parent.
    fn create_dir(&self, path: &Path) -> io::Result<()>;

    /// Renames a file or a directory, atomically replacing a file at `to`.
    ///
    /// Readers see either the old or the new name, never both or neither. The
    /// change is durable only after `sync_dir` on both parents.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file or an empty directory.
    ///
    /// Must fail with [`io::ErrorKind::NotFound`] if `path` does not exist.
    /// The removal is durable only after `sync_dir` on the parent.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Lists the entries of `dir`, sorted by name.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;

    /// On `Ok`, every entry operation in `dir` that returned before this
    /// call (create, rename into or out of, remove) is durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// An open file. All I/O is positional; the file keeps no cursor.
pub trait File: Send + Sync + fmt::Debug {
    /// Reads into `buf` from `offset`, as far as the file extends.
    ///
    /// Returns the number of bytes read, which is less than `buf.len()` only
    /// when the end of the file was reached.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes all of `buf` at `offset`, extending the file with zeros if
    /// `offset` lies past its end.
    ///
    /// On `Err`, any prefix of `buf` may have been written (a short write).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;

    /// The file's current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Truncates or extends (with zeros) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;

    /// On `Ok`, the file's contents and length as of this call are durable
    /// (its name is not: see [`Fs::sync_dir`]).
    ///
    /// On `Err`, nothing is promised, and a later `Ok` does not make up for
    /// it: the kernel may have dropped the dirty data it failed to write.
    fn sync_data(&self) -> io::Result<()>;

    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Reads exactly `buf.len()` bytes from `offset`.
    ///
    /// Fails with [`io::ErrorKind::UnexpectedEof`] if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let n = self.read_at(buf, offset)?;
        if n < buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("short read: offset={offset} wanted={} got={n}", buf.len()),
            ));
        }
        Ok(())
    }

    /// Reads exactly `len` bytes from `offset` into a new buffer.
    ///
    /// Fails with [`io::ErrorKind::UnexpectedEof`] if the file ends first.
    /// The default reads into a zeroed buffer with [`File::read_exact_at`];
    /// an implementation may fill the buffer without zeroing it first
    /// (zeroing was 11% of a commitlog open's samples on RealFs).
    fn read_exact_vec_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// Reads the whole file.
    fn read_to_end(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len()?).map_err(io::Error::other)?;
        let mut buf = vec![0; len];
        let n = self.read_at(&mut buf, 0)?;
        buf.truncate(n);
        Ok(buf)
    }
}
