//! A workload as data: every transaction each client of each incarnation
//! sent, recorded from a run, replayable instead of the generator, and
//! small enough to read. The shrinker removes incarnations, clients,
//! transactions and operations from it; `faultline shrink --emit` writes
//! it into a regression case (`crate::regress`) that replays without the
//! seed-driven transaction generator.
//!
//! A replay sends each recorded operation as it is. A refused operation
//! ends its transaction if the recorded one ended there (the last
//! operation, marked `aborts`); otherwise the client goes on with the next,
//! as the recorded client did.
//!
//! Text form, one line each (`#` starts a comment):
//!
//! ```text
//! incarnation 0
//!   client 0
//!     tx
//!       create t1(c0:u64,c1:string)
//!       insert t1 (u64:7,str:6869)
//!     tx aborts
//!       drop st_table
//! ```
//!
//! Values are typed: `u64:7`, `i64:-3`, `bool:true`, `str:<hex of the
//! UTF-8>`, `bytes:<hex>`. Table and column names are written as they are
//! and must be `[A-Za-z0-9_.-]+`.

use std::fmt;
use std::str::FromStr;

use faultline_engine::datastore::{ColumnDef, ColumnType, Value};

use crate::workload::TxOp;

/// One transaction as a client sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptedTx {
    /// The operations, in order.
    pub ops: Vec<TxOp>,
    /// Whether the client ended the transaction when its last operation
    /// was refused (instead of going on).
    pub aborts: bool,
}

/// The transactions of every client of every incarnation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Incarnation, then client, then its transactions in order.
    pub incarnations: Vec<Vec<Vec<ScriptedTx>>>,
}

/// The size of a script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScriptSize {
    /// Incarnations.
    pub incarnations: usize,
    /// Clients, over all incarnations.
    pub clients: usize,
    /// Transactions.
    pub txs: usize,
    /// Operations.
    pub ops: usize,
}

impl Script {
    /// Its size.
    pub fn size(&self) -> ScriptSize {
        let clients = self.incarnations.iter().map(Vec::len).sum();
        let txs = self.incarnations.iter().flatten().map(Vec::len).sum();
        let ops = self.incarnations.iter().flatten().flatten().map(|tx| tx.ops.len()).sum();
        ScriptSize { incarnations: self.incarnations.len(), clients, txs, ops }
    }

    /// The transactions of `client` in `incarnation` (none past the
    /// script's end).
    pub fn txs(&self, incarnation: usize, client: usize) -> &[ScriptedTx] {
        self.incarnations.get(incarnation).and_then(|c| c.get(client)).map_or(&[], Vec::as_slice)
    }

    /// Records that `incarnation` ran `clients` clients (some may send
    /// nothing before a crash).
    pub fn spawned(&mut self, incarnation: usize, clients: usize) {
        if self.incarnations.len() <= incarnation {
            self.incarnations.resize_with(incarnation + 1, Vec::new);
        }
        let spawned = &mut self.incarnations[incarnation];
        if spawned.len() < clients {
            spawned.resize_with(clients, Vec::new);
        }
    }

    /// Records `tx` as the next transaction of `client` in `incarnation`.
    pub fn record(&mut self, incarnation: usize, client: usize, tx: ScriptedTx) {
        if self.incarnations.len() <= incarnation {
            self.incarnations.resize_with(incarnation + 1, Vec::new);
        }
        let clients = &mut self.incarnations[incarnation];
        if clients.len() <= client {
            clients.resize_with(client + 1, Vec::new);
        }
        clients[client].push(tx);
    }
}

impl fmt::Display for ScriptSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "incarnations={} clients={} txs={} ops={}",
            self.incarnations, self.clients, self.txs, self.ops
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd hex length: {text:?}"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| format!("not hex: {text:?}")))
        .collect()
}

/// Whether `name` is written as it is in the text form.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn name(text: &str) -> Result<String, String> {
    if plain_name(text) { Ok(text.to_owned()) } else { Err(format!("bad name {text:?}")) }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::U64(v) => format!("u64:{v}"),
        Value::I64(v) => format!("i64:{v}"),
        Value::Bool(v) => format!("bool:{v}"),
        Value::String(text) => format!("str:{}", hex(text.as_bytes())),
        Value::Bytes(bytes) => format!("bytes:{}", hex(bytes)),
    }
}

