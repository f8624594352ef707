//! The block device under the filesystem: any open file, read and written
//! in place with seek + read / write and flushed with fsync. Today a disk
//! image on ramfs; later a partition of the `disk:` scheme.
//!
//! [`Device`] is redoxfs's `Disk` plus a flush; [`FdDisk`] is it over an
//! fd. [`Knobs`] wraps any device for the control file: writes can be made
//! to fail (the write-back error path, `docs/redoxfs.md`); it also keeps a
//! [`BlockCache`] (`block_cache.rs`) of what was last read and written, so reading back a
//! record redoxfs just wrote (it reads each record before it rewrites it)
//! costs no device request, and joins writes to consecutive blocks into
//! one device write (redoxfs commits a transaction's blocks in address
//! order, then the header).

use alloc::vec::Vec;

use redox_syscall_07::error::{EINVAL, EIO, Error as DiskError, Result as DiskResult};
use redoxfs::{BLOCK_SIZE, Disk, HEADER_RING};

use crate::block_cache::BlockCache;
use tessera_runtime::abi::flag::{SEEK_END, SEEK_SET};
use tessera_runtime::abi::scheme::{REQUEST_PAYLOAD_MAX_BYTES, RESPONSE_PAYLOAD_MAX_BYTES};
use tessera_runtime::{Result, sys};

/// A disk the filesystem can also flush, and maybe queue writes to.
pub trait Device: Disk {
    /// Makes every write done so far durable. EIO if the device says so.
    fn flush(&mut self) -> Result<()>;

    /// Queues `writes` (first block, bytes, and zero bytes after them
    /// each, whole blocks in all; their headers and bytes at most
    /// [`QUEUE_LIST_MAX_BYTES`]): the device may still be writing when
    /// this returns, and a failure may be reported only by the next
    /// [`Device::wait_queued`]. A device that cannot queue writes writes
    /// them at once, in order.
    ///
    /// # Safety
    /// As [`Disk::write_at`], for each.
    unsafe fn queue(&mut self, writes: &[QueuedWrite<'_>]) -> DiskResult<()> {
        // SAFETY: passed on from the caller.
        unsafe { write_each(self, writes) }
    }

    /// Waits until every queued write is on the device: an error (EIO) if
    /// any of them failed since the last wait.
    fn wait_queued(&mut self) -> DiskResult<()> {
        Ok(())
    }
}

/// The most bytes one read or write of the device's fd moves: whole
/// blocks that fit in one scheme message (60 KiB). The kernel cuts a longer
/// transfer into messages of `REQUEST_PAYLOAD_MAX_BYTES` /
/// `RESPONSE_PAYLOAD_MAX_BYTES`, which are not whole sectors: a disk then
/// moves the sector cut in two by reading it and writing it back, and
/// starts the next message in the middle of one (four more device requests
/// per message). Cut here, every message is whole blocks.
pub const TRANSFER_MAX_BYTES: usize = {
    let message = if REQUEST_PAYLOAD_MAX_BYTES < RESPONSE_PAYLOAD_MAX_BYTES {
        REQUEST_PAYLOAD_MAX_BYTES
    } else {
        RESPONSE_PAYLOAD_MAX_BYTES
    };
    message / BLOCK_SIZE as usize * BLOCK_SIZE as usize
};
const _: () = assert!(TRANSFER_MAX_BYTES > 0, "a scheme message holds at least one block");

/// Where the piece of a `len`-byte transfer that starts at `done` ends:
/// at most [`TRANSFER_MAX_BYTES`] on, and on a multiple of it (a short
/// transfer before goes on to the same boundary).
fn piece_end(done: usize, len: usize) -> usize {
    ((done / TRANSFER_MAX_BYTES + 1) * TRANSFER_MAX_BYTES).min(len)
}

/// The most bytes of one queue list, headers included: one scheme message
/// (a longer write would reach the driver cut in two).
pub const QUEUE_LIST_MAX_BYTES: usize = REQUEST_PAYLOAD_MAX_BYTES;

/// The header of each write in a queue list: its byte offset (`u64`), the
/// bytes that follow (`u32`) and the zero bytes the write has after them
/// (`u32`), little-endian (docs/drivers.md, "Queued writes").
pub const QUEUE_ENTRY_HEADER: usize = 16;

/// The most one queue list writes in all, zeros included (the driver
/// refuses more: docs/drivers.md, "Queued writes").
pub const QUEUE_LIST_MAX_WRITE_BYTES: usize = 1 << 20;

/// A write to queue: its first block, its bytes, and how many zero bytes
/// follow them (a block's zero tail crosses to the driver as a count).
pub type QueuedWrite<'a> = (u64, &'a [u8], usize);

