//! [`RealFs`]: the storage seam on `std::fs`, for production.
//!
//! This is the one engine module allowed to touch `std::fs` (see
//! `engine/clippy.toml`): it *is* the door.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{DirEntry, EntryKind, File, Fs};

/// The storage seam on the host's filesystem.
///
/// `sync_data` is `fdatasync(2)`; `sync_dir` opens the directory and
/// `fsync(2)`s it, which is what makes entry operations durable on Linux.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

/// A file opened by [`RealFs`].
#[derive(Debug)]
struct RealFile {
    file: fs::File,
    path: PathBuf,
    /// Held while [`File::read_exact_vec_at`] moves the handle's cursor,
    /// which nothing else uses: every other call is positional.
    cursor: parking_lot::Mutex<()>,
}

impl RealFile {
    fn new(file: fs::File, path: &Path) -> Self {
        RealFile { file, path: path.to_owned(), cursor: parking_lot::Mutex::new(()) }
    }
}

impl RealFs {
    /// A handle on the host's filesystem.
    pub fn new() -> Self {
        RealFs
    }
}

/// Adds the path to an error so that a failure names its file.
fn with_path(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

impl Fs for RealFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| with_path(path, e))?;
        Ok(Box::new(RealFile::new(file, path)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| with_path(path, e))?;
        Ok(Box::new(RealFile::new(file, path)))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path).map_err(|e| with_path(path, e))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to).map_err(|e| with_path(from, e))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let metadata = fs::symlink_metadata(path).map_err(|e| with_path(path, e))?;
        if metadata.is_dir() {
            fs::remove_dir(path).map_err(|e| with_path(path, e))
        } else {
            fs::remove_file(path).map_err(|e| with_path(path, e))
        }
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| with_path(dir, e))? {
            let entry = entry.map_err(|e| with_path(dir, e))?;
            let name = entry.file_name().into_string().map_err(|name| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: entry name is not UTF-8: {name:?}", dir.display()),
                )
            })?;
            let kind = if entry.file_type()?.is_dir() { EntryKind::Dir } else { EntryKind::File };
            entries.push(DirEntry { name, kind });
        }
        entries.sort();
        Ok(entries)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        fs::File::open(dir).and_then(|handle| handle.sync_all()).map_err(|e| with_path(dir, e))
    }
}

impl File for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let at = offset + filled as u64;
            match self.file.read_at(&mut buf[filled..], at) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(with_path(&self.path, e)),
            }
        }
        Ok(filled)
    }

    /// Reads through the handle's cursor, whose `read_to_end` fills the
    /// buffer's spare capacity without zeroing it first (`pread` needs an
    /// initialised slice, and safe code cannot give it uninitialised bytes).
    fn read_exact_vec_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        let _cursor = self.cursor.lock();
        let mut handle = &self.file;
        let mut buf = Vec::with_capacity(len);
        handle
            .seek(SeekFrom::Start(offset))
            .and_then(|_| handle.take(len as u64).read_to_end(&mut buf))
            .map_err(|e| with_path(&self.path, e))?;
        if buf.len() < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: short read: offset={offset} wanted={len} got={}",
                    self.path.display(),
                    buf.len()
                ),
            ));
        }
        assert_eq!(buf.len(), len, "take reads no more than it was given");
        Ok(buf)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset).map_err(|e| with_path(&self.path, e))
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata().map_err(|e| with_path(&self.path, e))?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len).map_err(|e| with_path(&self.path, e))
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data().map_err(|e| with_path(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_write_read_sync_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new();
        let path = dir.path().join("a");
        let file = fs.create(&path).unwrap();
        file.write_at(b"hello", 0).unwrap();
        file.write_at(b"!", 7).unwrap();
        file.sync_data().unwrap();
        fs.sync_dir(dir.path()).unwrap();
        assert_eq!(file.len().unwrap(), 8);
        assert_eq!(file.read_to_end().unwrap(), b"hello\0\0!");

        let err = fs.create(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");

        // The buffer read without zeroing: any range, again and again (the
        // cursor is put where each read starts), and a short file refused.
        assert_eq!(file.read_exact_vec_at(3, 1).unwrap(), b"ell");
        assert_eq!(file.read_exact_vec_at(8, 0).unwrap(), b"hello\0\0!");
        assert_eq!(file.read_exact_vec_at(0, 8).unwrap(), b"");
        let short = file.read_exact_vec_at(4, 6).unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
        assert!(short.to_string().contains("wanted=4 got=2"), "{short}");
        assert!(short.to_string().contains(&path.display().to_string()), "{short}");
        file.write_at(b"H", 0).unwrap();
        assert_eq!(file.read_exact_vec_at(2, 0).unwrap(), b"He", "reads see later writes");

        file.set_len(2).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(fs.open(&path).unwrap().read_at(&mut buf, 0).unwrap(), 2);
        assert_eq!(&buf[..2], b"He");
    }

    #[test]
    fn directories_list_sorted_rename_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new();
        fs.create_dir(&dir.path().join("snap.tmp")).unwrap();
        fs.create(&dir.path().join("b")).unwrap();
        fs.create(&dir.path().join("a")).unwrap();
        fs.rename(&dir.path().join("snap.tmp"), &dir.path().join("snap")).unwrap();
        let names: Vec<_> = fs.list_dir(dir.path()).unwrap();
        assert_eq!(
            names,
            vec![
                DirEntry { name: "a".into(), kind: EntryKind::File },
                DirEntry { name: "b".into(), kind: EntryKind::File },
                DirEntry { name: "snap".into(), kind: EntryKind::Dir },
            ]
        );
        fs.remove(&dir.path().join("snap")).unwrap();
        fs.remove(&dir.path().join("a")).unwrap();
        assert_eq!(fs.list_dir(dir.path()).unwrap().len(), 1);
        assert_eq!(fs.open(&dir.path().join("a")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