fn parse_value(text: &str) -> Result<Value, String> {
    let bad = || format!("bad value {text:?}");
    match text.split_once(':') {
        Some(("u64", v)) => v.parse().map(Value::U64).map_err(|_| bad()),
        Some(("i64", v)) => v.parse().map(Value::I64).map_err(|_| bad()),
        Some(("bool", v)) => v.parse().map(Value::Bool).map_err(|_| bad()),
        Some(("str", v)) => String::from_utf8(unhex(v)?).map(Value::String).map_err(|_| bad()),
        Some(("bytes", v)) => unhex(v).map(Value::Bytes),
        _ => Err(format!("bad value {text:?}: expected u64:, i64:, bool:, str: or bytes:")),
    }
}

fn parse_type(text: &str) -> Result<ColumnType, String> {
    ColumnType::ALL
        .into_iter()
        .find(|ty| ty.to_string() == text)
        .ok_or_else(|| format!("unknown column type {text:?}"))
}

/// The operation as one line of the text form; `Err` if a name cannot be
/// written as it is.
pub fn op_text(op: &TxOp) -> Result<String, String> {
    let row_text =
        |row: &[Value]| format!("({})", row.iter().map(value_text).collect::<Vec<_>>().join(","));
    let checked = |text: &str| {
        if plain_name(text) { Ok(()) } else { Err(format!("cannot write the name {text:?}")) }
    };
    Ok(match op {
        TxOp::CreateTable { name, columns } => {
            checked(name)?;
            let mut written = Vec::new();
            for column in columns {
                checked(&column.name)?;
                written.push(format!("{}:{}", column.name, column.ty));
            }
            format!("create {name}({})", written.join(","))
        }
        TxOp::DropTable { name } => {
            checked(name)?;
            format!("drop {name}")
        }
        TxOp::Insert { table, row } => {
            checked(table)?;
            format!("insert {table} {}", row_text(row))
        }
        TxOp::Delete { table, row } => {
            checked(table)?;
            format!("delete {table} {}", row_text(row))
        }
    })
}

