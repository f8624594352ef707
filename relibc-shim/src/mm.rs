//! The memory calls, C's faces of tessera-sys's wrappers
//! (`tessera_sys::mm`, Redox's mapping, see `tessera_abi::mm`): `mmap` is
//! `fmap(fd or !0, &Map)`, `munmap` is `funmap`, `mprotect`, `mremap`,
//! `msync` and `madvise` are the kernel's calls; and
//! the pieces C expects that the kernel leaves to libc: `brk`/`sbrk` (over
//! one reserved mapping) and `shm_open` (ramfs files under `/shm`).
//!
//! C passes Linux's values (`linux_mman`, `<sys/mman.h>`); `mmap`,
//! `mprotect` and `mremap` translate them to the kernel's `MapFlags` and
//! `MREMAP_*`, answering here what Linux answers for the flags the kernel
//! never sees (MAP_SHARED_VALIDATE, MAP_SYNC, MAP_HUGETLB, the ignored
//! hints). `MS_*` and `MADV_*` are the kernel's numbers already.

use alloc::string::String;
use core::ffi::{c_char, c_int, c_void};

use tessera_abi::error::{EEXIST, EINVAL, ENOMEM, EOPNOTSUPP};
use tessera_abi::mm::{
    ANONYMOUS_FD, MAP_GROWSDOWN, MAP_POPULATE, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, MapFlags,
};
use tessera_sys::mm as calls;

use crate::linux_mman as linux;
use crate::sys::{self, SysResult, cstr, ret_zero};
use crate::unistd::PAGE_BYTES;

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

/// Linux's `PROT_READ` / `WRITE` / `EXEC` in `prot` as the kernel's
/// `MapFlags`; other bits are left out (mmap ignores them, as Linux does;
/// mprotect checks them first).
fn c_prot(prot: c_int) -> MapFlags {
    let mut out = MapFlags::empty();
    out.set(MapFlags::PROT_READ, prot & linux::PROT_READ != 0);
    out.set(MapFlags::PROT_WRITE, prot & linux::PROT_WRITE != 0);
    out.set(MapFlags::PROT_EXEC, prot & linux::PROT_EXEC != 0);
    out
}

/// mmap's Linux `flags` as the kernel's `MapFlags` (protection not
/// included), or the errno Linux gives for them. Linux's order: huge pages
/// first (none are reserved: ENOMEM for anonymous memory, EINVAL for a file
/// that is not on hugetlbfs), then the mapping type and MAP_SYNC (no file
/// is DAX: EOPNOTSUPP for files; anonymous memory ignores it, and has no
/// MAP_SHARED_VALIDATE: EINVAL). Flags the kernel does not take are hints
/// Linux may ignore (MAP_NORESERVE, MAP_STACK, MAP_DENYWRITE,
/// MAP_EXECUTABLE, MAP_UNINITIALIZED, MAP_NONBLOCK, unknown bits) and are
/// dropped; MAP_LOCKED populates (nothing is ever swapped out, so populated
/// memory is locked memory), and MAP_NONBLOCK turns MAP_POPULATE off, as
/// on Linux.
fn kernel_map_flags(flags: c_int) -> Result<MapFlags, c_int> {
    let anonymous = flags & linux::MAP_ANONYMOUS != 0;
    if flags & linux::MAP_HUGETLB != 0 {
        return Err(if anonymous { ENOMEM } else { EINVAL });
    }
    let shared = match flags & linux::MAP_TYPE {
        linux::MAP_SHARED => true,
        linux::MAP_PRIVATE => false,
        linux::MAP_SHARED_VALIDATE if !anonymous => {
            if flags & !linux::MAP_LEGACY_MASK != 0 {
                return Err(EOPNOTSUPP);
            }
            true
        }
        _ => return Err(EINVAL),
    };
    if !anonymous && flags & linux::MAP_SYNC != 0 {
        return Err(EOPNOTSUPP);
    }
    let mut out = if shared { MapFlags::MAP_SHARED } else { MapFlags::MAP_PRIVATE };
    if flags & linux::MAP_FIXED_NOREPLACE != 0 {
        out |= MapFlags::MAP_FIXED_NOREPLACE;
    } else if flags & linux::MAP_FIXED != 0 {
        out |= MapFlags::MAP_FIXED;
    }
    let populate = flags & (linux::MAP_POPULATE | linux::MAP_NONBLOCK) == linux::MAP_POPULATE;
    if populate || flags & linux::MAP_LOCKED != 0 {
        out |= MapFlags::from_bits_retain(MAP_POPULATE);
    }
    if flags & linux::MAP_GROWSDOWN != 0 {
        out |= MapFlags::from_bits_retain(MAP_GROWSDOWN);
    }
    Ok(out)
}