/// Writes `writes` at once, in order, each with its zeros: EIO for one
/// written short.
///
/// # Safety
/// As [`Disk::write_at`], for each.
unsafe fn write_each<D: Disk + ?Sized>(disk: &mut D, writes: &[QueuedWrite<'_>]) -> DiskResult<()> {
    for &(block, bytes, zeros) in writes {
        let mut buffer = bytes.to_vec();
        buffer.resize(bytes.len() + zeros, 0);
        // SAFETY: passed on from the caller.
        if unsafe { disk.write_at(block, &buffer) }? != buffer.len() {
            return Err(DiskError::new(EIO));
        }
    }
    Ok(())
}

/// How many bytes at the end of `bytes` are zero (eight-byte words from
/// the end, then byte by byte).
pub(crate) fn zero_tail(bytes: &[u8]) -> usize {
    let zero_words = bytes
        .rchunks_exact(8)
        .take_while(|word| <[u8; 8]>::try_from(*word).is_ok_and(|w| u64::from_ne_bytes(w) == 0))
        .count();
    let mut end = bytes.len() - 8 * zero_words;
    while end > 0 && bytes[end - 1] == 0 {
        end -= 1;
    }
    bytes.len() - end
}

/// The most bytes of one write held: whole blocks that fit a list with
/// their header.
const HELD_PIECE_MAX_BYTES: usize =
    (QUEUE_LIST_MAX_BYTES - QUEUE_ENTRY_HEADER) / BLOCK_SIZE as usize * BLOCK_SIZE as usize;

/// The device over an open file `fd`: block `n` is the bytes at
/// `n * BLOCK_SIZE`. Writes are queued through `dup(fd, "queue")` where
/// the file has it (a `disk:` device, docs/drivers.md "Queued writes").
pub struct FdDisk {
    fd: usize,
    /// The queue handle, if the file has one.
    queue: Option<usize>,
}

impl FdDisk {
    /// Takes `fd` (open read-write) and asks it for a queue handle.
    pub fn new(fd: usize) -> Self {
        Self { fd, queue: sys::dup_named(fd, b"queue").ok() }
    }

    /// Seeks `fd` to `block` and moves all of `len` bytes with `step(fd,
    /// done, end)` (bytes `done..end` of the buffer), [`TRANSFER_MAX_BYTES`]
    /// at a time, looping over short transfers. EIO for a transfer that
    /// stops early.
    fn transfer(
        fd: usize,
        block: u64,
        len: usize,
        mut step: impl FnMut(usize, usize, usize) -> Result<usize>,
    ) -> DiskResult<usize> {
        let offset =
            block.checked_mul(BLOCK_SIZE).and_then(|o| isize::try_from(o).ok()).ok_or(DiskError::new(EINVAL))?;
        sys::lseek(fd, offset, SEEK_SET).map_err(|e| DiskError::new(e.errno))?;
        let mut done = 0;
        while done < len {
            match step(fd, done, piece_end(done, len)) {
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
        Self::transfer(self.fd, block, len, |fd, done, end| sys::read(fd, &mut buffer[done..end]))
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> DiskResult<usize> {
        Self::transfer(self.fd, block, buffer.len(), |fd, done, end| sys::write(fd, &buffer[done..end]))
    }

    fn size(&mut self) -> DiskResult<u64> {
        sys::lseek(self.fd, 0, SEEK_END).map(|end| end as u64).map_err(|e| DiskError::new(e.errno))
    }
}

impl Device for FdDisk {
    fn flush(&mut self) -> Result<()> {
        sys::fsync(self.fd)
    }

    /// One write of the list to the queue handle; without one, each write
    /// at once.
    unsafe fn queue(&mut self, writes: &[QueuedWrite<'_>]) -> DiskResult<()> {
        let Some(fd) = self.queue else {
            // SAFETY: passed on from the caller.
            return unsafe { write_each(self, writes) };
        };
        let mut list = Vec::with_capacity(QUEUE_LIST_MAX_BYTES);
        for &(block, bytes, zeros) in writes {
            let count = |n: usize| u32::try_from(n).map_err(|_| DiskError::new(EINVAL));
            list.extend_from_slice(&(block * BLOCK_SIZE).to_le_bytes());
            list.extend_from_slice(&count(bytes.len())?.to_le_bytes());
            list.extend_from_slice(&count(zeros)?.to_le_bytes());
            list.extend_from_slice(bytes);
        }
        match sys::write(fd, &list) {
            Ok(n) if n == list.len() => Ok(()),
            Ok(_) => Err(DiskError::new(EIO)),
            Err(e) => Err(DiskError::new(e.errno)),
        }
    }

    /// `fsync` of the queue handle: waits for its writes (it does not
    /// flush the device).
    fn wait_queued(&mut self) -> DiskResult<()> {
        match self.queue {
            Some(fd) => sys::fsync(fd).map_err(|e| DiskError::new(e.errno)),
            None => Ok(()),
        }
    }
}

/// A device with the control file's knobs, the block cache, the writes
/// held and the writes queued.
///
/// Writes are *held* in a list, a write that continues the last one
/// joined to it (consecutive blocks), until the list would no longer fit
/// one queue list ([`QUEUE_LIST_MAX_BYTES`]), a read, a flush, or a write
/// into the header ring; then the list is *queued* to the device in one
/// call ([`Device::queue`], not waited for). A header write, a flush and
/// the end of every transaction ([`Knobs::drain`]) first wait for every
/// queued write. redoxfs writes a transaction's header last, so every
/// block it names is on the device first, and a queued write that fails
/// fails the call that waits for it (the header's, a flush, or the
/// transaction's end): the header is then not written and the
/// transaction fails, as if the write had failed at once. A commit's
/// scattered blocks so reach the driver in one or two `disk:` calls, not
/// one each.
pub struct Knobs<D> {
    pub inner: D,
    /// Every write and flush fails with EIO (`fail-writes on`).
    pub fail_writes: bool,
    pub cache: BlockCache,
    /// The writes held: first block, bytes, and the zero bytes after
    /// them each.
    held: Vec<(u64, Vec<u8>, usize)>,
    /// Their size as a queue list, headers included (zeros do not count).
    held_bytes: usize,
    /// What they write in all, zeros included.
    held_writes: usize,
    /// The writes queued since the last wait: first block and length.
    queued: Vec<(u64, usize)>,
    /// The header ring's blocks (the filesystem's first [`HEADER_RING`]).
    pub ring: core::ops::Range<u64>,
}

impl<D> Knobs<D> {
    pub fn new(inner: D) -> Self {
        Self {
            inner,
            fail_writes: false,
            cache: BlockCache::default(),
            held: Vec::new(),
            held_bytes: 0,
            held_writes: 0,
            queued: Vec::new(),
            ring: 0..HEADER_RING,
        }
    }
}

impl<D: Device> Knobs<D> {
    /// Queues the writes held, if any. Its error if the device refused
    /// them at once; the cache forgets those blocks then.
    fn send(&mut self) -> DiskResult<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = core::mem::take(&mut self.held);
        self.held_bytes = 0;
        self.held_writes = 0;
        let writes: Vec<QueuedWrite<'_>> =
            held.iter().map(|(block, data, zeros)| (*block, &data[..], *zeros)).collect();
        // SAFETY: blocks and bytes as redoxfs wrote them.
        let result = unsafe { self.inner.queue(&writes) };
        for (block, data, zeros) in &held {
            if result.is_ok() {
                self.queued.push((*block, data.len() + zeros));
            } else {
                self.cache.forget(*block, data.len() + zeros);
            }
        }
        result
    }

    /// Holds a write of `buffer` at `block` (whole blocks, outside the
    /// header ring): its zero tail as a count, joined to the last one
    /// held if it continues that one and that one has no zero tail; what
    /// is held is queued first if the write would not fit with it.
    fn hold(&mut self, block: u64, buffer: &[u8], zeros: usize) -> DiskResult<()> {
        let bytes = &buffer[..buffer.len() - zeros];
        let fits_writes = self.held_writes + buffer.len() <= QUEUE_LIST_MAX_WRITE_BYTES;
        if let Some((first, last, tail)) = self.held.last_mut()
            && *tail == 0
            && *first + (last.len() as u64) / BLOCK_SIZE == block
            && self.held_bytes + bytes.len() <= QUEUE_LIST_MAX_BYTES
            && fits_writes
        {
            last.extend_from_slice(bytes);
            *tail = zeros;
            self.held_bytes += bytes.len();
            self.held_writes += buffer.len();
            return Ok(());
        }
        if self.held_bytes + QUEUE_ENTRY_HEADER + bytes.len() > QUEUE_LIST_MAX_BYTES || !fits_writes {
            self.send()?;
        }
        self.held.push((block, bytes.to_vec(), zeros));
        self.held_bytes += QUEUE_ENTRY_HEADER + bytes.len();
        self.held_writes += buffer.len();
        Ok(())
    }

    /// Queues the write held and waits for every queued write: the first
    /// error if one failed. The cache then forgets every block queued
    /// since the last wait (which of them failed is not known).
    pub fn drain(&mut self) -> DiskResult<()> {
        let sent = self.send();
        if self.queued.is_empty() {
            return sent;
        }
        let waited = self.inner.wait_queued();
        let queued = core::mem::take(&mut self.queued);
        if waited.is_err() {
            for (block, len) in queued {
                self.cache.forget(block, len);
            }
        }
        sent.and(waited)
    }
}

impl<D: Device> Disk for Knobs<D> {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> DiskResult<usize> {
        // The device reads after the writes queued before (the driver
        // keeps that order, docs/drivers.md "Queued writes").
        self.send()?;
        if self.cache.read(block, buffer) {
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
        if !self.ring.contains(&block) && buffer.len().is_multiple_of(BLOCK_SIZE as usize) {
            // A write held whole, its zero tail counted once for the list
            // and the cache; an uncompressed record (128 KiB) in pieces
            // that fit a list.
            let zeros = zero_tail(buffer);
            if buffer.len() <= HELD_PIECE_MAX_BYTES {
                self.hold(block, buffer, zeros)?;
            } else {
                for (i, piece) in buffer.chunks(HELD_PIECE_MAX_BYTES).enumerate() {
                    self.hold(block + (i * HELD_PIECE_MAX_BYTES) as u64 / BLOCK_SIZE, piece, zero_tail(piece))?;
                }
            }
            self.cache.put_with_tail(block, buffer, zeros);
            return Ok(buffer.len());
        }
        self.drain()?;
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
        self.drain().map_err(|e| tessera_runtime::Error::new(e.errno))?;
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
        /// Writes, queued ones included.
        pub writes: usize,
        /// Queue lists (each one call, of one or more writes).
        pub queued: usize,
        /// Their bytes in all, headers included.
        pub list_bytes: usize,
        /// Waits for queued writes.
        pub waits: usize,
        /// Queued writes are taken but fail (nothing is written): the next
        /// wait says so, as a device failing after it took the write.
        pub fail_queued: bool,
        /// A queued write failed since the last wait.
        failed: bool,
    }

    impl MemDisk {
        pub fn new(bytes: usize) -> Self {
            Self {
                bytes: std::vec![0; bytes],
                flushes: 0,
                reads: 0,
                writes: 0,
                queued: 0,
                list_bytes: 0,
                waits: 0,
                fail_queued: false,
                failed: false,
            }
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

        unsafe fn queue(&mut self, writes: &[QueuedWrite<'_>]) -> DiskResult<()> {
            let list: usize = writes.iter().map(|(_, data, _)| QUEUE_ENTRY_HEADER + data.len()).sum();
            assert!(list <= QUEUE_LIST_MAX_BYTES, "a list fits one scheme message");
            let total: usize = writes.iter().map(|(_, data, zeros)| data.len() + zeros).sum();
            assert!(total <= QUEUE_LIST_MAX_WRITE_BYTES, "a list writes at most 1 MiB");
            self.queued += 1;
            self.list_bytes += list;
            for &(block, bytes, zeros) in writes {
                let range = self.range(block, bytes.len() + zeros)?;
                self.writes += 1;
                if self.fail_queued {
                    self.failed = true;
                } else {
                    let (data, tail) = self.bytes[range].split_at_mut(bytes.len());
                    data.copy_from_slice(bytes);
                    tail.fill(0);
                }
            }
            Ok(())
        }

        fn wait_queued(&mut self) -> DiskResult<()> {
            self.waits += 1;
            if core::mem::take(&mut self.failed) { Err(DiskError::new(EIO)) } else { Ok(()) }
        }
    }
}

#[cfg(test)]
mod block_cache_tests {
    use super::*;

    #[test]
    fn writes_are_held_joined_and_queued_as_one_list_before_the_header() {
        let block = BLOCK_SIZE as usize;
        let mut disk = Knobs::new(mem::MemDisk::new(512 * block));
        // SAFETY: every call below is on a disk in memory.
        unsafe {
            for (i, byte) in [1u8, 2, 3].into_iter().enumerate() {
                assert_eq!(disk.write_at(300 + i as u64, &alloc::vec![byte; block]), Ok(block));
            }
            // Elsewhere: held as a second write of the same list.
            disk.write_at(400, &alloc::vec![4u8; block]).unwrap();
            assert_eq!((disk.inner.writes, disk.inner.queued), (0, 0), "all held");
            assert_eq!(
                disk.held.iter().map(|(b, d, z)| (*b, d.len(), *z)).collect::<Vec<_>>(),
                [(300, 3 * block, 0), (400, block, 0)]
            );
            // A header block: the list goes first (one call, two writes),
            // is waited for, then the header is written.
            disk.write_at(7, &alloc::vec![9u8; block]).unwrap();
            assert_eq!((disk.inner.queued, disk.inner.waits, disk.inner.writes), (1, 1, 3));
            let sum: usize = disk.inner.bytes[300 * block..303 * block].iter().map(|&b| b as usize).sum();
            assert_eq!((sum, disk.inner.bytes[400 * block], disk.inner.bytes[7 * block]), (6 * block, 4, 9));
            // A read sends what is held first (and is answered by the cache).
            disk.write_at(410, &alloc::vec![5u8; block]).unwrap();
            let mut back = alloc::vec![0u8; block];
            disk.read_at(410, &mut back).unwrap();
            assert_eq!((disk.inner.queued, disk.inner.reads, back[0]), (2, 0, 5));
            // A list is cut where the next write would not fit one scheme
            // message; a 128 KiB write is held in pieces that fit.
            disk.drain().unwrap();
            let queued = disk.inner.queued;
            disk.write_at(440, &alloc::vec![6u8; 32 * block]).unwrap();
            for piece in disk.held.iter().map(|(_, d, _)| d.len()) {
                assert!(piece <= HELD_PIECE_MAX_BYTES);
            }
            assert!(disk.held_bytes <= QUEUE_LIST_MAX_BYTES);
            disk.drain().unwrap();
            assert_eq!(disk.inner.queued - queued, 3, "128 KiB in three lists of at most 64 KiB");
            assert!(disk.inner.bytes[440 * block..472 * block].iter().all(|&b| b == 6));
            // A held write the device refuses at once (past the end) fails
            // the header's write, which is then not written; the cache
            // forgets the refused blocks.
            disk.write_at(510, &alloc::vec![6u8; 4 * block]).unwrap();
            assert!(disk.write_at(8, &alloc::vec![9u8; block]).is_err(), "past the end of the disk");
            assert_eq!(disk.inner.bytes[8 * block], 0, "the header is not written");
            assert!(disk.cache.get(510, 4 * block).is_none());
            assert_eq!(disk.drain(), Ok(()), "nothing held any more");
        }
    }

    #[test]
    fn zero_tails_cross_as_a_count_and_land_as_zeros() {
        assert_eq!([zero_tail(&[]), zero_tail(&[0; 5]), zero_tail(&[1, 0, 0]), zero_tail(&[0, 1])], [0, 5, 2, 0]);
        let mut word_then_bytes = [0u8; 21];
        word_then_bytes[3] = 7;
        assert_eq!(zero_tail(&word_then_bytes), 17);
        let block = BLOCK_SIZE as usize;
        let mut disk = Knobs::new(mem::MemDisk::new(2048 * block));
        disk.inner.bytes.fill(0xEE);
        // A short record at the start of its block, a block of zeros right
        // after it, a block that is full.
        let mut record = alloc::vec![0u8; block];
        record[..1000].fill(0x42);
        // SAFETY: every call below is on a disk in memory.
        unsafe {
            disk.write_at(300, &record).unwrap();
            disk.write_at(301, &alloc::vec![0u8; block]).unwrap();
            disk.write_at(302, &alloc::vec![3u8; block]).unwrap();
            assert_eq!(
                disk.held.iter().map(|(b, d, z)| (*b, d.len(), *z)).collect::<Vec<_>>(),
                [(300, 1000, block - 1000), (301, 0, block), (302, block, 0)],
                "a write with a zero tail is not joined to, the driver joins them"
            );
            disk.drain().unwrap();
        }
        assert_eq!(disk.inner.list_bytes, 3 * QUEUE_ENTRY_HEADER + 1000 + block, "the zeros do not cross");
        let bytes = &disk.inner.bytes;
        assert!(bytes[300 * block..300 * block + 1000].iter().all(|&b| b == 0x42));
        assert!(bytes[300 * block + 1000..302 * block].iter().all(|&b| b == 0), "the zeros are written");
        assert!(bytes[302 * block..303 * block].iter().all(|&b| b == 3));
        assert_eq!((bytes[300 * block - 1], bytes[303 * block]), (0xEE, 0xEE), "nothing around them");
        // The cache keeps whole blocks.
        assert_eq!(disk.cache.get(300, block), Some(record.clone()));
        // 300 blocks of zeros, none continuing another: a list holds at
        // most 1 MiB of writes (the MemDisk asserts it), so three lists.
        let queued = disk.inner.queued;
        // SAFETY: a disk in memory.
        unsafe {
            for i in 0..300 {
                disk.write_at(1000 + 2 * i, &alloc::vec![0u8; block]).unwrap();
            }
            disk.drain().unwrap();
        }
        assert_eq!(disk.inner.queued - queued, 300usize.div_ceil(QUEUE_LIST_MAX_WRITE_BYTES / block));
    }

    #[test]
    fn held_writes_are_queued_and_waited_for_before_the_header_and_a_flush() {
        let block = BLOCK_SIZE as usize;
        let mut disk = Knobs::new(mem::MemDisk::new(512 * block));
        // SAFETY: every call below is on a disk in memory.
        unsafe {
            disk.write_at(300, &alloc::vec![1u8; block]).unwrap();
            disk.write_at(400, &alloc::vec![2u8; block]).unwrap();
            let mut back = alloc::vec![0u8; block];
            disk.read_at(300, &mut back).unwrap();
            assert_eq!((disk.inner.queued, disk.inner.waits), (1, 0), "queued, not waited for");
            assert_eq!(disk.drain(), Ok(()));
            assert_eq!(disk.drain(), Ok(()));
            assert_eq!(disk.inner.waits, 1, "a wait only with something queued");
            // The device takes two writes and fails them later: the header
            // waits for them, fails and is not written; the cache forgets
            // both.
            disk.inner.fail_queued = true;
            disk.write_at(310, &alloc::vec![3u8; block]).unwrap();
            disk.write_at(410, &alloc::vec![4u8; block]).unwrap();
            assert!(disk.write_at(7, &alloc::vec![9u8; block]).is_err(), "the header's write fails");
            assert_eq!(disk.inner.bytes[7 * block], 0, "the header is not written");
            assert!(disk.cache.get(310, block).is_none() && disk.cache.get(410, block).is_none());
            assert_eq!(disk.inner.waits, 2);
            // A flush waits too, and fails the same way.
            disk.write_at(320, &alloc::vec![5u8; block]).unwrap();
            assert!(Device::flush(&mut disk).is_err());
            assert_eq!((disk.inner.flushes, disk.inner.waits), (0, 3), "not flushed");
            disk.inner.fail_queued = false;
            disk.write_at(7, &alloc::vec![9u8; block]).unwrap();
            assert_eq!(disk.inner.bytes[7 * block], 9, "once the device works the header goes");
            assert!(Device::flush(&mut disk).is_ok());
        }
    }

    #[test]
    fn transfers_go_in_whole_blocks_that_fit_one_scheme_message() {
        // A joined write of 300 KiB: pieces of 60 KiB, each starting on a
        // block, the last one the rest.
        let len = 300 << 10;
        let mut pieces = std::vec::Vec::new();
        let mut done = 0;
        while done < len {
            let end = piece_end(done, len);
            pieces.push(end - done);
            done = end;
        }
        assert_eq!(pieces, std::vec![60 << 10; 5]);
        // After a short transfer the piece runs to the same boundary.
        assert_eq!(piece_end(4096, len), TRANSFER_MAX_BYTES);
        assert_eq!(piece_end(0, 4096), 4096);
    }
}