/// Parses one operation line of the text form.
pub fn parse_op(line: &str) -> Result<TxOp, String> {
    let (verb, rest) = line.split_once(' ').ok_or_else(|| format!("bad operation {line:?}"))?;
    let inside = |text: &str| -> Result<Vec<String>, String> {
        let inner = text
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(|| format!("expected (...) in {line:?}"))?;
        Ok(if inner.is_empty() {
            Vec::new()
        } else {
            inner.split(',').map(str::to_owned).collect()
        })
    };
    match verb {
        "create" => {
            let open = rest.find('(').ok_or_else(|| format!("expected columns in {line:?}"))?;
            let columns = inside(&rest[open..])?
                .iter()
                .map(|column| {
                    let (n, ty) = column
                        .split_once(':')
                        .ok_or_else(|| format!("bad column {column:?} in {line:?}"))?;
                    Ok(ColumnDef::new(&name(n)?, parse_type(ty)?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(TxOp::CreateTable { name: name(&rest[..open])?, columns })
        }
        "drop" => Ok(TxOp::DropTable { name: name(rest)? }),
        "insert" | "delete" => {
            let (table, row) =
                rest.split_once(' ').ok_or_else(|| format!("expected a row in {line:?}"))?;
            let row = inside(row)?.iter().map(|v| parse_value(v)).collect::<Result<Vec<_>, _>>()?;
            let table = name(table)?;
            Ok(if verb == "insert" {
                TxOp::Insert { table, row }
            } else {
                TxOp::Delete { table, row }
            })
        }
        _ => Err(format!("unknown operation {verb:?} in {line:?}")),
    }
}

impl Script {
    /// The text form (see the module documentation); `Err` if a name
    /// cannot be written as it is.
    pub fn to_text(&self) -> Result<String, String> {
        let mut text = String::new();
        for (i, clients) in self.incarnations.iter().enumerate() {
            text.push_str(&format!("incarnation {i}\n"));
            for (c, txs) in clients.iter().enumerate() {
                text.push_str(&format!("  client {c}\n"));
                for tx in txs {
                    text.push_str(if tx.aborts { "    tx aborts\n" } else { "    tx\n" });
                    for op in &tx.ops {
                        text.push_str(&format!("      {}\n", op_text(op)?));
                    }
                }
            }
        }
        Ok(text)
    }
}

impl FromStr for Script {
    type Err = String;

    /// Parses the text form; an error names the line.
    fn from_str(text: &str) -> Result<Script, String> {
        let mut script = Script::default();
        for (number, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |why: String| format!("line {}: {why}", number + 1);
            let index = |word: &str| -> Result<usize, String> {
                line.strip_prefix(word)
                    .and_then(|n| n.trim().parse().ok())
                    .ok_or_else(|| at(format!("expected `{word} N`: {line:?}")))
            };
            if line.starts_with("incarnation") {
                let n = index("incarnation")?;
                if n != script.incarnations.len() {
                    return Err(at(format!("incarnation {n} out of order")));
                }
                script.incarnations.push(Vec::new());
            } else if line.starts_with("client") {
                let n = index("client")?;
                if n >= crate::workload::CLIENTS_MAX {
                    return Err(at(format!(
                        "client {n}: at most {} clients an incarnation",
                        crate::workload::CLIENTS_MAX
                    )));
                }
                let clients = script
                    .incarnations
                    .last_mut()
                    .ok_or_else(|| at("a client before any incarnation".to_owned()))?;
                if n != clients.len() {
                    return Err(at(format!("client {n} out of order")));
                }
                clients.push(Vec::new());
            } else if line == "tx" || line == "tx aborts" {
                let txs = script
                    .incarnations
                    .last_mut()
                    .and_then(|c| c.last_mut())
                    .ok_or_else(|| at("a tx before any client".to_owned()))?;
                txs.push(ScriptedTx { ops: Vec::new(), aborts: line == "tx aborts" });
            } else {
                let tx = script
                    .incarnations
                    .last_mut()
                    .and_then(|c| c.last_mut())
                    .and_then(|t| t.last_mut())
                    .ok_or_else(|| at("an operation before any tx".to_owned()))?;
                tx.ops.push(parse_op(line).map_err(at)?);
            }
        }
        Ok(script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_reads_back_as_written() {
        let mut script = Script::default();
        let create = TxOp::CreateTable {
            name: "t1".to_owned(),
            columns: vec![
                ColumnDef::new("c0", ColumnType::U64),
                ColumnDef::new("c1", ColumnType::String),
                ColumnDef::new("c2", ColumnType::Bytes),
                ColumnDef::new("c3", ColumnType::I64),
                ColumnDef::new("c4", ColumnType::Bool),
            ],
        };
        let row = vec![
            Value::U64(7),
            Value::String("a, (b)\n".to_owned()),
            Value::Bytes(vec![0, 255]),
            Value::I64(-3),
            Value::Bool(true),
        ];
        let insert = TxOp::Insert { table: "t1".to_owned(), row: row.clone() };
        script.record(0, 0, ScriptedTx { ops: vec![create, insert], aborts: false });
        script.record(
            0,
            1,
            ScriptedTx { ops: vec![TxOp::DropTable { name: "st_table".to_owned() }], aborts: true },
        );
        script.record(
            1,
            0,
            ScriptedTx { ops: vec![TxOp::Delete { table: "t1".to_owned(), row }], aborts: false },
        );
        let text = script.to_text().unwrap();
        assert_eq!(text.parse::<Script>().unwrap(), script, "{text}");
        assert_eq!(script.size(), ScriptSize { incarnations: 2, clients: 3, txs: 3, ops: 4 });
        let bad = TxOp::DropTable { name: "a b".to_owned() };
        assert!(op_text(&bad).is_err());
        let error = "incarnation 0\n  client 0\n    tx\n      insert t1 (u32:1)\n"
            .parse::<Script>()
            .unwrap_err();
        assert!(error.starts_with("line 4: bad value"), "{error}");
        assert!("  client 0\n".parse::<Script>().unwrap_err().starts_with("line 1:"));
    }
}
