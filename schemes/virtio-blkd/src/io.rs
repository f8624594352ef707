//! Byte-addressed reads and writes over a device that moves whole 512-byte
//! sectors, confined to a window of it (the whole disk or one partition).
//!
//! A read or write at any offset and length is split into whole sectors
//! moved straight into or out of the caller's buffer, and at most two
//! partial sectors (the unaligned head and tail), which a write updates by
//! read-modify-write. Nothing outside the window is ever read or written:
//! a read is cut at the window's end (0 bytes at or past it, end of file),
//! a write that starts inside and crosses the end is cut there (a short
//! write, as a Linux block device), and one that starts at or past the end
//! is `ENOSPC`.

use tessera_runtime::abi::Error;
use tessera_runtime::abi::error::{EIO, ENOSPC};

use crate::gpt::SECTOR;
use crate::list::{Part, fill, parts_len};

/// A device error (the device answered a request with an error status, or
/// the request could not be made): `EIO` at the scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceError;

impl From<DeviceError> for Error {
    fn from(_: DeviceError) -> Self {
        Error::new(EIO)
    }
}

/// What moves sectors: the virtio-blk device in the daemon, memory in the
/// tests. `buf.len()` is a non-zero multiple of [`SECTOR`].
pub trait Sectors {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), DeviceError>;
    /// Queues a write of `parts` from `lba` (docs/drivers.md, "Queued
    /// writes"): the device may still be writing when this returns, and a
    /// failure is reported later. A device that cannot queue writes
    /// writes at once.
    fn queue_sectors(&mut self, lba: u64, parts: &[Part<'_>]) -> Result<(), DeviceError> {
        let mut buf = alloc::vec![0; parts_len(parts)];
        fill(parts, 0, &mut buf);
        self.write_sectors(lba, &buf)
    }
    /// Lets the device start on the writes queued since the last kick: a
    /// queued write may wait in the driver until then (one doorbell for a
    /// whole list). Nothing to do for a device that writes at once.
    fn kick(&mut self) {}
}

/// A run of sectors: `first` and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub first: u64,
    pub sectors: u64,
}

impl Window {
    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.sectors * SECTOR as u64
    }
}

/// One step of an access: `len` bytes at byte `within` of sector `lba`
/// (`within` 0 and `len` a multiple of [`SECTOR`]: whole sectors, moved
/// straight; otherwise part of one sector), at `done` bytes into the
/// caller's buffer.
struct Piece {
    lba: u64,
    within: usize,
    len: usize,
    done: usize,
}

impl Piece {
    fn whole(&self) -> bool {
        self.within == 0 && self.len.is_multiple_of(SECTOR)
    }
}

/// The pieces of an `n`-byte access at byte `offset` of `window` (inside it).
fn pieces(window: Window, offset: u64, n: usize) -> impl Iterator<Item = Piece> {
    let mut done = 0;
    core::iter::from_fn(move || {
        if done >= n {
            return None;
        }
        let pos = offset + done as u64;
        let (lba, within) = (window.first + pos / SECTOR as u64, (pos % SECTOR as u64) as usize);
        let left = n - done;
        let len = if within == 0 && left >= SECTOR { left / SECTOR * SECTOR } else { (SECTOR - within).min(left) };
        let piece = Piece { lba, within, len, done };
        done += len;
        Some(piece)
    })
}

/// Reads into `buf` from byte `offset` of `window`: how many bytes were read.
pub fn read_at(dev: &mut impl Sectors, window: Window, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let n = clip(window, offset, buf.len());
    let mut scratch = [0u8; SECTOR];
    for p in pieces(window, offset, n) {
        let out = &mut buf[p.done..p.done + p.len];
        if p.whole() {
            dev.read_sectors(p.lba, out)?;
        } else {
            dev.read_sectors(p.lba, &mut scratch)?;
            out.copy_from_slice(&scratch[p.within..p.within + p.len]);
        }
    }
    Ok(n)
}

/// Writes `buf` at byte `offset` of `window`: how many bytes were written
/// (fewer when it crosses the end); `ENOSPC` at or past the end, `EIO` on
/// a device error (some sectors may have been written).
pub fn write_at(dev: &mut impl Sectors, window: Window, offset: u64, buf: &[u8]) -> Result<usize, Error> {
    if offset >= window.bytes() && !buf.is_empty() {
        return Err(Error::new(ENOSPC));
    }
    let n = clip(window, offset, buf.len());
    let mut scratch = [0u8; SECTOR];
    for p in pieces(window, offset, n) {
        let data = &buf[p.done..p.done + p.len];
        if p.whole() {
            dev.write_sectors(p.lba, data)?;
        } else {
            dev.read_sectors(p.lba, &mut scratch)?;
            scratch[p.within..p.within + p.len].copy_from_slice(data);
            dev.write_sectors(p.lba, &scratch)?;
        }
    }
    Ok(n)
}

