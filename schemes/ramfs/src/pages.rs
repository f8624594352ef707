//! The memory file data lives in: ranges of the daemon's own address
//! space, reserved inaccessible and opened up page by page as files grow.
//!
//! [`Pages`] is what the filesystem needs of it; [`SystemPages`] does it
//! with the runtime's memory calls (`mmap(PROT_NONE)` to reserve,
//! `mprotect` to open up, `mprotect(PROT_NONE)` + `madvise(MADV_DONTNEED)`
//! to give pages back), and the host tests use a fake that checks every
//! access lands on open pages and counts the pages holding data.

use tessera_runtime::abi::error::{EIO, ENOSPC};
use tessera_runtime::mm::{self, MADV_DONTNEED, MAP_PRIVATE, PROT_NONE, PROT_RW};
use tessera_runtime::{Error, Result, scheme};

/// The page size, in bytes.
pub const PAGE_BYTES: usize = mm::PAGE_SIZE;

/// Page-granular memory for file data. Addresses and lengths are
/// page-aligned except for [`Pages::read`] / [`Pages::write`], which stay
/// within pages opened up.
pub trait Pages {
    /// Reserves `bytes` of address space with no access (costing no
    /// memory) and returns its start. ENOSPC if there is no room.
    fn reserve(&mut self, bytes: usize) -> Result<usize>;
    /// Gives a reserved range back entirely.
    fn release(&mut self, base: usize, bytes: usize);
    /// Makes `[addr, addr + bytes)` readable and writable; new pages read
    /// as zeroes. ENOSPC if that fails.
    fn open_up(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Makes `[addr, addr + bytes)` inaccessible again, then drops its
    /// memory (opened up later, it reads as zeroes). EIO if that fails.
    fn close_down(&mut self, addr: usize, bytes: usize) -> Result<()>;
    /// Copies `out.len()` bytes at `addr` (opened up) into `out`.
    fn read(&self, addr: usize, out: &mut [u8]);
    /// Copies `data` to `addr` (opened up).
    fn write(&mut self, addr: usize, data: &[u8]);
}

/// [`Pages`] in this process's address space, through the memory calls.
/// With the scheme's queue fd set, pages given back are first taken back
/// from every mapping that borrowed them (`scheme::take_back`).
#[derive(Default)]
pub struct SystemPages {
    /// The queue of the scheme that lends these pages.
    pub queue: Option<usize>,
}

impl Pages for SystemPages {
    fn reserve(&mut self, bytes: usize) -> Result<usize> {
        mm::mmap_anonymous(bytes, PROT_NONE, MAP_PRIVATE).map_err(|_| Error::new(ENOSPC))
    }

    fn release(&mut self, base: usize, bytes: usize) {
        // SAFETY: the range is a reservation of `reserve` that its file no
        // longer uses; no Rust reference points into it.
        let _ = unsafe { mm::munmap(base, bytes) };
    }

    fn open_up(&mut self, addr: usize, bytes: usize) -> Result<()> {
        // SAFETY: gives more access to pages of a reservation, which hold
        // no Rust object.
        unsafe { mm::mprotect(addr, bytes, PROT_RW) }.map_err(|_| Error::new(ENOSPC))
    }

    fn close_down(&mut self, addr: usize, bytes: usize) -> Result<()> {
        // SAFETY: pages past a file's end: nothing reads or writes them
        // until they are opened up again. PROT_NONE first, so that a client
        // fetching the file's pages faults (SIGBUS) from now on instead of
        // finding a fresh page there; then the kernel takes them out of
        // every mapping (past the new end of file, a touch is SIGBUS, as on
        // Linux); then the memory goes.
        unsafe { mm::mprotect(addr, bytes, PROT_NONE) }.map_err(|_| Error::new(EIO))?;
        if let Some(queue) = self.queue {
            scheme::take_back(queue, addr, bytes).map_err(|_| Error::new(EIO))?;
        }
        // SAFETY: as above.
        unsafe { mm::madvise(addr, bytes, MADV_DONTNEED) }.map_err(|_| Error::new(EIO))
    }

