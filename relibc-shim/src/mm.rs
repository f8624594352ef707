//! The memory calls, C's faces of tessera-sys's wrappers
//! (`tessera_sys::mm`, Redox's mapping, see `tessera_abi::mm`): `mmap` is
//! `fmap(fd or !0, &Map)` with the C protection shifted into `MapFlags`
//! (`prot << 16`), `munmap` is `funmap`, `mprotect`, `mremap`, `msync`
//! and `madvise` are the kernel's calls; and
//! the pieces C expects that the kernel leaves to libc: `brk`/`sbrk` (over
//! one reserved mapping) and `shm_open` (ramfs files under `/shm`).

use alloc::string::String;
use core::ffi::{c_char, c_int, c_void};

use tessera_abi::error::{EEXIST, EINVAL, ENOMEM};
use tessera_abi::mm::{ANONYMOUS_FD, MREMAP_MAYMOVE, MapFlags};
use tessera_sys::mm as calls;

use crate::sys::{self, SysResult, cstr, ret_zero};
use crate::unistd::PAGE_BYTES;

/// `<sys/mman.h>` bits that are libc's alone and never reach the kernel.
const MAP_ANONYMOUS: c_int = 0x0100;
const MAP_NORESERVE: c_int = 0x0200;
const MAP_STACK: c_int = 0x0400;
/// The C `PROT_*` bits (shifted by 16 they are `MapFlags::PROT_*`).
const PROT_MASK: c_int = 0x7;
const PROT_SHIFT: u32 = 16;
const MAP_FAILED: *mut c_void = usize::MAX as *mut c_void;

/// The kernel's `fmap`.
///
/// # Safety
/// With a fixed flag the mapping replaces whatever was in the range.
unsafe fn fmap(fd: usize, addr: usize, len: usize, flags: MapFlags, offset: usize) -> SysResult<usize> {
    // SAFETY: replacing memory is the caller's promise. `flags` carries
    // the protection bits already.
    unsafe { calls::mmap(addr, len, MapFlags::empty(), flags, fd, offset) }.map_err(sys::errno)
}

/// `len` bytes of fresh private anonymous memory, read-write.
pub fn map_anon(len: usize) -> SysResult<usize> {
    let flags = MapFlags::PROT_READ | MapFlags::PROT_WRITE | MapFlags::MAP_PRIVATE;
    // SAFETY: not fixed: replaces nothing.
    unsafe { fmap(ANONYMOUS_FD, 0, len, flags, 0) }
}

/// Unmaps `[addr, addr + len)`.
///
/// # Safety
/// Nothing still in use may live in the range.
pub unsafe fn unmap(addr: usize, len: usize) -> SysResult<()> {
    // SAFETY: the caller gives the range up.
    unsafe { calls::munmap(addr, len) }.map_err(sys::errno)
}

/// Grows or shrinks the mapping at `addr`, which may move.
///
/// # Safety
/// The mapping must be the caller's alone.
pub unsafe fn remap_anon(addr: usize, old_len: usize, new_len: usize) -> SysResult<usize> {
    // SAFETY: the caller's contract.
    unsafe { calls::mremap(addr, old_len, 0, new_len, MREMAP_MAYMOVE) }.map_err(sys::errno)
}

/// The C `PROT_*` bits as the kernel's `MapFlags`.
fn c_prot(prot: c_int) -> MapFlags {
    MapFlags::from_bits_retain((prot as usize) << PROT_SHIFT)
}

