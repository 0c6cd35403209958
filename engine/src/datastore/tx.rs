//! Transaction records: what the datastore hands the commitlog per
//! transaction, and what replay reads back.
//!
//! A record is a `u32` count of mutations, then per mutation a kind byte
//! (1 insert, 2 delete), the `u32` table id, and the encoded row as a `u32`
//! length and its bytes. Little-endian. Schema changes are mutations of
//! system tables like any other.

use std::sync::Arc;

use super::error::DecodeError;
use super::page::ROW_SIZE_MAX;
use super::schema::TableId;

/// Inserting or deleting one row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// Put the encoded row in the table.
    Insert {
        /// The table.
        table: TableId,
        /// The encoded row.
        row: Arc<[u8]>,
    },
    /// Take the encoded row out of the table.
    Delete {
        /// The table.
        table: TableId,
        /// The encoded row.
        row: Arc<[u8]>,
    },
}

impl Mutation {
    /// The table it changes.
    pub fn table(&self) -> TableId {
        match self {
            Mutation::Insert { table, .. } | Mutation::Delete { table, .. } => *table,
        }
    }
}

const KIND_INSERT: u8 = 1;
const KIND_DELETE: u8 = 2;
/// The fixed bytes of one mutation: kind, table id, row length.
const MUTATION_HEADER_LEN: usize = /* kind */ 1 + /* table */ 4 + /* row len */ 4;

/// The size of the record [`encode_tx`] makes of `mutations`.
pub fn encoded_len(mutations: &[Mutation]) -> usize {
    let rows: usize = mutations
        .iter()
        .map(|m| match m {
            Mutation::Insert { row, .. } | Mutation::Delete { row, .. } => row.len(),
        })
        .sum();
    4 + mutations.len() * MUTATION_HEADER_LEN + rows
}

/// Encodes a transaction's mutations.
pub fn encode_tx(mutations: &[Mutation]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(mutations));
    let count =
        u32::try_from(mutations.len()).expect("a transaction has fewer than 2^32 mutations");
    out.extend_from_slice(&count.to_le_bytes());
    for mutation in mutations {
        let (kind, table, row) = match mutation {
            Mutation::Insert { table, row } => (KIND_INSERT, table, row),
            Mutation::Delete { table, row } => (KIND_DELETE, table, row),
        };
        out.push(kind);
        out.extend_from_slice(&table.0.to_le_bytes());
        let len = u32::try_from(row.len()).expect("rows are at most a page");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(row);
    }
    assert_eq!(out.len(), encoded_len(mutations));
    out
}

/// Decodes a transaction record. Untrusted input: every length is checked
/// before it is used, and a row longer than a page is refused.
pub fn decode_tx(bytes: &[u8]) -> Result<Vec<Mutation>, DecodeError> {
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize, what: &str| -> Result<&[u8], DecodeError> {
        let end = at.checked_add(n).filter(|end| *end <= bytes.len()).ok_or_else(|| {
            DecodeError::Truncated { at: *at, wanted: n, reason: what.to_owned() }
        })?;
        let slice = &bytes[*at..end];
        *at = end;
        Ok(slice)
    };
    let u32_at = |at: &mut usize, what: &str| -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(take(at, 4, what)?.try_into().expect("4 bytes")))
    };
    let count = u32_at(&mut at, "mutation count")? as usize;
    // Every mutation takes at least its header: bound the count before
    // allocating for it.
    if count > bytes.len() / MUTATION_HEADER_LEN {
        return Err(DecodeError::Invalid {
            at: 0,
            reason: format!("mutation count={count} exceeds the record"),
        });
    }
    let mut mutations = Vec::with_capacity(count);
    for index in 0..count {
        let kind_at = at;
        let kind = take(&mut at, 1, "mutation kind")?[0];
        let table = TableId(u32_at(&mut at, "table id")?);
        let len = u32_at(&mut at, "row length")? as usize;
        if len > ROW_SIZE_MAX {
            return Err(DecodeError::Invalid {
                at: at - 4,
                reason: format!("mutation={index} row length={len} exceeds max={ROW_SIZE_MAX}"),
            });
        }
        let row: Arc<[u8]> = Arc::from(take(&mut at, len, "row")?);
        mutations.push(match kind {
            KIND_INSERT => Mutation::Insert { table, row },
            KIND_DELETE => Mutation::Delete { table, row },
            other => {
                return Err(DecodeError::Invalid {
                    at: kind_at,
                    reason: format!("mutation={index} kind={other}"),
                });
            }
        });
    }
    if at != bytes.len() {
        return Err(DecodeError::Invalid {
            at,
            reason: format!("trailing bytes={} after the last mutation", bytes.len() - at),
        });
    }
    Ok(mutations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Mutation> {
        vec![
            Mutation::Insert { table: TableId(4096), row: Arc::from(&b"row one"[..]) },
            Mutation::Delete { table: TableId(1), row: Arc::from(&b""[..]) },
        ]
    }

    #[test]
    fn records_round_trip() {
        assert_eq!(decode_tx(&encode_tx(&sample())).unwrap(), sample());
        assert_eq!(decode_tx(&encode_tx(&[])).unwrap(), vec![]);
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let bytes = encode_tx(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_tx(&bytes[..cut]).is_err(), "cut={cut}");
        }
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[index] ^= 1 << bit;
                let _ = decode_tx(&flipped); // must not panic
            }
        }
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_tx(&huge).unwrap_err().to_string().contains("exceeds the record"));
    }
}
