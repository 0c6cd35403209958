//! Bytes into a whole case (with `arbitrary`): engine options, a
//! workload of transactions written as operations, and a fault schedule;
//! run on the simulated filesystem and judged by the same judge as every
//! sweep. The `scenario` fuzz target feeds it libFuzzer's bytes, and
//! `cargo test` replays its checked-in corpus on stable
//! (`tests/tests/fuzz_corpus.rs`).
//!
//! The operations are resolved against the model's state when a client
//! draws a transaction, so they may be valid or not: the judge checks the
//! engine refuses exactly what the model refuses. The schedule's
//! decisions are pinned by call index, as `faultline replay --schedule`
//! takes them.

use std::fmt;
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use faultline_engine::Options;
use faultline_engine::datastore::{ColumnDef, ColumnType, Row, Value};
use faultline_sim::{CrashMode, CrashTrigger, Decision, PinnedFault, Schedule, Seed, SimRng};
use rand::RngExt;

use crate::model::ModelState;
use crate::outcome::RunReport;
use crate::plan::{Plan, PlanError};
use crate::runner::{RunConfig, RunMode, run};
use crate::scenario::Scenario;
use crate::workload::{TxGenerator, TxOp, WorkloadShape};

/// The most transactions, operations per transaction and decisions a case
/// holds: enough for every path, small enough for fast executions.
const TXS_MAX: usize = 48;
const OPS_MAX: usize = 8;
const DECISIONS_MAX: usize = 8;
/// Pinned decisions land within this many filesystem calls.
const CALLS_SPAN: u64 = 600;

/// A whole case, as `arbitrary` builds it from bytes.
#[derive(Arbitrary, Clone, Debug)]
pub struct FuzzCase {
    seed: u64,
    segment: u8,
    buffer: u8,
    commit_txs: u8,
    retained: u8,
    clients: u8,
    transactions: Vec<Vec<FuzzOp>>,
    decisions: Vec<FuzzDecision>,
}

/// One operation, resolved against the state it is drawn on.
#[derive(Arbitrary, Clone, Debug)]
pub enum FuzzOp {
    /// Create table `t{name % 6}` with these column types.
    Create {
        /// Which name.
        name: u8,
        /// The column types (none: a malformed table).
        columns: Vec<FuzzType>,
    },
    /// Drop `t{name % 6}` (or a system table, for `name >= 250`).
    Drop {
        /// Which name.
        name: u8,
    },
    /// Insert these values into `t{table % 6}`.
    Insert {
        /// Which table.
        table: u8,
        /// The values (they may not fit the schema).
        values: Vec<FuzzValue>,
    },
    /// Insert a row that fits `t{table % 6}`'s schema, from `seed`.
    InsertFitting {
        /// Which table.
        table: u8,
        /// Draws the row.
        seed: u64,
    },
    /// Delete the `row`-th row of `t{table % 6}` (or a missing one).
    Delete {
        /// Which table.
        table: u8,
        /// Which row.
        row: u16,
    },
}

/// A column type.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum FuzzType {
    /// u64.
    U64,
    /// i64.
    I64,
    /// bool.
    Bool,
    /// string.
    String,
    /// bytes.
    Bytes,
}

/// A value.
#[derive(Arbitrary, Clone, Debug)]
pub enum FuzzValue {
    /// u64.
    U64(u64),
    /// i64.
    I64(i64),
    /// bool.
    Bool(bool),
    /// A string of `len` times `ch` (a-z).
    String {
        /// Its length.
        len: u16,
        /// Its letter.
        ch: u8,
    },
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A decision of the schedule.
#[derive(Arbitrary, Clone, Debug)]
pub enum FuzzDecision {
    /// A fault at a call.
    Fault {
        /// The call (within [`CALLS_SPAN`]).
        call: u16,
        /// The fault.
        fault: FuzzFault,
    },
    /// A crash instead of a call.
    Crash {
        /// The call.
        call: u16,
        /// A power loss (else a process crash).
        power_loss: bool,
        /// Whether writes persisted at the power loss may tear.
        torn: bool,
    },
}

/// A fault.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum FuzzFault {
    /// EIO, nothing written.
    WriteError,
    /// A prefix written, then EIO.
    ShortWrite(u16),
    /// ENOSPC.
    NoSpace,
    /// A failed sync.
    FsyncError,
    /// A flipped bit in a read.
    ReadBitFlip(u16, u8),
    /// A write landing `sectors` sectors away.
    Misdirected(i8),
}