fn map_failed(errno: c_int) -> *mut c_void {
    sys::set_errno(errno);
    MAP_FAILED
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: i64,
) -> *mut c_void {
    if prot & !PROT_MASK != 0 || offset < 0 || flags < 0 {
        return map_failed(EINVAL);
    }
    let kernel_bits = (flags & !(MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK)) as usize;
    let map_flags = MapFlags::from_bits_retain(kernel_bits) | c_prot(prot);
    let fd = if flags & MAP_ANONYMOUS != 0 { ANONYMOUS_FD } else { fd as usize };
    // SAFETY: what a fixed mapping replaces is the caller's business.
    match unsafe { fmap(fd, addr as usize, len, map_flags, offset as usize) } {
        Ok(at) => at as *mut c_void,
        Err(e) => map_failed(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    // SAFETY: the caller gives the range up.
    ret_zero(unsafe { unmap(addr as usize, len) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int {
    if prot & !PROT_MASK != 0 {
        return sys::fail(EINVAL);
    }
    // SAFETY: the caller vouches for the new protection.
    ret_zero(unsafe { calls::mprotect(addr as usize, len, c_prot(prot)) })
}

/// `mremap` without the variadic new address (c/fcntl.c reads it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_mremap(
    old: *mut c_void,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    // SAFETY: the caller gives the ranges that change up.
    match unsafe { calls::mremap(old as usize, old_len, new_addr as usize, new_len, flags as usize) } {
        Ok(at) => at as *mut c_void,
        Err(e) => map_failed(e.errno),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn msync(addr: *mut c_void, len: usize, flags: c_int) -> c_int {
    ret_zero(calls::msync(addr as usize, len, flags as usize))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int {
    // SAFETY: with MADV_DONTNEED the caller gives the contents up.
    ret_zero(unsafe { calls::madvise(addr as usize, len, advice as usize) })
}

/// As `madvise`, but returns the error number instead of setting errno.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { calls::madvise(addr as usize, len, advice as usize) } {
        Ok(()) => 0,
        Err(e) => e.errno,
    }
}

// ---- brk / sbrk ------------------------------------------------------------
// The kernel has no brk: the break lives in one mapping reserved
// PROT_NONE on first use; the part below the break is made read-write,
// and pages given back are made PROT_NONE again and dropped.

/// Bytes reserved for the break.
const BRK_RESERVE_BYTES: usize = 256 << 20;

struct Break {
    base: usize,
    current: usize,
    /// End of the read-write part (page-aligned).
    committed: usize,
}

static mut BREAK: Break = Break { base: 0, current: 0, committed: 0 };

/// Moves the break by `increment`; the old break.
fn move_break(increment: isize) -> SysResult<usize> {
    // SAFETY: C's brk/sbrk are not thread-safe either; one caller at a time.
    let brk = unsafe { &mut *core::ptr::addr_of_mut!(BREAK) };
    if brk.base == 0 {
        let flags = MapFlags::MAP_PRIVATE;
        // SAFETY: not fixed: replaces nothing.
        brk.base = unsafe { fmap(ANONYMOUS_FD, 0, BRK_RESERVE_BYTES, flags, 0) }?;
        brk.current = brk.base;
        brk.committed = brk.base;
    }
    let old = brk.current;
    let new = old.checked_add_signed(increment).ok_or(ENOMEM)?;
    if new < brk.base || new > brk.base + BRK_RESERVE_BYTES {
        return Err(ENOMEM);
    }
    let new_committed = new.next_multiple_of(PAGE_BYTES);
    if new_committed > brk.committed {
        // SAFETY: the range is inside the reservation, unused until now.
        unsafe { calls::mprotect(brk.committed, new_committed - brk.committed, calls::PROT_RW) }.map_err(sys::errno)?;
    } else if new_committed < brk.committed {
        let len = brk.committed - new_committed;
        // SAFETY: the program gave these pages back by lowering the break.
        unsafe {
            calls::mprotect(new_committed, len, calls::PROT_NONE).map_err(sys::errno)?;
            calls::madvise(new_committed, len, calls::MADV_DONTNEED).map_err(sys::errno)?;
        }
    }
    brk.committed = new_committed;
    brk.current = new;
    Ok(old)
}

#[unsafe(no_mangle)]
pub extern "C" fn sbrk(increment: isize) -> *mut c_void {
    match move_break(increment) {
        Ok(old) => old as *mut c_void,
        Err(e) => map_failed(e),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn brk(addr: *mut c_void) -> c_int {
    let current = match move_break(0) {
        Ok(current) => current,
        Err(e) => return sys::fail(e),
    };
    ret_zero(move_break((addr as usize).wrapping_sub(current) as isize))
}

// ---- shm_open ----------------------------------------------------------------

/// Where shared-memory objects live: ramfs files, which `mmap(MAP_SHARED)`
/// maps through the filesystem's fmap (so every process sees the same
/// pages).
const SHM_DIR: &str = "/shm";

/// `/shm/<name>` for a POSIX name `/<name>` (one leading slash, no other).
///
/// # Safety
/// `name` must be a C string.
unsafe fn shm_path(name: *const c_char) -> SysResult<String> {
    // SAFETY: the caller's contract.
    let name = core::str::from_utf8(unsafe { cstr(name) }).map_err(|_| EINVAL)?;
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare.contains('/') || bare.len() > 255 {
        return Err(EINVAL);
    }
    let mut path = String::from(SHM_DIR);
    path.push('/');
    path.push_str(bare);
    path.push('\0');
    Ok(path)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_open(name: *const c_char, flags: c_int, _mode: u32) -> c_int {
    use tessera_abi::flag::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY};
    // SAFETY: the caller's contract.
    let path = match unsafe { shm_path(name) } {
        Ok(path) => path,
        Err(e) => return sys::fail(e),
    };
    let dir = c"/shm";
    // SAFETY: a C string literal.
    match unsafe { crate::unistd::open_path(dir.as_ptr(), O_CREAT | O_DIRECTORY | O_EXCL | O_RDONLY) } {
        Ok(fd) => {
            crate::unistd::close(fd as c_int);
        }
        Err(EEXIST) => {}
        Err(e) => return sys::fail(e),
    }
    let flags = flags as u32 as usize | tessera_abi::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated.
    sys::ret_int(unsafe { crate::unistd::open_path(path.as_ptr() as *const c_char, flags) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn shm_unlink(name: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { shm_path(name) } {
        // SAFETY: `path` is NUL-terminated.
        Ok(path) => unsafe { crate::unistd::unlink(path.as_ptr() as *const c_char) },
        Err(e) => sys::fail(e),
    }
}
