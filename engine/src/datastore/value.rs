//! Typed values and the row codec.
//!
//! A row is a list of values, one per column of its table's schema, encoded
//! column by column (little-endian): `u64`/`i64` as 8 bytes, `bool` as one
//! byte (0 or 1), `string`/`bytes` as a `u32` length and the bytes. A row's
//! encoding is also its identity: tables are sets of rows.

use std::fmt;
use std::sync::Arc;

use super::error::DecodeError;

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ColumnType {
    /// An unsigned 64-bit integer.
    U64,
    /// A signed 64-bit integer.
    I64,
    /// A boolean.
    Bool,
    /// UTF-8 text.
    String,
    /// Raw bytes.
    Bytes,
}

impl ColumnType {
    /// Every type, in tag order.
    pub const ALL: [ColumnType; 5] =
        [ColumnType::U64, ColumnType::I64, ColumnType::Bool, ColumnType::String, ColumnType::Bytes];

    /// The stable tag stored in `st_column.col_type`.
    pub fn tag(self) -> u64 {
        match self {
            ColumnType::U64 => 1,
            ColumnType::I64 => 2,
            ColumnType::Bool => 3,
            ColumnType::String => 4,
            ColumnType::Bytes => 5,
        }
    }

    /// The type with `tag`, if any.
    pub fn from_tag(tag: u64) -> Option<ColumnType> {
        ColumnType::ALL.into_iter().find(|ty| ty.tag() == tag)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::U64 => "u64",
            ColumnType::I64 => "i64",
            ColumnType::Bool => "bool",
            ColumnType::String => "string",
            ColumnType::Bytes => "bytes",
        })
    }
}

/// One typed value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// An unsigned 64-bit integer.
    U64(u64),
    /// A signed 64-bit integer.
    I64(i64),
    /// A boolean.
    Bool(bool),
    /// UTF-8 text.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl Value {
    /// The type of this value.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Value::U64(_) => ColumnType::U64,
            Value::I64(_) => ColumnType::I64,
            Value::Bool(_) => ColumnType::Bool,
            Value::String(_) => ColumnType::String,
            Value::Bytes(_) => ColumnType::Bytes,
        }
    }

    /// The `u64` inside, if this is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            _ => None,
        }
    }

    /// The string inside, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(v) => Some(v),
            _ => None,
        }
    }

    /// The bool inside, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The bytes inside, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}i"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::String(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => {
                f.write_str("0x")?;
                v.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// A row: one value per column.
pub type Row = Vec<Value>;

/// The length of `row` encoded: 8 bytes per integer, 1 per bool, a 4-byte
/// length and the bytes per string or bytes value.
pub fn encoded_row_len(row: &[Value]) -> usize {
    row.iter()
        .map(|value| match value {
            Value::U64(_) | Value::I64(_) => 8,
            Value::Bool(_) => 1,
            Value::String(v) => 4 + v.len(),
            Value::Bytes(v) => 4 + v.len(),
        })
        .sum()
}

/// Encodes `row`; the caller has checked it against the schema.
///
/// Straight into a shared buffer of its exact length, which is how rows
/// are stored (pages, index and versions share them): one allocation and
/// one copy of each value. Encoding into a `Vec` and moving that into an
/// `Arc` was two of each, which mattered for the largest rows.
pub fn encode_row(row: &[Value]) -> Arc<[u8]> {
    // An exact-length iterator collects into one allocation of its length.
    let mut bytes: Arc<[u8]> = std::iter::repeat_n(0, encoded_row_len(row)).collect();
    let mut out = Arc::get_mut(&mut bytes).expect("a new buffer has one owner");
    for value in row {
        match value {
            Value::U64(v) => put(&mut out, &v.to_le_bytes()),
            Value::I64(v) => put(&mut out, &v.to_le_bytes()),
            Value::Bool(v) => put(&mut out, &[u8::from(*v)]),
            Value::String(v) => put_len_prefixed(&mut out, v.as_bytes()),
            Value::Bytes(v) => put_len_prefixed(&mut out, v),
        }
    }
    assert!(out.is_empty(), "encoded_row_len counts every byte the encoding writes");
    bytes
}

