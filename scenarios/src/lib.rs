//! faultline's scenarios, the oracle that judges them, and the runner.
//!
//! Not built yet: the scenario runner and the `faultline` CLI arrive with
//! issue 6. This crate exists now so that the workspace has its final shape.
