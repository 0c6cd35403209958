//! The simulated tasks of an incarnation: clients that commit with
//! simulated think times (some holding a transaction across a wait, some
//! waiting for their acknowledgement), the durability task that runs the
//! engine's durability steps, readers that have `read_at` checked, the
//! plan's engine tasks, and the crash timer. Every task re-checks
//! `World::stop` after each wait and ends once the incarnation stopped.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use faultline_sim::SimRng;
use rand::RngExt;

use crate::judge::RunEvent;
use crate::outcome::FailureKind;
use crate::plan::EngineTask;
use crate::runtime::sleep;

use super::world::World;

/// The world, shared by the tasks of a run.
pub(super) type Shared = Rc<RefCell<World>>;

/// How long a client waits for its acknowledgement before the run counts
/// as hung (simulated milliseconds, polled each millisecond).
const ACK_WAIT_MS_MAX: u64 = 60_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A client: commits `txs_per_client` transactions.
pub(super) async fn client(shared: Shared, client: usize, mut work: SimRng, mut sched: SimRng) {
    let shape = shared.borrow().plan.workload.clone();
    let scripted = shared.borrow().scripted_txs(client);
    for nth in 0..shape.txs_per_client {
        sleep(ms(sched.random_range(1..=shape.think_ms_max))).await;
        let hold = sched.random_range(0..100) < shape.hold_percent;
        let wait_ack = sched.random_range(0..100) < shape.wait_ack_percent;
        // A script's client ends where its recorded one was stopped (at
        // its next begin): the same point in the same run.
        if scripted.is_some_and(|txs| nth >= txs) {
            break;
        }
        let offset = if hold {
            // Held across a wait: another client may commit meanwhile, and
            // the commit must then be refused as a conflict.
            let Some(tx) = shared.borrow_mut().begin(client) else { break };
            sleep(ms(sched.random_range(1..=shape.think_ms_max))).await;
            shared.borrow_mut().commit(client, nth, tx, &mut work)
        } else {
            let mut world = shared.borrow_mut();
            let Some(tx) = world.begin(client) else { break };
            world.commit(client, nth, tx, &mut work)
        };
        if shared.borrow().is_stopped() {
            break;
        }
        if let (Some(offset), true) = (offset, wait_ack)
            && !wait_for_ack(&shared, client, offset).await
        {
            break;
        }
    }
    shared.borrow_mut().clients_running -= 1;
}

/// Waits until `offset` is durable; `false` if the incarnation stopped
/// first.
async fn wait_for_ack(shared: &Shared, client: usize, offset: u64) -> bool {
    for _ in 0..ACK_WAIT_MS_MAX {
        sleep(ms(1)).await;
        let mut world = shared.borrow_mut();
        if world.is_stopped() {
            return false;
        }
        if world.is_durable(offset) {
            world.event(format!("ack client={client} offset={offset}"));
            return true;
        }
    }
    shared.borrow_mut().fail(
        FailureKind::Hang,
        format!(
            "client={client} waited {ACK_WAIT_MS_MAX} ms for offset={offset} to become durable"
        ),
    );
    false
}

/// The modelled latencies of a durability step (simulated microseconds):
/// the write reaching the page cache, then the device taking the sync
/// (the fsync is in flight all that time: a crash then finds the commit
/// written, not synced, and a power loss may tear it), then the step
/// telling its clients. The durability task waits each between the
/// step's parts, so that timed crashes land inside a step as on a real
/// machine. (madsim sleeps at least 1 ms: each wait is 1 ms or more.)
const WRITE_US: std::ops::RangeInclusive<u64> = 5..=100;
const SYNC_US: std::ops::RangeInclusive<u64> = 50..=2_000;
const PUBLISH_US: std::ops::RangeInclusive<u64> = 1..=20;

/// The durability task: a step every few milliseconds while there is
/// something queued; ends once the clients are done and nothing is queued.
/// Each step is written, synced and published in three parts, with the
/// device's latency between them (other tasks run meanwhile).
pub(super) async fn durability(shared: Shared, interval_ms_max: u64, mut sched: SimRng) {
    loop {
        sleep(ms(sched.random_range(1..=interval_ms_max))).await;
        let mut step = {
            let mut world = shared.borrow_mut();
            if world.is_stopped() {
                return;
            }
            let queued = world.db.as_ref().map_or(0, faultline_engine::Database::queued);
            if queued == 0 {
                if world.clients_running == 0 {
                    return;
                }
                continue;
            }
            let Some(step) = world.durability_write() else { continue };
            step
        };
        let device_us = sched.random_range(WRITE_US) + sched.random_range(SYNC_US);
        sleep(Duration::from_micros(device_us)).await;
        if !shared.borrow_mut().durability_sync(&mut step) {
            return;
        }
        sleep(Duration::from_micros(sched.random_range(PUBLISH_US))).await;
        shared.borrow_mut().durability_publish(step);
    }
}

/// A reader: has `read_at` checked at random retained offsets.
pub(super) async fn reader(shared: Shared, reads: usize, think_ms_max: u64, mut rng: SimRng) {
    for _ in 0..reads {
        sleep(ms(rng.random_range(1..=think_ms_max))).await;
        let mut world = shared.borrow_mut();
        if world.is_stopped() {
            return;
        }
        let pick = rng.random();
        world.check_reads(&[pick]);
    }
}

/// An engine task: steps until the clients are done.
pub(super) async fn engine_task(shared: Shared, mut task: Box<dyn EngineTask>, mut sched: SimRng) {
    loop {
        sleep(task.interval(&mut sched)).await;
        let mut world = shared.borrow_mut();
        if world.is_stopped() || world.clients_running == 0 {
            return;
        }
        world.engine_task_step(task.as_mut());
    }
}

/// The crash timer of incarnation `incarnation`: sleeps to each deadline
/// the filesystem names for it (the plan's, or a pinned schedule's) and
/// lets the filesystem decide whether the machine goes down then. The
/// supervisor aborts it when the incarnation ends.
pub(super) async fn crash_timer(shared: Shared, incarnation: u32) {
    loop {
        let (now, deadline) = {
            let world = shared.borrow();
            let now = world.now_ns();
            let Some(sim) = &world.sim else { return };
            (now, sim.crash_timer_deadline(incarnation, now))
        };
        let Some(deadline) = deadline else { return };
        sleep(Duration::from_nanos(deadline.saturating_sub(now))).await;
        let mut world = shared.borrow_mut();
        if world.is_stopped() {
            return;
        }
        let Some(sim) = world.sim.clone() else { return };
        if let Some(mode) = sim.fire_crash_timer(incarnation, deadline) {
            world.event(format!("crash mode={} cause=timer", mode.name()));
            world.emit(&RunEvent::WentDown { mode, cause: "timer" });
            world.crashed();
            return;
        }
    }
}
