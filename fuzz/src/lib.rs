//! The bodies of faultline's fuzz targets (see `bodies.rs`).
#[path = "bodies.rs"]
pub mod bodies;
