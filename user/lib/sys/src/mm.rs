//! Memory calls: typed wrappers for `fmap` (mmap), `funmap` (munmap),
//! `mprotect`, `mremap`, `madvise` and `msync`, and their flags.
//!
//! The calls and their argument layout are `tessera_abi::mm`'s (Redox's
//! `fmap` with a `Map`, plus Linux's `madvise` / `msync`); errors have
//! Linux's meaning. Besides the errnos each wrapper lists, every call may
//! give `ENOSYS` from a kernel without it.
//!
//! Calls that can take memory away from under Rust references (`munmap`,
//! `mprotect`, `mremap`, `madvise(MADV_DONTNEED)`, a `MAP_FIXED` map) are
//! `unsafe fn`s: the caller promises that nothing it still uses lives in
//! the range. [`mmap_anonymous`] places new memory where the kernel likes
//! and is safe.

use tessera_abi::error::EINVAL;
use tessera_abi::number::{SYS_FMAP, SYS_FUNMAP, SYS_MADVISE, SYS_MPROTECT, SYS_MREMAP, SYS_MSYNC};
use tessera_abi::{Error, Map, Result};

pub use tessera_abi::mm::{ANONYMOUS_FD, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};
pub use tessera_abi::mm::{
    MADV_DONTNEED, MADV_LEND_ASIDE, MADV_LEND_OPEN, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED,
};
pub use tessera_abi::mm::{MS_ASYNC, MS_INVALIDATE, MS_SYNC, MapFlags};

use crate::syscall::{syscall2, syscall3, syscall5};

/// The page size on both arches, in bytes.
pub const PAGE_SIZE: usize = 4096;

/// `PROT_NONE`: no access at all.
pub const PROT_NONE: MapFlags = MapFlags::PROT_NONE;
/// `PROT_READ`.
pub const PROT_READ: MapFlags = MapFlags::PROT_READ;
/// `PROT_WRITE`.
pub const PROT_WRITE: MapFlags = MapFlags::PROT_WRITE;
/// `PROT_EXEC`.
pub const PROT_EXEC: MapFlags = MapFlags::PROT_EXEC;
/// `PROT_READ | PROT_WRITE`, the usual data protection.
pub const PROT_RW: MapFlags = MapFlags::PROT_READ.union(MapFlags::PROT_WRITE);

/// `MAP_SHARED`: stays shared with children across `fork`.
pub const MAP_SHARED: MapFlags = MapFlags::MAP_SHARED;
/// `MAP_PRIVATE`: private to the process, copied on write after `fork`.
pub const MAP_PRIVATE: MapFlags = MapFlags::MAP_PRIVATE;
/// `MAP_FIXED`: exactly at the address given, replacing what was there.
pub const MAP_FIXED: MapFlags = MapFlags::MAP_FIXED;
/// `MAP_FIXED_NOREPLACE`: exactly at the address given, `EEXIST` if
/// anything is mapped there.
pub const MAP_FIXED_NOREPLACE: MapFlags = MapFlags::MAP_FIXED_NOREPLACE;
/// `MAP_POPULATE`: every page faulted in before the call returns.
pub const MAP_POPULATE: MapFlags = MapFlags::from_bits_retain(tessera_abi::mm::MAP_POPULATE);
/// `MAP_GROWSDOWN`: a stack that grows down on faults below it.
pub const MAP_GROWSDOWN: MapFlags = MapFlags::from_bits_retain(tessera_abi::mm::MAP_GROWSDOWN);

/// Maps `len` bytes (rounded up to pages) of the object behind `fd` at
/// `offset`: [`ANONYMOUS_FD`] for anonymous memory, or a `memory:` fd.
/// Without `MAP_FIXED` / `MAP_FIXED_NOREPLACE`, `addr_hint` is only a hint
/// (0: anywhere). `flags` holds exactly one of [`MAP_SHARED`] /
/// [`MAP_PRIVATE`], plus [`MAP_FIXED`], [`MAP_FIXED_NOREPLACE`],
/// [`MAP_POPULATE`]. Returns the address of the mapping.
///
/// Errors: `EINVAL` zero `len`, neither or both of SHARED / PRIVATE, a
/// misaligned fixed address or `offset`, a range that overflows or leaves
/// user space; `ENOMEM` no room (or over the address-space cap), or no
/// memory to populate; `EEXIST` `MAP_FIXED_NOREPLACE` over a mapping;
/// `EBADF` `fd` not open; `EACCES` / `EPERM` the object refuses the access.
///
/// # Safety
/// With `MAP_FIXED`, whatever was mapped in the range is gone: nothing the
/// program still uses may live there. Without it the call is safe.
pub unsafe fn mmap(
    addr_hint: usize,
    len: usize,
    prot: MapFlags,
    flags: MapFlags,
    fd: usize,
    offset: usize,
) -> Result<usize> {
    let map = Map { offset, size: len, flags: prot | flags, address: addr_hint };
    // SAFETY: the kernel reads one `Map` (the size passed) from `map`; what
    // the mapping replaces is the caller's promise.
    unsafe { syscall3(SYS_FMAP, fd, (&raw const map) as usize, size_of::<Map>()) }
}