/// mremap's Linux flags as the kernel's; EINVAL for bits Linux does not
/// know.
fn kernel_remap_flags(flags: c_int) -> Result<usize, c_int> {
    let known = linux::MREMAP_MAYMOVE | linux::MREMAP_FIXED | linux::MREMAP_DONTUNMAP;
    if flags & !known != 0 {
        return Err(EINVAL);
    }
    let mut out = 0;
    if flags & linux::MREMAP_MAYMOVE != 0 {
        out |= MREMAP_MAYMOVE;
    }
    if flags & linux::MREMAP_FIXED != 0 {
        out |= MREMAP_FIXED;
    }
    if flags & linux::MREMAP_DONTUNMAP != 0 {
        out |= MREMAP_DONTUNMAP;
    }
    Ok(out)
}

fn map_failed(errno: c_int) -> *mut c_void {
    sys::set_errno(errno);
    MAP_FAILED
}

/// `offset` is passed on as the unsigned word Linux sees: a negative one
/// is a huge file offset (EOVERFLOW from the kernel) and means nothing to
/// anonymous memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: i64,
) -> *mut c_void {
    let map_flags = match kernel_map_flags(flags) {
        Ok(map_flags) => map_flags | c_prot(prot),
        Err(e) => return map_failed(e),
    };
    let fd = if flags & linux::MAP_ANONYMOUS != 0 { ANONYMOUS_FD } else { fd as usize };
    // SAFETY: what a fixed mapping replaces is the caller's business.
    match unsafe { fmap(fd, addr as usize, len, map_flags, offset as u64 as usize) } {
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
    // Linux: PROT_SEM is accepted (and means nothing here); any other
    // unknown bit is EINVAL, and so is PROT_GROWSUP (no mapping grows up).
    // PROT_GROWSDOWN goes to the kernel as its MAP_GROWSDOWN bit: the change
    // reaches down to the start of the grows-down mapping.
    let known = linux::PROT_READ | linux::PROT_WRITE | linux::PROT_EXEC | linux::PROT_SEM | linux::PROT_GROWSDOWN;
    if prot & !known != 0 {
        return sys::fail(EINVAL);
    }
    let mut flags = c_prot(prot);
    if prot & linux::PROT_GROWSDOWN != 0 {
        flags |= MapFlags::from_bits_retain(MAP_GROWSDOWN);
    }
    // SAFETY: the caller vouches for the new protection.
    ret_zero(unsafe { calls::mprotect(addr as usize, len, flags) })
}

/// `mremap` without the variadic new address (c/fcntl.c reads it, as
/// glibc does, when MREMAP_FIXED is given).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __tessera_mremap(
    old: *mut c_void,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    let flags = match kernel_remap_flags(flags) {
        Ok(flags) => flags,
        Err(e) => return map_failed(e),
    };
    // SAFETY: the caller gives the ranges that change up.
    match unsafe { calls::mremap(old as usize, old_len, new_addr as usize, new_len, flags) } {
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
/// POSIX_MADV_DONTNEED keeps the data (POSIX's meaning, not Linux's
/// MADV_DONTNEED): a hint that does nothing, as in glibc.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int {
    if advice == linux::MADV_DONTNEED {
        return 0;
    }
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