/// Copies `bytes` to the front of `out` and moves `out` past them.
fn put(out: &mut &mut [u8], bytes: &[u8]) {
    let (head, tail) = std::mem::take(out).split_at_mut(bytes.len());
    head.copy_from_slice(bytes);
    *out = tail;
}

fn put_len_prefixed(out: &mut &mut [u8], bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("values are bounded far below 4 GiB");
    put(out, &len.to_le_bytes());
    put(out, bytes);
}

/// A value borrowed from an encoded row: what [`decode_fields`] and
/// [`check_encoded_row`] read without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    String(&'a str),
    /// Raw bytes.
    Bytes(&'a [u8]),
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::U64(v) => Value::U64(v),
            ValueRef::I64(v) => Value::I64(v),
            ValueRef::Bool(v) => Value::Bool(v),
            ValueRef::String(v) => Value::String(v.to_owned()),
            ValueRef::Bytes(v) => Value::Bytes(v.to_vec()),
        }
    }
}

/// Decodes a row of `types` from `bytes`, which must be consumed exactly.
pub fn decode_row(types: &[ColumnType], bytes: &[u8]) -> Result<Row, DecodeError> {
    let mut row = Vec::with_capacity(types.len());
    for_each_value(types, bytes, |value| row.push(value.to_value()))?;
    Ok(row)
}

/// Checks that `bytes` decode as a row of `types` (exactly what
/// [`decode_row`] checks) without building the row.
pub fn check_encoded_row(types: &[ColumnType], bytes: &[u8]) -> Result<(), DecodeError> {
    for_each_value(types, bytes, |_| {})
}

/// Decodes a row of exactly `N` columns into borrowed values (the system
/// tables' rows, read on every schema change).
pub fn decode_fields<'a, const N: usize>(
    types: &[ColumnType],
    bytes: &'a [u8],
) -> Result<[ValueRef<'a>; N], DecodeError> {
    assert_eq!(types.len(), N, "decode_fields reads rows of exactly N columns");
    let mut fields = [ValueRef::U64(0); N];
    let mut column = 0;
    for_each_value(types, bytes, |value| {
        fields[column] = value;
        column += 1;
    })?;
    assert_eq!(column, N);
    Ok(fields)
}

/// Decodes a whole row (every column checked against `types`) and returns
/// the value of `column`, borrowed.
pub fn decode_field<'a>(
    types: &[ColumnType],
    bytes: &'a [u8],
    column: usize,
) -> Result<ValueRef<'a>, DecodeError> {
    assert!(column < types.len(), "column {column} of a row of {} columns", types.len());
    let mut at = 0;
    let mut field = ValueRef::U64(0);
    for_each_value(types, bytes, |value| {
        if at == column {
            field = value;
        }
        at += 1;
    })?;
    Ok(field)
}

/// The one row decoder: hands each column's value to `visit` in order, and
/// fails on the first byte that does not fit `types`.
fn for_each_value<'a>(
    types: &[ColumnType],
    bytes: &'a [u8],
    mut visit: impl FnMut(ValueRef<'a>),
) -> Result<(), DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    for (column, ty) in types.iter().enumerate() {
        let value = match ty {
            ColumnType::U64 => ValueRef::U64(u64::from_le_bytes(reader.array(column)?)),
            ColumnType::I64 => ValueRef::I64(i64::from_le_bytes(reader.array(column)?)),
            ColumnType::Bool => match reader.array::<1>(column)? {
                [0] => ValueRef::Bool(false),
                [1] => ValueRef::Bool(true),
                [other] => {
                    return Err(DecodeError::Invalid {
                        at: reader.at - 1,
                        reason: format!("column={column} bool byte={other}"),
                    });
                }
            },
            ColumnType::String => {
                let at = reader.at;
                let bytes = reader.len_prefixed(column)?;
                ValueRef::String(std::str::from_utf8(bytes).map_err(|_| DecodeError::Invalid {
                    at,
                    reason: format!("column={column} string is not utf-8"),
                })?)
            }
            ColumnType::Bytes => ValueRef::Bytes(reader.len_prefixed(column)?),
        };
        visit(value);
    }
    if reader.at != bytes.len() {
        return Err(DecodeError::Invalid {
            at: reader.at,
            reason: format!("trailing bytes={} after the last column", bytes.len() - reader.at),
        });
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, column: usize) -> Result<&'a [u8], DecodeError> {
        // ok_or_else: the error's text is built only when there is an error
        // (this is on every column of every row decoded).
        let end =
            self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or_else(|| {
                DecodeError::Truncated {
                    at: self.at,
                    wanted: n,
                    reason: format!("column={column}"),
                }
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, column: usize) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N, column)?;
        Ok(slice.try_into().expect("take returned N bytes"))
    }

    fn len_prefixed(&mut self, column: usize) -> Result<&'a [u8], DecodeError> {
        let len = u32::from_le_bytes(self.array(column)?) as usize;
        self.take(len, column)
    }
}

