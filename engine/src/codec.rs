//! A bounds-checked little-endian reader over untrusted bytes, shared by
//! the decoders of on-disk formats. Every read either returns the bytes or
//! says where the input ran out; nothing here can panic on bad input.

/// The input ended before a field did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Truncated {
    /// Where the field started.
    pub(crate) at: usize,
    /// How many bytes it needed.
    pub(crate) wanted: usize,
}

/// Reads fields front to back.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// The offset of the next field.
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let truncated = Truncated { at: self.at, wanted: n };
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len()).ok_or(truncated)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_reports_where_input_ran_out() {
        let mut reader = Reader::new(&[1, 2, 0, 3, 0, 0, 0]);
        assert_eq!(reader.u8(), Ok(1));
        assert_eq!(reader.u16(), Ok(2));
        assert_eq!(reader.u32(), Ok(3));
        assert_eq!(reader.remaining(), 0);
        assert_eq!(reader.u64(), Err(Truncated { at: 7, wanted: 8 }));
        assert_eq!(Reader::new(&[]).take(usize::MAX), Err(Truncated { at: 0, wanted: usize::MAX }));
    }
}