/// The bytes of a `len`-byte access at `offset` that lie inside `window`.
fn clip(window: Window, offset: u64, len: usize) -> usize {
    window.bytes().saturating_sub(offset).min(len as u64) as usize
}

/// A disk in memory for the tests (of this file and `list.rs`).
#[cfg(test)]
pub mod mem {
    use super::*;
    use alloc::vec::Vec;

    /// A disk in memory that counts requests and kicks, and fails on
    /// demand.
    pub struct Mem {
        pub data: Vec<u8>,
        pub requests: usize,
        pub kicks: usize,
        pub fail: bool,
    }

    impl Sectors for Mem {
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
            assert!(!buf.is_empty() && buf.len().is_multiple_of(SECTOR));
            self.requests += 1;
            let at = lba as usize * SECTOR;
            if self.fail {
                return Err(DeviceError);
            }
            buf.copy_from_slice(&self.data[at..at + buf.len()]);
            Ok(())
        }
        fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), DeviceError> {
            assert!(!buf.is_empty() && buf.len().is_multiple_of(SECTOR));
            self.requests += 1;
            if self.fail {
                return Err(DeviceError);
            }
            let at = lba as usize * SECTOR;
            self.data[at..at + buf.len()].copy_from_slice(buf);
            Ok(())
        }
        fn kick(&mut self) {
            self.kicks += 1;
        }
    }

    pub fn disk() -> Mem {
        Mem { data: (0..16 * SECTOR).map(|i| (i / SECTOR) as u8).collect(), requests: 0, kicks: 0, fail: false }
    }

    pub const PART: Window = Window { first: 4, sectors: 8 };
}

#[cfg(test)]
mod tests {
    use super::mem::{PART, disk};
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn unaligned_write_then_read() {
        let mut d = disk();
        let pattern: Vec<u8> = (0..1500).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(write_at(&mut d, PART, 300, &pattern), Ok(1500));
        let mut back = vec![0u8; 1500];
        assert_eq!(read_at(&mut d, PART, 300, &mut back), Ok(1500));
        assert_eq!(back, pattern);
        // Bytes around it untouched: sector 4's first 300, and after.
        assert!(d.data[4 * SECTOR..4 * SECTOR + 300].iter().all(|&b| b == 4));
        assert!(d.data[4 * SECTOR + 1800..8 * SECTOR].iter().all(|&b| b == 7));
    }

    #[test]
    fn aligned_middle_is_one_request() {
        let mut d = disk();
        let mut buf = vec![0u8; 3 * SECTOR];
        assert_eq!(read_at(&mut d, PART, SECTOR as u64, &mut buf), Ok(3 * SECTOR));
        assert_eq!(d.requests, 1);
        assert_eq!(buf[0], 5);
        assert_eq!(buf[3 * SECTOR - 1], 7);
    }

    #[test]
    fn the_window_confines() {
        let mut d = disk();
        let end = PART.bytes();
        let mut buf = [0u8; 100];
        assert_eq!(read_at(&mut d, PART, end, &mut buf), Ok(0));
        assert_eq!(read_at(&mut d, PART, end + 5000, &mut buf), Ok(0));
        assert_eq!(read_at(&mut d, PART, end - 10, &mut buf), Ok(10));
        assert_eq!(write_at(&mut d, PART, end, &[1; 10]), Err(Error::new(ENOSPC)));
        assert_eq!(write_at(&mut d, PART, u64::MAX, &[1; 10]), Err(Error::new(ENOSPC)));
        assert_eq!(write_at(&mut d, PART, end - 4, &[0xAA; 10]), Ok(4));
        assert!(d.data[12 * SECTOR..].iter().enumerate().all(|(i, &b)| b == (12 + i / SECTOR) as u8));
        assert_eq!(&d.data[12 * SECTOR - 4..12 * SECTOR], &[0xAA; 4]);
        assert_eq!(write_at(&mut d, PART, end, &[]), Ok(0));
    }

    #[test]
    fn device_errors_are_eio() {
        let mut d = disk();
        d.fail = true;
        assert_eq!(read_at(&mut d, PART, 0, &mut [0u8; 10]), Err(Error::new(EIO)));
        assert_eq!(write_at(&mut d, PART, 0, &[0u8; 10]), Err(Error::new(EIO)));
        assert_eq!(write_at(&mut d, PART, 0, &[0u8; SECTOR]), Err(Error::new(EIO)));
    }
}
