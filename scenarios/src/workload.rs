//! The workload: what the simulated clients do, drawn from the seed's
//! workload stream against the model's present state, so that every
//! generated transaction is valid (the engine must accept it).

use faultline_engine::datastore::{ColumnDef, ColumnType, ROW_SIZE_MAX, Row, Value};
use faultline_sim::SimRng;
use rand::RngExt;

use crate::model::{ModelState, TxOp};

/// The shape of a workload: how many clients, how big their transactions,
/// how they pace themselves. Drawn by a scenario from the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadShape {
    /// Concurrent client tasks. At least 1.
    pub clients: usize,
    /// Transactions each client commits per incarnation.
    pub txs_per_client: usize,
    /// The most operations in one transaction (at least 1).
    pub ops_per_tx_max: usize,
    /// Percent of operations that create or drop a table.
    pub ddl_percent: u32,
    /// The most user tables at once.
    pub tables_max: usize,
    /// Above this many rows a table is only deleted from.
    pub rows_per_table_max: usize,
    /// The longest string or bytes value.
    pub value_len_max: usize,
    /// A client waits up to this long (simulated) between transactions.
    pub think_ms_max: u64,
    /// Percent of transactions held open across a wait before committing
    /// (they conflict if another client commits meanwhile).
    pub hold_percent: u32,
    /// Percent of transactions whose client waits for the acknowledgement.
    pub wait_ack_percent: u32,
    /// Reader tasks checking `read_at` against the model while clients run.
    pub readers: usize,
    /// `read_at` checks each reader makes per incarnation.
    pub reads_per_reader: usize,
    /// The durability task waits between 1 and this many ms between steps.
    pub durability_interval_ms_max: u64,
}

impl Default for WorkloadShape {
    fn default() -> Self {
        WorkloadShape {
            clients: 2,
            txs_per_client: 20,
            ops_per_tx_max: 6,
            ddl_percent: 8,
            tables_max: 3,
            rows_per_table_max: 64,
            value_len_max: 64,
            think_ms_max: 5,
            hold_percent: 10,
            wait_ack_percent: 30,
            readers: 0,
            reads_per_reader: 0,
            durability_interval_ms_max: 4,
        }
    }
}

impl WorkloadShape {
    /// Draws a shape: the swarm's workload dimension.
    pub fn draw(rng: &mut SimRng) -> Self {
        WorkloadShape {
            clients: rng.random_range(1..=4),
            txs_per_client: rng.random_range(5..=30),
            ops_per_tx_max: rng.random_range(1..=10),
            ddl_percent: rng.random_range(0..=20),
            tables_max: rng.random_range(1..=5),
            rows_per_table_max: rng.random_range(8..=128),
            value_len_max: *pick(rng, &[8, 64, 300, 900]),
            think_ms_max: rng.random_range(1..=20),
            hold_percent: rng.random_range(0..=30),
            wait_ack_percent: rng.random_range(0..=100),
            readers: rng.random_range(0..=2),
            reads_per_reader: rng.random_range(0..=10),
            durability_interval_ms_max: rng.random_range(1..=25),
        }
    }

    /// Refuses shapes the runner cannot drive.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 || self.ops_per_tx_max == 0 || self.tables_max == 0 {
            return Err("clients, ops-per-tx-max and tables-max must be at least 1".to_owned());
        }
        if self.think_ms_max == 0 || self.durability_interval_ms_max == 0 {
            return Err("think-ms-max and durability-interval-ms-max must be at least 1".to_owned());
        }
        if self.ddl_percent > 100 || self.hold_percent > 100 || self.wait_ack_percent > 100 {
            return Err("percentages must lie in 0..=100".to_owned());
        }
        Ok(())
    }
}

fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Generates one transaction that is valid on `base`: at least one
/// operation, each valid after the ones before it.
pub fn generate_tx(base: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Vec<TxOp> {
    let mut view = base.clone();
    let n = rng.random_range(1..=shape.ops_per_tx_max);
    let mut ops = Vec::with_capacity(n);
    // A bounded number of tries: an operation that cannot be made (no row
    // to delete, a duplicate drawn) is skipped, not retried forever.
    for _ in 0..n * 4 {
        if ops.len() == n {
            break;
        }
        if let Some(op) = generate_op(&view, shape, rng) {
            view.apply(&op).expect("generated operations are valid on the view");
            ops.push(op);
        }
    }
    if ops.is_empty() {
        let op = create_table(&view, shape, rng)
            .or_else(|| drop_table(&view, rng))
            .expect("a table can always be created or dropped");
        ops.push(op);
    }
    ops
}

fn generate_op(view: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Option<TxOp> {
    if view.tables.is_empty() || rng.random_range(0..100) < shape.ddl_percent {
        return if rng.random_bool(0.6) || view.tables.is_empty() {
            create_table(view, shape, rng).or_else(|| drop_table(view, rng))
        } else {
            drop_table(view, rng)
        };
    }
    let names: Vec<&String> = view.tables.keys().collect();
    let name = (*pick(rng, &names)).clone();
    let table = &view.tables[&name];
    let delete = !table.rows.is_empty()
        && (table.rows.len() >= shape.rows_per_table_max || rng.random_bool(0.3));
    if delete {
        let index = rng.random_range(0..table.rows.len());
        let row = table.rows.iter().nth(index).expect("index in range").clone();
        return Some(TxOp::Delete { table: name, row });
    }
    let row = generate_row(&table.columns, shape, rng);
    (!table.rows.contains(&row)).then_some(TxOp::Insert { table: name, row })
}

/// Table names come from a small pool, so that names are dropped and
/// created again with other schemas (the repair step's hard case).
fn create_table(view: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Option<TxOp> {
    if view.tables.len() >= shape.tables_max {
        return None;
    }
    let free: Vec<String> = (0..shape.tables_max * 2)
        .map(|i| format!("t{i}"))
        .filter(|name| !view.tables.contains_key(name))
        .collect();
    let name = pick(rng, &free).clone();
    let n_columns = rng.random_range(1..=5);
    let columns = (0..n_columns)
        .map(|i| ColumnDef::new(&format!("c{i}"), *pick(rng, &ColumnType::ALL)))
        .collect();
    Some(TxOp::CreateTable { name, columns })
}

fn drop_table(view: &ModelState, rng: &mut SimRng) -> Option<TxOp> {
    let names: Vec<&String> = view.tables.keys().collect();
    (!names.is_empty()).then(|| TxOp::DropTable { name: (*pick(rng, &names)).clone() })
}

fn generate_row(columns: &[ColumnDef], shape: &WorkloadShape, rng: &mut SimRng) -> Row {
    // Every row must fit a page: the variable-length values share half of
    // one, whatever `value_len_max` says.
    let len_max = shape.value_len_max.min(ROW_SIZE_MAX / 2 / columns.len().max(1));
    columns
        .iter()
        .map(|column| match column.ty {
            ColumnType::U64 => Value::U64(rng.random()),
            ColumnType::I64 => Value::I64(rng.random()),
            ColumnType::Bool => Value::Bool(rng.random()),
            ColumnType::String => {
                let len = rng.random_range(0..=len_max);
                Value::String((0..len).map(|_| rng.random_range(b'a'..=b'z') as char).collect())
            }
            ColumnType::Bytes => {
                let len = rng.random_range(0..=len_max);
                Value::Bytes((0..len).map(|_| rng.random()).collect())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use faultline_engine::datastore::encode_row;
    use faultline_sim::{Seed, Stream};

    use super::*;

    #[test]
    fn generated_transactions_apply_to_the_model_and_repeat_per_seed() {
        let shape = WorkloadShape { ddl_percent: 20, ..WorkloadShape::default() };
        let run = |seed| {
            let mut rng = Seed(seed).rng(Stream::Workload);
            let mut state = ModelState::default();
            let mut all = Vec::new();
            for _ in 0..200 {
                let ops = generate_tx(&state, &shape, &mut rng);
                assert!(!ops.is_empty());
                for op in &ops {
                    state.apply(op).unwrap();
                }
                all.push(ops);
            }
            all
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        let drops =
            run(5).iter().flatten().filter(|op| matches!(op, TxOp::DropTable { .. })).count();
        assert!(drops > 0, "the workload drops tables");
    }

    #[test]
    fn every_generated_row_fits_a_page() {
        let shape = WorkloadShape { value_len_max: 100_000, ..WorkloadShape::default() };
        let mut rng = Seed(9).rng(Stream::Workload);
        for n_columns in 1..=5 {
            let columns: Vec<ColumnDef> = (0..n_columns)
                .map(|i| ColumnDef::new(&format!("c{i}"), ColumnType::Bytes))
                .collect();
            for _ in 0..50 {
                let row = generate_row(&columns, &shape, &mut rng);
                assert!(encode_row(&row).len() <= ROW_SIZE_MAX, "columns={n_columns}");
            }
        }
    }
}