impl FuzzCase {
    /// The case `bytes` make, if they make one.
    pub fn from_bytes(bytes: &[u8]) -> Option<FuzzCase> {
        let mut case = FuzzCase::arbitrary_take_rest(Unstructured::new(bytes)).ok()?;
        case.transactions.truncate(TXS_MAX);
        case.transactions.retain(|tx| !tx.is_empty());
        case.transactions.iter_mut().for_each(|tx| tx.truncate(OPS_MAX));
        case.decisions.truncate(DECISIONS_MAX);
        (!case.transactions.is_empty()).then_some(case)
    }

    /// The fault schedule, as `faultline replay --schedule` takes it.
    pub fn schedule(&self) -> Schedule {
        // After the runner's setup: a crash there is no case of the engine's.
        let call = |call: u16| crate::runner::SETUP_CALLS + 1 + u64::from(call) % CALLS_SPAN;
        let decisions = self
            .decisions
            .iter()
            .map(|decision| match *decision {
                FuzzDecision::Crash { call: at, power_loss, torn } => Decision::Crash {
                    trigger: CrashTrigger::Call(call(at)),
                    mode: if power_loss { CrashMode::PowerLoss } else { CrashMode::ProcessCrash },
                    torn: torn && power_loss,
                },
                FuzzDecision::Fault { call: at, fault } => {
                    let fault = match fault {
                        FuzzFault::WriteError => PinnedFault::WriteError,
                        FuzzFault::ShortWrite(n) => PinnedFault::ShortWrite { written: n.into() },
                        FuzzFault::NoSpace => PinnedFault::NoSpace,
                        FuzzFault::FsyncError => PinnedFault::FsyncError,
                        FuzzFault::ReadBitFlip(delta, bit) => {
                            PinnedFault::ReadBitFlip { delta: delta.into(), bit: bit % 8 }
                        }
                        FuzzFault::Misdirected(sectors) => PinnedFault::MisdirectedWrite {
                            shift: i64::from(if sectors == 0 { 1 } else { sectors }) * 512,
                        },
                    };
                    Decision::Fault { call: call(at), fault }
                }
            })
            .collect();
        Schedule { decisions }
    }

    /// Runs the case, pinned to its schedule, and judges it.
    pub fn run(&self) -> RunReport {
        let config = RunConfig {
            mode: RunMode::Pinned(self.schedule()),
            keep_trace: true,
            ..RunConfig::default()
        };
        run(&FuzzScenario(self.clone()), Seed(self.seed), &config)
    }
}

/// Runs the case `bytes` make; panics, with the case and the failure
/// report, if the judge found anything. Returns whether the bytes made a
/// case.
pub fn check_bytes(bytes: &[u8]) -> bool {
    let Some(case) = FuzzCase::from_bytes(bytes) else { return false };
    let report = case.run();
    if report.outcome.is_failure() {
        panic!(
            "the fuzzed case failed:\n{}  schedule: {}\n{case:#?}",
            crate::report::failure_text(&report),
            report.schedule
        );
    }
    true
}

/// A fuzzed case as a scenario (named `fuzz`).
struct FuzzScenario(FuzzCase);

impl Scenario for FuzzScenario {
    fn name(&self) -> &str {
        "fuzz"
    }

