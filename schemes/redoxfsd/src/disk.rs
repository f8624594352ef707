//! The block device under the filesystem: any open file, read and written
//! in place with seek + read / write and flushed with fsync. Today a disk
//! image on ramfs; later a partition of the `disk:` scheme.
//!
//! [`Device`] is redoxfs's `Disk` plus a flush; [`FdDisk`] is it over an
//! fd. [`Knobs`] wraps any device for the control file: writes can be made
//! to fail (the write-back error path, `docs/redoxfs.md`); it also keeps a
//! [`BlockCache`] of what was last read and written, so reading back a
//! record redoxfs just wrote (it reads each record before it rewrites it)
//! costs no device request.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use redox_syscall_07::error::{EINVAL, EIO, Error as DiskError, Result as DiskResult};
use redoxfs::{BLOCK_SIZE, Disk};
use tessera_runtime::abi::flag::{SEEK_END, SEEK_SET};
use tessera_runtime::{Result, sys};

/// A disk the filesystem can also flush.
pub trait Device: Disk {
    /// Makes every write done so far durable. EIO if the device says so.
    fn flush(&mut self) -> Result<()>;
}

/// The device over an open file `fd`: block `n` is the bytes at
/// `n * BLOCK_SIZE`.
pub struct FdDisk {
    fd: usize,
}

impl FdDisk {
    /// Takes `fd` (open read-write).
    pub fn new(fd: usize) -> Self {
        Self { fd }
    }

    /// Seeks to `block` and moves all of `len` bytes with `step`, looping
    /// over short transfers. EIO for a transfer that stops early.
    fn transfer(
        &mut self,
        block: u64,
        len: usize,
        mut step: impl FnMut(usize, usize) -> Result<usize>,
    ) -> DiskResult<usize> {
        let offset =
            block.checked_mul(BLOCK_SIZE).and_then(|o| isize::try_from(o).ok()).ok_or(DiskError::new(EINVAL))?;
        sys::lseek(self.fd, offset, SEEK_SET).map_err(|e| DiskError::new(e.errno))?;
        let mut done = 0;
        while done < len {
            match step(self.fd, done) {
                Ok(0) => return Err(DiskError::new(EIO)),
                Ok(n) => done += n,
                Err(e) => return Err(DiskError::new(e.errno)),
            }
        }
        Ok(done)
    }
}

impl Disk for FdDisk {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> DiskResult<usize> {
        let len = buffer.len();
        self.transfer(block, len, |fd, done| sys::read(fd, &mut buffer[done..]))
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> DiskResult<usize> {
        self.transfer(block, buffer.len(), |fd, done| sys::write(fd, &buffer[done..]))
    }

    fn size(&mut self) -> DiskResult<u64> {
        sys::lseek(self.fd, 0, SEEK_END).map(|end| end as u64).map_err(|e| DiskError::new(e.errno))
    }
}

impl Device for FdDisk {
    fn flush(&mut self) -> Result<()> {
        sys::fsync(self.fd)
    }
}

/// The bytes [`BlockCache`] holds at most: 8 MiB.
pub const BLOCK_CACHE_BYTES: usize = 8 << 20;

/// The largest transfer the cache keeps (a RedoxFS record is at most
/// 128 KiB); larger ones pass through.
const CACHED_TRANSFER_MAX: usize = 128 << 10;

/// Transfers as the device last had them: `(first block, bytes)` exactly as
/// redoxfs read or wrote them (it reads a block or record with the same
/// address and length it wrote it with). A read of the same start and
/// length is answered from here; a write replaces what it overlaps; a
/// failed write forgets what it overlaps (the device's bytes there are
/// unknown). The least recently used go first beyond
/// [`BLOCK_CACHE_BYTES`]. Coherent because this daemon is the device's only
/// user.
#[derive(Default)]
pub struct BlockCache {
    entries: BTreeMap<u64, (Vec<u8>, u64)>,
    /// Entries by the tick they were last used at.
    lru: BTreeMap<u64, u64>,
    tick: u64,
    bytes: usize,
}

impl BlockCache {
    /// The cached transfer at `block` if it is exactly `len` bytes.
    fn get(&mut self, block: u64, len: usize) -> Option<&[u8]> {
        let (data, tick) = self.entries.get_mut(&block)?;
        if data.len() != len {
            return None;
        }
        self.lru.remove(tick);
        self.tick += 1;
        *tick = self.tick;
        self.lru.insert(self.tick, block);
        Some(data)
    }

    /// Forgets every entry overlapping `len` bytes at `block`.
    fn forget(&mut self, block: u64, len: usize) {
        let end = block + (len as u64).div_ceil(BLOCK_SIZE);
        let first = block.saturating_sub(CACHED_TRANSFER_MAX as u64 / BLOCK_SIZE);
        let overlapping: Vec<u64> = self
            .entries
            .range(first..end)
            .filter(|(start, (data, _))| **start + (data.len() as u64).div_ceil(BLOCK_SIZE) > block)
            .map(|(start, _)| *start)
            .collect();
        for start in overlapping {
            if let Some((data, tick)) = self.entries.remove(&start) {
                self.lru.remove(&tick);
                self.bytes -= data.len();
            }
        }
    }

