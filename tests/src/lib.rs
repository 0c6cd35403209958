//! faultline's cross-crate tests live in `tests/tests/`; this library holds
//! what the test binaries and the helper binaries in `src/bin` share.

pub mod broken_fs;
pub mod kill;
pub mod lazyfs;
pub mod misbehaving;