/// Checks that `row` fits `types`, naming the first column that does not.
pub fn check_row(types: &[ColumnType], row: &[Value]) -> Result<(), String> {
    if row.len() != types.len() {
        return Err(format!("expected-columns={} actual-columns={}", types.len(), row.len()));
    }
    for (column, (ty, value)) in types.iter().zip(row).enumerate() {
        if value.column_type() != *ty {
            return Err(format!(
                "column={column} expected-type={ty} actual-type={}",
                value.column_type()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let types = ColumnType::ALL;
        let row = vec![
            Value::U64(u64::MAX),
            Value::I64(-5),
            Value::Bool(true),
            Value::String("héllo".into()),
            Value::Bytes(vec![0, 1, 2]),
        ];
        check_row(&types, &row).unwrap();
        let bytes = encode_row(&row);
        assert_eq!(decode_row(&types, &bytes).unwrap(), row);
        check_encoded_row(&types, &bytes).unwrap();
        let fields: [ValueRef<'_>; 5] = decode_fields(&types, &bytes).unwrap();
        assert_eq!(fields.map(ValueRef::to_value).to_vec(), row);
        for (column, value) in row.iter().enumerate() {
            assert_eq!(&decode_field(&types, &bytes, column).unwrap().to_value(), value);
        }
    }

    #[test]
    fn every_truncation_and_bad_bool_is_an_error() {
        let types = ColumnType::ALL;
        let row = vec![
            Value::U64(1),
            Value::I64(2),
            Value::Bool(false),
            Value::String("s".into()),
            Value::Bytes(vec![9]),
        ];
        let bytes = encode_row(&row).to_vec();
        // The allocating, the checking and the borrowing decoder are one
        // decoder: each refuses every bad input with the same error.
        let same_error = |bytes: &[u8]| {
            let error = decode_row(&types, bytes).unwrap_err();
            assert_eq!(check_encoded_row(&types, bytes).unwrap_err(), error);
            assert_eq!(decode_fields::<5>(&types, bytes).unwrap_err(), error);
            for column in 0..types.len() {
                assert_eq!(decode_field(&types, bytes, column).unwrap_err(), error);
            }
            error.to_string()
        };
        for cut in 0..bytes.len() {
            same_error(&bytes[..cut]);
        }
        let mut bad = bytes.clone();
        bad[16] = 2;
        assert!(same_error(&bad).contains("bool byte=2"));
        let mut not_utf8 = bytes.clone();
        not_utf8[21] = 0xff;
        assert!(same_error(&not_utf8).contains("not utf-8"));
        let mut long = bytes;
        long.push(0);
        assert!(same_error(&long).contains("trailing"));
    }

    #[test]
    fn check_row_names_the_mismatch() {
        let err = check_row(&[ColumnType::U64], &[Value::Bool(true)]).unwrap_err();
        assert_eq!(err, "column=0 expected-type=u64 actual-type=bool");
        assert!(check_row(&[ColumnType::U64], &[]).is_err());
    }
}
