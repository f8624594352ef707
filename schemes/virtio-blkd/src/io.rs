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
use tessera_runtime::abi::error::{EINVAL, EIO, ENOSPC};

use crate::gpt::SECTOR;

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
    /// Queues a write (docs/drivers.md, "Queued writes"): the device may
    /// still be writing when this returns, and a failure is reported
    /// later. A device that cannot queue writes at once.
    fn queue_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.write_sectors(lba, buf)
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

/// The header of each write in a queue handle's list: the byte offset in
/// the window and the byte count, both `u64` little-endian; the bytes
/// follow (docs/drivers.md, "Queued writes").
pub const QUEUE_ENTRY_HEADER: usize = 16;

/// The writes of a queue handle's list `buf`: `(first sector in the window's
/// device, bytes)` each. `EINVAL` for a list that does not parse (a short
/// header or data, a count of 0, an offset or count that is not whole
/// sectors), `ENOSPC` for a write that does not lie wholly inside the
/// window; then nothing is queued.
pub fn parse_queue_list(window: Window, mut buf: &[u8]) -> Result<alloc::vec::Vec<(u64, &[u8])>, Error> {
    let mut writes = alloc::vec::Vec::new();
    while !buf.is_empty() {
        let (header, rest) = buf.split_at_checked(QUEUE_ENTRY_HEADER).ok_or(Error::new(EINVAL))?;
        let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default());
        let (offset, count) = (word(0), word(8));
        let len = usize::try_from(count).ok().filter(|&n| n > 0 && n <= rest.len()).ok_or(Error::new(EINVAL))?;
        if !offset.is_multiple_of(SECTOR as u64) || !len.is_multiple_of(SECTOR) {
            return Err(Error::new(EINVAL));
        }
        if offset.checked_add(count).is_none_or(|end| end > window.bytes()) {
            return Err(Error::new(ENOSPC));
        }
        writes.push((window.first + offset / SECTOR as u64, &rest[..len]));
        buf = &rest[len..];
    }
    Ok(writes)
}

/// Queues the writes of a queue handle's list `buf` (see
/// [`parse_queue_list`]), in order, then kicks the device once: all of
/// `buf` on success; `EIO` if the device could not take one (those before
/// it are queued, and kicked).
pub fn queue_list(dev: &mut impl Sectors, window: Window, buf: &[u8]) -> Result<usize, Error> {
    let writes = parse_queue_list(window, buf)?;
    let queued = writes.into_iter().try_for_each(|(lba, data)| dev.queue_sectors(lba, data));
    dev.kick();
    queued?;
    Ok(buf.len())
}

/// The bytes of a `len`-byte access at `offset` that lie inside `window`.
fn clip(window: Window, offset: u64, len: usize) -> usize {
    window.bytes().saturating_sub(offset).min(len as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A disk in memory that counts requests and kicks, and fails on
    /// demand.
    struct Mem {
        data: Vec<u8>,
        requests: usize,
        kicks: usize,
        fail: bool,
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

    fn disk() -> Mem {
        Mem { data: (0..16 * SECTOR).map(|i| (i / SECTOR) as u8).collect(), requests: 0, kicks: 0, fail: false }
    }

    const PART: Window = Window { first: 4, sectors: 8 };

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

    /// A queue handle's list of `(offset, bytes)`.
    fn list(writes: &[(u64, &[u8])]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (offset, data) in writes {
            buf.extend_from_slice(&offset.to_le_bytes());
            buf.extend_from_slice(&(data.len() as u64).to_le_bytes());
            buf.extend_from_slice(data);
        }
        buf
    }

    #[test]
    fn a_queue_list_queues_whole_sectors_inside_the_window_or_nothing() {
        let mut d = disk();
        let end = PART.bytes();
        let (a, b) = ([0x5Au8; 2 * SECTOR], [0xA5u8; SECTOR]);
        let two = list(&[(SECTOR as u64, &a), (end - SECTOR as u64, &b)]);
        assert_eq!(queue_list(&mut d, PART, &two), Ok(two.len()));
        assert_eq!((d.requests, d.kicks), (2, 1), "one request per write, one kick per list");
        assert_eq!(&d.data[5 * SECTOR..7 * SECTOR], &a[..], "at the window's offset");
        assert_eq!(&d.data[11 * SECTOR..12 * SECTOR], &b[..]);
        assert_eq!(d.data[12 * SECTOR], 12, "nothing past the window");
        for (bad, errno) in [
            (list(&[(1, &a)]), EINVAL),
            (list(&[(0, &a[..100])]), EINVAL),
            (list(&[(0, &[])]), EINVAL),
            (list(&[(end, &b)]), ENOSPC),
            (list(&[(end - SECTOR as u64, &a)]), ENOSPC),
            (list(&[(u64::MAX - 511, &b)]), ENOSPC),
            (two[..10].to_vec(), EINVAL),
            (two[..QUEUE_ENTRY_HEADER + 100].to_vec(), EINVAL),
            ([list(&[(0, &b)]), list(&[(end, &b)])].concat(), ENOSPC),
        ] {
            assert_eq!(queue_list(&mut d, PART, &bad), Err(Error::new(errno)), "{bad:?}");
        }
        assert_eq!((d.requests, d.kicks), (2, 1), "a bad list queues nothing, not even its good writes");
        assert_eq!(queue_list(&mut d, PART, &[]), Ok(0));
        d.fail = true;
        assert_eq!(queue_list(&mut d, PART, &two), Err(Error::new(EIO)));
        assert_eq!(d.kicks, 3, "a list that fails part way still kicks what it queued");
    }
}
