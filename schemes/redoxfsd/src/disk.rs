//! The block device under the filesystem: any open file, read and written
//! in place with seek + read / write and flushed with fsync. Today a disk
//! image on ramfs; later a partition of the `disk:` scheme.
//!
//! [`Device`] is redoxfs's `Disk` plus a flush; [`FdDisk`] is it over an
//! fd. [`Knobs`] wraps any device for the control file: writes can be made
//! to fail (the write-back error path, `docs/redoxfs.md`).

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

/// A device with the control file's knobs.
pub struct Knobs<D> {
    pub inner: D,
    /// Every write and flush fails with EIO (`fail-writes on`).
    pub fail_writes: bool,
}

impl<D: Device> Disk for Knobs<D> {
    unsafe fn read_at(&mut self, block: u64, buffer: &mut [u8]) -> DiskResult<usize> {
        // SAFETY: passed on as redoxfs called it.
        unsafe { self.inner.read_at(block, buffer) }
    }

    unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> DiskResult<usize> {
        if self.fail_writes {
            return Err(DiskError::new(EIO));
        }
        // SAFETY: passed on as redoxfs called it.
        unsafe { self.inner.write_at(block, buffer) }
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

/// A disk in memory for host tests, counting flushes.
#[cfg(test)]
pub mod mem {
    use std::vec::Vec;

    use super::*;

    pub struct MemDisk {
        pub bytes: Vec<u8>,
        pub flushes: usize,
    }

    impl MemDisk {
        pub fn new(bytes: usize) -> Self {
            Self { bytes: std::vec![0; bytes], flushes: 0 }
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
            buffer.copy_from_slice(&self.bytes[range]);
            Ok(buffer.len())
        }

        unsafe fn write_at(&mut self, block: u64, buffer: &[u8]) -> DiskResult<usize> {
            let range = self.range(block, buffer.len())?;
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
