//! What the engine serves: the recovered state equals the model at the
//! recovered offset, system tables included; `read_at(t)` equals the model
//! at `t` for every `t` of the MVCC window, and refuses just outside it.
//!
//! The window is worked out from the engine's documented retention, not
//! asked of the engine: an open publishes one version at the restored
//! snapshot's offset (or at 0), every transaction replayed or committed
//! publishes one more, and `versions_retained` of them are kept (the empty
//! state before the bootstrap counts as one while it is kept). So after an
//! open from `first` the window is `max(first, latest + 1 - retained) ..=
//! latest`.

use faultline_engine::Database;
use faultline_engine::datastore::{CommittedState, ReadError};

use super::{Checker, Facts, Invariant, RunEvent, Violation};
use crate::model::{self, Model};

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct ReadsChecker {
    /// The offset of the first version published since the last open.
    first_readable: u64,
}

impl Checker for ReadsChecker {
    fn name(&self) -> &str {
        "reads"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        match event {
            RunEvent::Opened { db, report } => {
                self.first_readable = report.restored_from.unwrap_or(0);
                let latest = db.latest();
                let offset = latest.offset().expect("an opened database holds offset 0");
                compare("recovered", offset, latest, facts.model).map_err(|(invariant, detail)| {
                    Violation::new(
                        invariant,
                        format!("{detail} (restored-from={:?})", report.restored_from),
                    )
                })
            }
            RunEvent::ReadCheck { db, picks } => self.check_reads(db, picks, facts),
            _ => Ok(()),
        }
    }
}

/// Compares what the engine serves as of `offset` with the model there:
/// first the encoded rows (cheap, nothing decoded), then, only if they
/// differ, the decoded dump, to say how.
pub(super) fn compare(
    what: &str,
    offset: u64,
    state: &CommittedState,
    model: &Model,
) -> Result<(), (Invariant, String)> {
    let expected = model.state_at(offset).ok_or((
        Invariant::BEYOND_SUBMITTED,
        format!("{what} offset={offset} was never submitted"),
    ))?;
    if model::serves(expected, state) {
        return Ok(());
    }
    let actual = model::dump_of(state.dump())
        .map_err(|why| (Invariant::STATE_MISMATCH, format!("{what} offset={offset}: {why}")))?;
    match model::diff(&expected.expected_dump(), &actual) {
        None => Err((
            Invariant::STATE_MISMATCH,
            format!(
                "{what} offset={offset}: the rows decode as expected but are not stored as FORMAT.md encodes them, or not listed in byte order"
            ),
        )),
        Some(diff) => {
            let invariant = if diff.system {
                Invariant::SYSTEM_TABLES_MISMATCH
            } else {
                Invariant::STATE_MISMATCH
            };
            Err((invariant, format!("{what} offset={offset}: {}", diff.text)))
        }
    }
}

impl ReadsChecker {
    fn check_reads(
        &self,
        db: &Database,
        picks: &[u64],
        facts: &Facts<'_>,
    ) -> Result<(), Violation> {
        let latest = db.latest().offset().expect("an opened database holds offset 0");
        let retained = facts.plan.options.versions_retained as u64;
        let oldest = self.first_readable.max((latest + 1).saturating_sub(retained));
        let window = |detail: String| Violation::new(Invariant::READ_AT_WINDOW, detail);
        for &pick in picks {
            let t = oldest + pick % (latest - oldest + 1);
            let state = db.read_at(t).map_err(|error| {
                window(format!(
                    "read-at={t} refused inside the window {oldest}..={latest}: {error}"
                ))
            })?;
            if state.offset() != Some(t) {
                return Err(Violation::new(
                    Invariant::READ_AT_MISMATCH,
                    format!("read-at={t} served offset={:?}", state.offset()),
                ));
            }
            compare("read-at", t, state, facts.model)
                .map_err(|(_, detail)| Violation::new(Invariant::READ_AT_MISMATCH, detail))?;
        }
        let refused = |offset: u64, too_new: bool| match db.read_at(offset) {
            Err(ReadError::TooNew { .. }) if too_new => Ok(()),
            Err(ReadError::TooOld { .. }) if !too_new => Ok(()),
            Err(error) => {
                Err(window(format!("read-at={offset} refused with the wrong error: {error}")))
            }
            Ok(state) => Err(window(format!(
                "read-at={offset} outside the window {oldest}..={latest} served offset={:?}",
                state.offset()
            ))),
        };
        refused(latest + 1, true)?;
        if oldest > 0 {
            refused(oldest - 1, false)?;
        }
        Ok(())
    }
}
