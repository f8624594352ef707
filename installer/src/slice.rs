//! A window onto one partition of a disk image, so `fatfs` (which formats and mounts
//! whole volumes) sees the partition as a device of its own: offset 0 is the partition's
//! first byte and seeking to the end gives the partition size.

use std::io::{self, Read, Seek, SeekFrom, Write};

/// `len_bytes` bytes of `inner` starting at `start_bytes`. Reads stop at the end; writes
/// past the end fail rather than spill into the next partition.
#[derive(Debug)]
pub struct PartitionSlice<T> {
    inner: T,
    start_bytes: u64,
    len_bytes: u64,
    /// Position relative to `start_bytes`; may be past the end, as with a file.
    pos_bytes: u64,
}

impl<T: Seek> PartitionSlice<T> {
    /// A slice of `inner`, positioned at its start.
    pub fn new(mut inner: T, start_bytes: u64, len_bytes: u64) -> io::Result<Self> {
        inner.seek(SeekFrom::Start(start_bytes))?;
        Ok(PartitionSlice { inner, start_bytes, len_bytes, pos_bytes: 0 })
    }

    /// Bytes from the position to the end of the slice.
    fn remaining(&self) -> u64 {
        self.len_bytes.saturating_sub(self.pos_bytes)
    }

    /// Clamps a buffer length to what is left in the slice.
    fn clamp(&self, len: usize) -> usize {
        usize::try_from(self.remaining()).map_or(len, |left| len.min(left))
    }
}

impl<T: Read + Seek> Read for PartitionSlice<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.clamp(buf.len());
        let n = self.inner.read(&mut buf[..len])?;
        self.pos_bytes += n as u64;
        Ok(n)
    }
}

impl<T: Write + Seek> Write for PartitionSlice<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = self.clamp(buf.len());
        if len == 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "write past the end of the partition"));
        }
        let n = self.inner.write(&buf[..len])?;
        self.pos_bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Seek> Seek for PartitionSlice<T> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::Current(delta) => self.pos_bytes.checked_add_signed(delta),
            SeekFrom::End(delta) => self.len_bytes.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        let absolute = self
            .start_bytes
            .checked_add(target)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek overflow"))?;
        self.inner.seek(SeekFrom::Start(absolute))?;
        self.pos_bytes = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_and_writes_stay_inside() {
        let mut slice = PartitionSlice::new(Cursor::new(vec![0u8; 16]), 4, 8).unwrap();
        assert_eq!(slice.seek(SeekFrom::End(0)).unwrap(), 8);
        slice.seek(SeekFrom::Start(6)).unwrap();
        assert_eq!(slice.write(b"abcd").unwrap(), 2);
        assert_eq!(slice.write(b"cd").unwrap_err().kind(), io::ErrorKind::WriteZero);
        slice.seek(SeekFrom::Current(-2)).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(slice.read(&mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ab");
        assert!(slice.seek(SeekFrom::Current(-100)).is_err());
        let bytes = slice.inner.into_inner();
        assert_eq!(&bytes[10..12], b"ab");
        assert!(bytes[12..].iter().all(|&b| b == 0));
    }
}
