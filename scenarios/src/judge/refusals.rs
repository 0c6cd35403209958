//! A refused request leaves no trace: after a client's transaction ends
//! without a commit (an operation the engine refused and the client gave
//! up on, or a commit refused as too large), the engine's latest offset is
//! still the model's last submitted one, the latest state and `read_at`
//! of it equal the model there, no version past it is served, and the
//! durability queue holds exactly the commits the log has not taken yet.
//!
//! An operation refused in a transaction the client goes on with is
//! judged when that transaction commits: the committed state must be the
//! model's, which never applied the refused operation. A state that
//! differs is reported as the state or system-tables mismatch it is; an
//! offset used, a version served or a commit queued as
//! `refusal-left-trace`.

use faultline_engine::Database;
use faultline_engine::datastore::ReadError;

use super::reads::compare;
use super::{Checker, Facts, Invariant, RunEvent, Violation};

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct RefusalChecker;

impl Checker for RefusalChecker {
    fn name(&self) -> &str {
        "refusals"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        match event {
            RunEvent::Abandoned { client, db } => no_trace(*client, db, facts),
            _ => Ok(()),
        }
    }
}

fn no_trace(client: usize, db: &Database, facts: &Facts<'_>) -> Result<(), Violation> {
    let trace = |detail: String| {
        Violation::new(Invariant::REFUSAL_LEFT_TRACE, format!("client={client}: {detail}"))
    };
    let submitted = facts.model.submitted();
    let latest = db.latest().offset();
    if latest != Some(submitted) {
        return Err(trace(format!(
            "latest offset={latest:?} after a refusal, model submitted={submitted}: an offset was used"
        )));
    }
    // A state that differs is named for what differs (user or system
    // tables): the refusal is where it was seen, not necessarily its cause.
    let differs = |(invariant, detail): (Invariant, String)| {
        Violation::new(invariant, format!("client={client}: after a refusal, {detail}"))
    };
    compare("latest", submitted, db.latest(), facts.model).map_err(differs)?;
    match db.read_at(submitted) {
        Ok(state) => compare("read-at", submitted, state, facts.model).map_err(differs)?,
        Err(error) => return Err(trace(format!("read-at={submitted} refused: {error}"))),
    }
    match db.read_at(submitted + 1) {
        Err(ReadError::TooNew { .. }) => {}
        Ok(state) => {
            return Err(trace(format!(
                "read-at={} served offset={:?}: a version past the last commit",
                submitted + 1,
                state.offset()
            )));
        }
        Err(error) => return Err(trace(format!("read-at={}: {error}", submitted + 1))),
    }
    // Everything committed is in the log or queued for it, in order: the
    // queue holds exactly the offsets after the log's last.
    let in_log = db.log().last_offset().expect("an open database logged offset 0");
    let queued = db.queued() as u64;
    if in_log + queued != submitted {
        return Err(trace(format!(
            "queued={queued} with the log at offset={in_log} and model submitted={submitted}: \
             something was queued for durability"
        )));
    }
    Ok(())
}