    fn summary(&self) -> &str {
        "a case made from fuzzer bytes: options, transactions and a fault schedule"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let case = &self.0;
        let pick = |choices: &[u64], at: u8| choices[usize::from(at) % choices.len()];
        let mut options = Options::default();
        options.log.max_segment_size = pick(&[16 << 10, 32 << 10, 1 << 20], case.segment);
        options.log.write_buffer_size = pick(&[0, 512, 4096], case.buffer) as usize;
        options.durability.commit_txs_max = pick(&[1, 4, 1024], case.commit_txs) as usize;
        options.versions_retained = pick(&[2, 16, 1024], case.retained) as usize;
        let clients = 1 + usize::from(case.clients % 3);
        let workload = WorkloadShape {
            clients,
            txs_per_client: case.transactions.len().div_ceil(clients),
            ..WorkloadShape::default()
        };
        let crashes = case.decisions.iter().filter(|d| matches!(d, FuzzDecision::Crash { .. }));
        Plan::builder(seed)
            .options(options)
            .workload(workload)
            .generator(Arc::new(Replayed(case.transactions.clone())))
            .restarts(crashes.count() + 1)
            .read_checks(4)
            .build()
    }
}

/// Draws one of the case's transactions and resolves it against the
/// state it begins on.
struct Replayed(Vec<Vec<FuzzOp>>);

impl fmt::Debug for Replayed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Replayed({} transactions)", self.0.len())
    }
}

const NAMES: usize = 6;

fn table_name(n: u8) -> String {
    format!("t{}", usize::from(n) % NAMES)
}

impl TxGenerator for Replayed {
    fn name(&self) -> &str {
        "fuzzed"
    }

    fn generate(&self, base: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Vec<TxOp> {
        let tx = &self.0[rng.random_range(0..self.0.len())];
        let mut view = base.clone();
        let mut ops = Vec::with_capacity(tx.len());
        for op in tx {
            let op = resolve(op, &view, shape);
            // Later operations see the earlier ones that the model accepts,
            // as the engine's transaction does.
            let _ = view.apply(&op);
            ops.push(op);
        }
        ops
    }
}

fn resolve(op: &FuzzOp, view: &ModelState, shape: &WorkloadShape) -> TxOp {
    match op {
        FuzzOp::Create { name, columns } => TxOp::CreateTable {
            name: table_name(*name),
            columns: columns
                .iter()
                .take(8)
                .enumerate()
                .map(|(i, ty)| ColumnDef::new(&format!("c{i}"), column_type(*ty)))
                .collect(),
        },
        FuzzOp::Drop { name } if *name >= 250 => TxOp::DropTable { name: "st_column".to_owned() },
        FuzzOp::Drop { name } => TxOp::DropTable { name: table_name(*name) },
        FuzzOp::Insert { table, values } => TxOp::Insert {
            table: table_name(*table),
            row: values.iter().take(8).map(value).collect(),
        },
        FuzzOp::InsertFitting { table, seed } => {
            let name = table_name(*table);
            let row = match view.tables.get(name.as_str()) {
                Some(table) => {
                    let mut rng = Seed(*seed).rng(faultline_sim::Stream::Workload);
                    crate::workload::random_row(&table.columns, shape, &mut rng)
                }
                None => vec![Value::U64(*seed)],
            };
            TxOp::Insert { table: name, row }
        }
        FuzzOp::Delete { table, row } => {
            let name = table_name(*table);
            let row: Row = view
                .tables
                .get(name.as_str())
                .filter(|t| !t.rows.is_empty())
                .map(|t| {
                    let index = usize::from(*row) % t.rows.len();
                    t.rows.iter().nth(index).expect("in range").to_vec()
                })
                .unwrap_or_else(|| vec![Value::U64(u64::from(*row))]);
            TxOp::Delete { table: name, row }
        }
    }
}

fn column_type(ty: FuzzType) -> ColumnType {
    match ty {
        FuzzType::U64 => ColumnType::U64,
        FuzzType::I64 => ColumnType::I64,
        FuzzType::Bool => ColumnType::Bool,
        FuzzType::String => ColumnType::String,
        FuzzType::Bytes => ColumnType::Bytes,
    }
}

fn value(value: &FuzzValue) -> Value {
    match value {
        FuzzValue::U64(v) => Value::U64(*v),
        FuzzValue::I64(v) => Value::I64(*v),
        FuzzValue::Bool(v) => Value::Bool(*v),
        FuzzValue::String { len, ch } => {
            let letter = char::from(b'a' + ch % 26);
            Value::String(std::iter::repeat_n(letter, usize::from(*len) % 5000).collect())
        }
        FuzzValue::Bytes(bytes) => Value::Bytes(bytes.clone()),
    }
}
