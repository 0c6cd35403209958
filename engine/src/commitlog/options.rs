//! The commitlog's settings, checked when the log opens.

use super::commit::COMMIT_LEN_MIN;
use super::error::OptionsError;
use super::segment::{SEGMENT_HEADER_LEN, SEGMENT_LEN_MAX};

/// How a [`super::Commitlog`] writes. Checked by [`Options::validate`] when
/// the log opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The size a segment may grow to, header included. A commit that would
    /// take the current segment past it goes into a new segment (unless the
    /// segment holds no commit yet); a commit that cannot fit in an empty
    /// segment is refused. Must lie in
    /// `SEGMENT_HEADER_LEN + 30 ..= SEGMENT_LEN_MAX` (46 bytes to 1 GiB).
    /// Default: 64 MiB.
    pub max_segment_size: u64,
    /// Bytes the write buffer holds before an append hands them to the OS on
    /// its own (0: every append does). [`super::Commitlog::flush`] and
    /// [`super::Commitlog::sync`] hand over whatever it holds. At most
    /// `SEGMENT_LEN_MAX`. Default: 64 KiB.
    pub write_buffer_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_segment_size: 64 << 20, write_buffer_size: 64 << 10 }
    }
}

impl Options {
    /// The smallest `max_segment_size`: a header and one empty transaction.
    pub const MAX_SEGMENT_SIZE_MIN: u64 = (SEGMENT_HEADER_LEN + COMMIT_LEN_MIN) as u64;

    /// Refuses settings the log cannot work with.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let range = Self::MAX_SEGMENT_SIZE_MIN..=SEGMENT_LEN_MAX;
        if !range.contains(&self.max_segment_size) {
            return Err(OptionsError::SegmentSizeOutOfRange {
                max_segment_size: self.max_segment_size,
                min: *range.start(),
                max: *range.end(),
            });
        }
        if self.write_buffer_size as u64 > SEGMENT_LEN_MAX {
            return Err(OptionsError::WriteBufferTooLarge {
                write_buffer_size: self.write_buffer_size,
                max: SEGMENT_LEN_MAX,
            });
        }
        Ok(())
    }

    /// The largest commit, in encoded bytes, a segment can take.
    pub fn commit_size_max(&self) -> u64 {
        self.max_segment_size.saturating_sub(SEGMENT_HEADER_LEN as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_enforced() {
        assert_eq!(Options::default().validate(), Ok(()));
        let tiny = Options { max_segment_size: 45, ..Options::default() };
        assert_eq!(
            tiny.validate().unwrap_err().to_string(),
            "max-segment-size out of range: max-segment-size=45 min=46 max=1073741824"
        );
        let smallest = Options { max_segment_size: 46, ..Options::default() };
        assert_eq!(smallest.validate(), Ok(()));
        assert_eq!(smallest.commit_size_max(), 30);
        let huge = Options { max_segment_size: SEGMENT_LEN_MAX + 1, ..Options::default() };
        assert!(huge.validate().is_err());
        let buffer =
            Options { write_buffer_size: (SEGMENT_LEN_MAX + 1) as usize, ..Options::default() };
        assert!(matches!(buffer.validate(), Err(OptionsError::WriteBufferTooLarge { .. })));
        let largest_buffer =
            Options { write_buffer_size: SEGMENT_LEN_MAX as usize, ..Options::default() };
        assert_eq!(largest_buffer.validate(), Ok(()));
        let largest = Options { max_segment_size: SEGMENT_LEN_MAX, ..Options::default() };
        assert_eq!(largest.validate(), Ok(()));
        let unbuffered = Options { write_buffer_size: 0, ..Options::default() };
        assert_eq!(unbuffered.validate(), Ok(()));
    }
}