/// Maps `len` bytes of fresh anonymous memory (zeroes) wherever the kernel
/// finds room. `flags` is [`MAP_PRIVATE`] or [`MAP_SHARED`], optionally
/// with [`MAP_POPULATE`]. Fixed placement needs [`mmap`]: with a fixed
/// flag this returns `EINVAL` without calling the kernel.
///
/// Errors: those of [`mmap`] (`EINVAL`, `ENOMEM`).
pub fn mmap_anonymous(len: usize, prot: MapFlags, flags: MapFlags) -> Result<usize> {
    if flags.intersects(MAP_FIXED | MAP_FIXED_NOREPLACE) {
        return Err(Error::new(EINVAL));
    }
    // SAFETY: not fixed: the new mapping replaces nothing.
    unsafe { mmap(0, len, prot, flags, ANONYMOUS_FD, 0) }
}

/// Unmaps every page of `[addr, addr + len)` (`len` rounded up to pages);
/// pages with nothing mapped are skipped, so a range with nothing mapped
/// succeeds.
///
/// Errors: `EINVAL` `addr` not page-aligned, zero `len`, or a range that
/// overflows or leaves user space.
///
/// # Safety
/// Nothing the program still uses may live in the range.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<()> {
    // SAFETY: the caller gives up the range.
    unsafe { syscall2(SYS_FUNMAP, addr, len) }.map(drop)
}

/// Sets the protection of every page of `[addr, addr + len)` to `prot`
/// (only `PROT_*` bits); [`PROT_NONE`] makes every access fault.
///
/// Errors: `EINVAL` `addr` not page-aligned or `prot` with other bits;
/// `ENOMEM` part of the range is not mapped (then nothing changed);
/// `EACCES` the object refuses the access (e.g. write to a read-only file).
///
/// # Safety
/// Nothing the program still uses may be in the range with less access
/// than it needs.
pub unsafe fn mprotect(addr: usize, len: usize, prot: MapFlags) -> Result<()> {
    // SAFETY: the caller vouches for the new protection.
    unsafe { syscall3(SYS_MPROTECT, addr, len, prot.bits()) }.map(drop)
}

/// Resizes or moves the mapping at `[old_addr, old_addr + old_len)` to
/// `new_len` bytes; returns its (possibly new) address. `flags`:
/// [`MREMAP_MAYMOVE`] lets it move when it cannot grow in place;
/// [`MREMAP_FIXED`] (with MAYMOVE) moves it to exactly `new_addr`,
/// replacing what is there; [`MREMAP_DONTUNMAP`] (with MAYMOVE, same
/// length) moves the pages and leaves the old range mapped and empty.
/// `new_addr` is ignored without FIXED.
///
/// Errors: `EINVAL` unaligned addresses, zero `new_len`, unknown flags,
/// FIXED or DONTUNMAP without MAYMOVE, DONTUNMAP with a new length, or a
/// fixed target overlapping the old range; `EFAULT` the old range is not
/// (within) one mapping; `ENOMEM` no room to grow in place without
/// MAYMOVE, no room anywhere, or no memory.
///
/// # Safety
/// Nothing the program still uses may live in the old range (it moves or
/// shrinks) or, with FIXED, in the new one.
pub unsafe fn mremap(old_addr: usize, old_len: usize, new_addr: usize, new_len: usize, flags: usize) -> Result<usize> {
    // SAFETY: the caller gives up the ranges that change.
    unsafe { syscall5(SYS_MREMAP, old_addr, old_len, new_addr, new_len, flags) }
}

/// Advises the kernel about `[addr, addr + len)`: [`MADV_NORMAL`],
/// [`MADV_RANDOM`], [`MADV_SEQUENTIAL`], [`MADV_WILLNEED`] are hints;
/// [`MADV_DONTNEED`] drops the pages, so private anonymous memory reads
/// back as zeroes (shared memory keeps its data).
///
/// Errors: `EINVAL` `addr` not page-aligned or unknown `advice`; `ENOMEM`
/// part of the range is not mapped.
///
/// # Safety
/// With `MADV_DONTNEED`, private memory in the range loses its contents:
/// nothing the program still uses may live there. The other advice values
/// change no contents.
pub unsafe fn madvise(addr: usize, len: usize, advice: usize) -> Result<()> {
    // SAFETY: the caller vouches for the range.
    unsafe { syscall3(SYS_MADVISE, addr, len, advice) }.map(drop)
}

/// Writes shared file-backed pages of `[addr, addr + len)` back to their
/// object: [`MS_SYNC`] (wait) or [`MS_ASYNC`], optionally with
/// [`MS_INVALIDATE`]. On anonymous memory it only validates.
///
/// Errors: `EINVAL` `addr` not page-aligned, both SYNC and ASYNC, or
/// unknown bits; `ENOMEM` part of the range is not mapped; `EIO` the
/// scheme failed to write.
pub fn msync(addr: usize, len: usize, flags: usize) -> Result<()> {
    // SAFETY: msync changes no memory contents or mappings.
    unsafe { syscall3(SYS_MSYNC, addr, len, flags) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_refuses_fixed_flags() {
        assert_eq!(mmap_anonymous(PAGE_SIZE, PROT_RW, MAP_PRIVATE | MAP_FIXED).map_err(|e| e.errno), Err(EINVAL));
        assert_eq!(MAP_POPULATE.bits(), 0x20);
        assert_eq!(PROT_RW.bits(), 0x6_0000);
    }
}