    /// Keeps `data` as the device's bytes at `block`.
    fn put(&mut self, block: u64, data: &[u8]) {
        self.forget(block, data.len());
        if data.len() > CACHED_TRANSFER_MAX {
            return;
        }
        while self.bytes + data.len() > BLOCK_CACHE_BYTES {
            let Some((_, oldest)) = self.lru.pop_first() else { break };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.bytes -= old.len();
            }
        }
        self.tick += 1;
        self.lru.insert(self.tick, block);
        self.entries.insert(block, (data.to_vec(), self.tick));
        self.bytes += data.len();
    }
}

/// A device with the control file's knobs, and the block cache.
pub struct Knobs<D> {
    pub inner: D,
    /// Every write and flush fails with EIO (`fail-writes on`).
    pub fail_writes: bool,
    pub cache: BlockCache,
}

impl<D> Knobs<D> {
    pub fn new(inner: D) -> Self {
        Self { inner, fail_writes: false, cache: BlockCache::default() }
    }
}

impl<D: Device> Disk for Knobs<D> {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> DiskResult<usize> {
        if let Some(data) = self.cache.get(block, buffer.len()) {
            buffer.copy_from_slice(data);
            return Ok(buffer.len());
        }
        // SAFETY: passed on as redoxfs called it.
        let count = unsafe { self.inner.read_at(block, buffer) }?;
        if count == buffer.len() {
            self.cache.put(block, buffer);
        }
        Ok(count)
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> DiskResult<usize> {
        if self.fail_writes {
            return Err(DiskError::new(EIO));
        }
        // SAFETY: passed on as redoxfs called it.
        let result = unsafe { self.inner.write_at(block, buffer) };
        match result {
            Ok(count) if count == buffer.len() => self.cache.put(block, buffer),
            _ => self.cache.forget(block, buffer.len()),
        }
        result
    }

    fn size(&mut self) -> DiskResult<u64> {
        self.inner.size()
    }
}

impl<D: Device> Device for Knobs<D> {
    fn flush(&mut self) -> Result<()> {
        if self.fail_writes {
            return Err(tessera_runtime::Error::new(EIO));
        }
        self.inner.flush()
    }
}

/// A disk in memory for host tests, counting reads, writes and flushes.
#[cfg(test)]
pub mod mem {
    use std::vec::Vec;

    use super::*;

    pub struct MemDisk {
        pub bytes: Vec<u8>,
        pub flushes: usize,
        pub reads: usize,
        pub writes: usize,
    }

    impl MemDisk {
        pub fn new(bytes: usize) -> Self {
            Self { bytes: std::vec![0; bytes], flushes: 0, reads: 0, writes: 0 }
        }

        fn range(&self, block: u64, len: usize) -> DiskResult<core::ops::Range<usize>> {
            let start = (block * BLOCK_SIZE) as usize;
            let end = start + len;
            if end > self.bytes.len() { Err(DiskError::new(EIO)) } else { Ok(start..end) }
        }
    }

    impl Disk for MemDisk {
        unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> DiskResult<usize> {
            let range = self.range(block, buffer.len())?;
            self.reads += 1;
            buffer.copy_from_slice(&self.bytes[range]);
            Ok(buffer.len())
        }

        unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> DiskResult<usize> {
            let range = self.range(block, buffer.len())?;
            self.writes += 1;
            self.bytes[range].copy_from_slice(buffer);
            Ok(buffer.len())
        }

        fn size(&mut self) -> DiskResult<u64> {
            Ok(self.bytes.len() as u64)
        }
    }

    impl Device for MemDisk {
        fn flush(&mut self) -> Result<()> {
            self.flushes += 1;
            Ok(())
        }
    }
}

#[cfg(test)]
mod block_cache_tests {
    use super::*;

    #[test]
    fn exact_transfers_hit_overlaps_are_replaced_and_the_oldest_go() {
        let mut cache = BlockCache::default();
        cache.put(10, &[1u8; 8192]);
        assert_eq!(cache.get(10, 8192).map(|d| d[0]), Some(1));
        assert!(cache.get(10, 4096).is_none(), "another length is a miss");
        assert!(cache.get(11, 4096).is_none(), "another start is a miss");
        // A write over the second block replaces the whole transfer.
        cache.put(11, &[2u8; 4096]);
        assert!(cache.get(10, 8192).is_none());
        assert_eq!(cache.get(11, 4096).map(|d| d[0]), Some(2));
        cache.forget(8, 3 * 4096 + 1);
        assert!(cache.get(11, 4096).is_none(), "forgotten: overlapped");
        assert_eq!(cache.bytes, 0);
        // Larger than a record: not kept.
        cache.put(0, &alloc::vec![3u8; CACHED_TRANSFER_MAX + 4096]);
        assert_eq!(cache.bytes, 0);
        // Past the limit, the least recently used go first.
        let record = alloc::vec![4u8; CACHED_TRANSFER_MAX];
        let n = (BLOCK_CACHE_BYTES / CACHED_TRANSFER_MAX) as u64;
        for i in 0..n {
            cache.put(1000 + i * 32, &record);
        }
        assert!(cache.get(1000, CACHED_TRANSFER_MAX).is_some(), "used again: now the newest");
        cache.put(1000 + n * 32, &record);
        assert!(cache.bytes <= BLOCK_CACHE_BYTES);
        assert!(cache.get(1000, CACHED_TRANSFER_MAX).is_some());
        assert!(cache.get(1032, CACHED_TRANSFER_MAX).is_none(), "the least recently used went");
    }
}
