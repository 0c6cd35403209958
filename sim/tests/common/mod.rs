//! Helpers shared by the SimFs tests.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use faultline_engine::fs::{File, Fs};
use faultline_sim::{FaultConfig, Seed, SimFs};

/// A filesystem holding `/f` with `base` synced and its entry synced.
pub fn fs_with_durable_file(seed: u64, config: FaultConfig, base: &[u8]) -> (SimFs, Box<dyn File>) {
    let fs = SimFs::new(Seed(seed), config);
    let file = fs.create(Path::new("/f")).unwrap();
    file.write_at(base, 0).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    (fs, file)
}

/// Reads a whole file on a (re)opened filesystem, `None` if it is gone.
pub fn read(fs: &SimFs, path: &str) -> Option<Vec<u8>> {
    match fs.open(Path::new(path)) {
        Ok(file) => Some(file.read_to_end().unwrap()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("open {path}: {e}"),
    }
}
