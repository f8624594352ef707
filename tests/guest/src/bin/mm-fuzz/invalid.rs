//! Bad arguments: each memory call with an argument the kernel must
//! refuse, with the errno docs/mm.md and the runtime's wrappers name; the
//! arena must be unchanged afterwards (the pages the call named are
//! checked at once, the rest at the next full check).

use tessera_runtime::abi::Map;
use tessera_runtime::abi::error::{EACCES, EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP};
use tessera_runtime::abi::number::SYS_FMAP;
use tessera_runtime::mm::{
    self, ANONYMOUS_FD, MADV_DONTNEED, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MREMAP_DONTUNMAP,
    MREMAP_FIXED, MREMAP_MAYMOVE, MS_ASYNC, MS_SYNC, MapFlags, PROT_EXEC, PROT_READ, PROT_RW, PROT_WRITE,
};
use tessera_runtime::syscall::syscall3;

use crate::model::ARENA;
use crate::ops::{Fuzzer, Got, PAGE};

/// The first address past the user half on both arches (any address at or
/// above it is outside every user range).
const KERNEL_HALF: usize = 0xFFFF_8000_0000_0000;
/// The bad calls [`Fuzzer::invalid`] draws from.
const CASES: usize = 26;

impl Fuzzer {
    /// One bad call, drawn at random; it must fail with its errno and
    /// leave the pages it names as they were.
    pub fn invalid(&mut self) {
        let (s, n) = self.range();
        let case = self.rng.below(CASES);
        let (a, len) = (self.addr(s), n * PAGE);
        let file = self.files[self.rng.below(self.files.len())];
        let map = |addr: usize, len: usize, flags: MapFlags, fd: usize, offset: usize| {
            // SAFETY: a call the kernel must refuse; were it to succeed, only
            // arena pages (or none) could change, which the checks report.
            unsafe { mm::mmap(addr, len, MapFlags::empty(), flags, fd, offset) }
        };
        let fixed_rw = PROT_RW | MAP_PRIVATE | MAP_FIXED;
        // SAFETY: as for `map`: every call below must fail; one that
        // succeeds touches only the arena, and is reported.
        let (what, got, errno) = unsafe {
            match case {
                0 => ("mmap of length 0", map(a, 0, fixed_rw, ANONYMOUS_FD, 0), EINVAL),
                1 => ("mmap MAP_FIXED at a misaligned address", map(a + 8, len, fixed_rw, ANONYMOUS_FD, 0), EINVAL),
                2 => (
                    "mmap with a misaligned offset",
                    map(a, len, PROT_RW | MAP_SHARED | MAP_FIXED, file.fd, 100),
                    EINVAL,
                ),
                3 => {
                    ("mmap with neither SHARED nor PRIVATE", map(a, len, PROT_RW | MAP_FIXED, ANONYMOUS_FD, 0), EINVAL)
                }
                4 => (
                    "mmap with both SHARED and PRIVATE",
                    map(a, len, PROT_RW | MAP_SHARED | MAP_PRIVATE | MAP_FIXED, ANONYMOUS_FD, 0),
                    EINVAL,
                ),
                5 => (
                    "mmap with an unknown flag bit",
                    map(a, len, fixed_rw | MapFlags::from_bits_retain(0x100), ANONYMOUS_FD, 0),
                    EINVAL,
                ),
                6 => (
                    "mmap with the NOREPLACE bit but not FIXED",
                    map(a, len, PROT_RW | MAP_PRIVATE | MapFlags::from_bits_retain(0x8), ANONYMOUS_FD, 0),
                    EINVAL,
                ),
                7 => ("mmap writable and executable", map(a, len, fixed_rw | PROT_EXEC, ANONYMOUS_FD, 0), EACCES),
                8 => (
                    "mmap MAP_FIXED past the end of the address space",
                    map(usize::MAX & !(PAGE - 1), 2 * PAGE, fixed_rw, ANONYMOUS_FD, 0),
                    ENOMEM,
                ),
                9 => ("mmap MAP_FIXED in the kernel half", map(KERNEL_HALF, len, fixed_rw, ANONYMOUS_FD, 0), ENOMEM),
                10 => ("mmap MAP_PRIVATE of the memory: object", map(a, len, fixed_rw, self.memobj.fd, 0), EOPNOTSUPP),
                11 => (
                    "mmap shared writable of a file open read-only",
                    map(a, len, PROT_RW | MAP_SHARED | MAP_FIXED, file.ro_fd, 0),
                    EACCES,
                ),
                12 => ("mmap of a closed fd", map(a, len, PROT_RW | MAP_SHARED | MAP_FIXED, 999, 0), EBADF),
                13 => {
                    let m = Map { offset: 0, size: len, flags: fixed_rw, address: a };
                    ("fmap with a short Map", syscall3(SYS_FMAP, ANONYMOUS_FD, (&raw const m) as usize, 8), EINVAL)
                }
                14 => ("munmap at a misaligned address", mm::munmap(a + 1, len).map(|()| 0), EINVAL),
                15 => ("munmap of length 0", mm::munmap(a, 0).map(|()| 0), EINVAL),
                16 => ("munmap wrapping around", mm::munmap(a, usize::MAX - a + PAGE).map(|()| 0), EINVAL),
                17 => ("mprotect at a misaligned address", mm::mprotect(a + 8, len, PROT_READ).map(|()| 0), EINVAL),
                18 => (
                    "mprotect with an unknown bit",
                    mm::mprotect(a, len, PROT_READ | MapFlags::from_bits_retain(0x1)).map(|()| 0),
                    EINVAL,
                ),
                19 => (
                    "mprotect writable and executable",
                    mm::mprotect(a, len, PROT_WRITE | PROT_EXEC).map(|()| 0),
                    EACCES,
                ),
                20 => ("mremap to length 0", mm::mremap(a, len, 0, 0, MREMAP_MAYMOVE), EINVAL),
                21 => ("mremap FIXED without MAYMOVE", mm::mremap(a, len, self.addr(0), len, MREMAP_FIXED), EINVAL),
                22 => (
                    "mremap DONTUNMAP to another length",
                    mm::mremap(a, len, 0, len + PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
                    EINVAL,
                ),
                23 => ("mremap with Redox's KEEP_OLD", mm::mremap(a, len, 0, len, 4), EOPNOTSUPP),
                24 => ("madvise with unknown advice", mm::madvise(a, len, 1000 + MADV_DONTNEED).map(|()| 0), EINVAL),
                _ => ("msync with both SYNC and ASYNC", mm::msync(a, len, MS_SYNC | MS_ASYNC).map(|()| 0), EINVAL),
            }
        };
        self.note(format_args!("invalid: {what} (p={s} n={n})"));
        let ok = matches!(got, Err(e) if e.errno == errno);
        if !ok {
            self.fail(format_args!("{what}: expected {}, got {}", tessera_guest_tests::errno_name(errno), Got(got)));
        }
        self.check_around(s, (s + n + 1).min(ARENA), false);
        // NOREPLACE over a mapping: EEXIST, and the old mapping stays.
        if let Some(p) = (s..s + n).find(|&p| self.m.pages[p].is_some()) {
            // SAFETY: the call must fail (a mapped page is in the range).
            let got = unsafe { mm::mmap(a, len, PROT_RW, MAP_PRIVATE | MAP_FIXED_NOREPLACE, ANONYMOUS_FD, 0) };
            if !matches!(got, Err(e) if e.errno == EEXIST) {
                self.fail(format_args!("MAP_FIXED_NOREPLACE over page {p}: expected EEXIST, got {}", Got(got)));
            }
        }
    }
}
