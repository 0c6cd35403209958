//! Durability and acknowledgement: a commit gets the next offset and
//! conflicts exactly when another transaction committed first; the engine
//! refuses exactly the operations the model refuses; the durable offset
//! never passes the submitted one nor goes back (the model's `commit` and
//! `acknowledge` check those as they record); a recovery comes back
//! between the acknowledged and the submitted offset (only below the
//! submitted one once a lying fsync voided durability).

use faultline_engine::datastore::TxError;
use faultline_engine::db::CommitError;

use super::{Checker, Facts, Invariant, RunEvent, Violation};

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct DurabilityChecker;

impl Checker for DurabilityChecker {
    fn name(&self) -> &str {
        "durability"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        let model = facts.model;
        match event {
            RunEvent::Began { client, latest } if *latest != Some(model.submitted()) => {
                Err(Violation::new(
                    Invariant::STATE_MISMATCH,
                    format!(
                        "client={client} began on engine latest-offset={latest:?}, model submitted={}",
                        model.submitted()
                    ),
                ))
            }
            RunEvent::TxOp { client, began_after, op, engine, .. } => {
                let modelled = facts.op_verdict.expect("the judge gives the model's verdict");
                match (modelled, engine) {
                    (Ok(()), Err(error)) => Err(Violation::new(
                        Invariant::TX_REFUSED,
                        format!("client={client} began-after={began_after} {op}: {error}"),
                    )),
                    (Err(reason), Ok(())) => Err(Violation::new(
                        Invariant::TX_ACCEPTED_INVALID,
                        format!("client={client} began-after={began_after} {op}: {reason}"),
                    )),
                    _ => Ok(()),
                }
            }
            RunEvent::Committed { client, began_after, offset, .. }
                if model.submitted() != *began_after =>
            {
                Err(Violation::new(
                    Invariant::CONFLICT_MISMATCH,
                    format!(
                        "client={client} offset={offset} committed though offset={} committed after it began",
                        model.submitted()
                    ),
                ))
            }
            RunEvent::CommitRefused { client, began_after, error } => {
                let conflict_expected = model.submitted() != *began_after;
                match error {
                    CommitError::Tx(TxError::Conflict { .. }) if conflict_expected => Ok(()),
                    CommitError::TooLarge { .. } => Ok(()),
                    CommitError::Tx(TxError::Conflict { .. }) => Err(Violation::new(
                        Invariant::CONFLICT_MISMATCH,
                        format!(
                            "client={client} began-after={began_after}: {error} without a concurrent commit"
                        ),
                    )),
                    error => Err(Violation::new(
                        Invariant::TX_REFUSED,
                        format!("client={client} began-after={began_after}: {error}"),
                    )),
                }
            }
            RunEvent::Opened { db, .. } => {
                let recovered = db.latest().offset().expect("an opened database holds offset 0");
                check_recovered(recovered, facts)
            }
            _ => Ok(()),
        }
    }
}

/// The recovered offset `p` must satisfy `acked <= p <= submitted` (only
/// `p <= submitted` once durability is void).
fn check_recovered(recovered: u64, facts: &Facts<'_>) -> Result<(), Violation> {
    let (acked, submitted) = (facts.model.acked(), facts.model.submitted());
    if recovered > submitted {
        return Err(Violation::new(
            Invariant::BEYOND_SUBMITTED,
            format!("recovered={recovered} submitted={submitted}"),
        ));
    }
    if let Some(acked) = acked.filter(|acked| recovered < *acked && !facts.faults.voided) {
        return Err(Violation::new(
            Invariant::ACKED_LOST,
            format!("recovered={recovered} acked={acked} submitted={submitted}"),
        ));
    }
    Ok(())
}