    fn read(&self, addr: usize, out: &mut [u8]) {
        // SAFETY: `[addr, addr + out.len())` lies in pages of a file that
        // are open (readable and writable, the `Pages` contract) and this
        // process's own; `out` is a distinct Rust buffer. Another process
        // borrowing the frames may write them meanwhile, which only changes
        // the bytes read.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), out.len()) }
    }

    fn write(&mut self, addr: usize, data: &[u8]) {
        // SAFETY: as in `read`, writable.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) }
    }
}

/// A fake [`Pages`] for host tests: sparse pages in a map, the access of
/// each page tracked, every access checked.
#[cfg(test)]
pub mod fake {
    use std::collections::{BTreeMap, BTreeSet};
    use std::vec::Vec;

    use super::*;

    #[derive(Default)]
    pub struct FakePages {
        /// Reservations: base → bytes.
        pub reserved: BTreeMap<usize, usize>,
        /// Pages opened up.
        pub open: BTreeSet<usize>,
        /// Pages holding data (written, or holding data when closed down:
        /// dropped then).
        pub data: BTreeMap<usize, Vec<u8>>,
        /// Bytes handed out so far (where the next reservation goes).
        pub next: usize,
        /// Reservations refused after this many (None: never).
        pub reserve_limit: Option<usize>,
    }

    impl FakePages {
        fn pages(addr: usize, bytes: usize) -> impl Iterator<Item = usize> {
            assert_eq!(addr % PAGE_BYTES, 0, "page-aligned");
            assert_eq!(bytes % PAGE_BYTES, 0, "whole pages");
            (addr..addr + bytes).step_by(PAGE_BYTES)
        }

        fn check_open(&self, addr: usize, len: usize) {
            if len == 0 {
                return;
            }
            let first = addr / PAGE_BYTES * PAGE_BYTES;
            for page in (first..addr + len).step_by(PAGE_BYTES) {
                assert!(self.open.contains(&page), "access to page {page:#x}, which is not open");
            }
        }

        /// Pages holding data.
        pub fn resident(&self) -> usize {
            self.data.len()
        }
    }

    impl Pages for FakePages {
        fn reserve(&mut self, bytes: usize) -> Result<usize> {
            if self.reserve_limit.is_some_and(|limit| self.reserved.len() >= limit) {
                return Err(Error::new(ENOSPC));
            }
            // Apart by a gap, so that overruns hit nothing.
            let base = 0x10_0000_0000 + self.next;
            self.next += bytes + PAGE_BYTES;
            self.reserved.insert(base, bytes);
            Ok(base)
        }

        fn release(&mut self, base: usize, bytes: usize) {
            assert_eq!(self.reserved.remove(&base), Some(bytes), "released what was reserved");
            self.open.retain(|&p| !(base..base + bytes).contains(&p));
            self.data.retain(|&p, _| !(base..base + bytes).contains(&p));
        }

        fn open_up(&mut self, addr: usize, bytes: usize) -> Result<()> {
            for page in Self::pages(addr, bytes) {
                assert!(self.open.insert(page), "page {page:#x} opened twice");
            }
            Ok(())
        }

        fn close_down(&mut self, addr: usize, bytes: usize) -> Result<()> {
            for page in Self::pages(addr, bytes) {
                assert!(self.open.remove(&page), "page {page:#x} closed but not open");
                self.data.remove(&page);
            }
            Ok(())
        }

        fn read(&self, addr: usize, out: &mut [u8]) {
            self.check_open(addr, out.len());
            for (i, byte) in out.iter_mut().enumerate() {
                let at = addr + i;
                let page = at / PAGE_BYTES * PAGE_BYTES;
                *byte = self.data.get(&page).map_or(0, |p| p[at - page]);
            }
        }

        fn write(&mut self, addr: usize, data: &[u8]) {
            self.check_open(addr, data.len());
            for (i, &byte) in data.iter().enumerate() {
                let at = addr + i;
                let page = at / PAGE_BYTES * PAGE_BYTES;
                self.data.entry(page).or_insert_with(|| std::vec![0; PAGE_BYTES])[at - page] = byte;
            }
        }
    }
}
