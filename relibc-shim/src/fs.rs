//! Files by name and directories: `stat`, `mkdir`, `rename`, and the
//! `<dirent.h>` reader over the kernel's `getdents`.

use alloc::boxed::Box;
use core::ffi::{c_char, c_int, c_ushort};
use core::ptr::null_mut;

use tessera_abi::O_CLOEXEC;
use tessera_abi::Stat;
use tessera_abi::dirent;
use tessera_abi::error::{EBADF, EIO, ENOSYS};
use tessera_abi::flag::{O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_STAT};
use tessera_sys::sys as calls;

use crate::sys::{self, SysResult, ret_zero};
use crate::time::timespec;
use crate::unistd::{close, fstat_raw, open_path};

/// `struct stat` as `<sys/stat.h>` lays it out.
#[repr(C)]
pub struct CStat {
    st_dev: u64,
    st_ino: u64,
    st_mode: u32,
    st_nlink: u32,
    st_uid: u32,
    st_gid: u32,
    st_rdev: u64,
    st_size: i64,
    st_blksize: i64,
    st_blocks: i64,
    st_atim: timespec,
    st_mtim: timespec,
    st_ctim: timespec,
}

fn to_c(st: &Stat) -> CStat {
    let ts = |sec: u64, nsec: u32| timespec { tv_sec: sec as i64, tv_nsec: nsec as i64 };
    CStat {
        st_dev: st.st_dev,
        st_ino: st.st_ino,
        st_mode: st.st_mode as u32,
        st_nlink: st.st_nlink,
        st_uid: st.st_uid,
        st_gid: st.st_gid,
        st_rdev: 0,
        st_size: st.st_size as i64,
        st_blksize: st.st_blksize as i64,
        st_blocks: st.st_blocks as i64,
        st_atim: ts(st.st_atime, st.st_atime_nsec),
        st_mtim: ts(st.st_mtime, st.st_mtime_nsec),
        st_ctim: ts(st.st_ctime, st.st_ctime_nsec),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fstat(fd: c_int, out: *mut CStat) -> c_int {
    match fstat_raw(fd) {
        Ok(st) => {
            // SAFETY: the caller passes a writable `struct stat`.
            unsafe { out.write(to_c(&st)) };
            0
        }
        Err(e) => sys::fail(e),
    }
}

/// `stat` opens the file (read-only, directories too) and asks `fstat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stat(path: *const c_char, out: *mut CStat) -> c_int {
    // O_STAT: closing this descriptor must not drop the caller's record
    // locks on the file (POSIX: stat is no close; the kernel skips it).
    // SAFETY: the caller's contract.
    let fd = match unsafe { open_path(path, O_RDONLY | O_STAT | O_CLOEXEC) } {
        Ok(fd) => fd as c_int,
        Err(e) => return sys::fail(e),
    };
    // SAFETY: the caller's contract.
    let r = unsafe { fstat(fd, out) };
    close(fd);
    r
}

/// No scheme has symbolic links: `lstat` is `stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lstat(path: *const c_char, out: *mut CStat) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { stat(path, out) }
}

/// Redox's mkdir: `open(O_CREAT | O_DIRECTORY | O_EXCL)`. The mode is not
/// kept (the kernel has no permissions).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mkdir(path: *const c_char, _mode: u32) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { open_path(path, O_CREAT | O_DIRECTORY | O_EXCL | O_RDONLY | O_CLOEXEC) } {
        Ok(fd) => close(fd as c_int),
        Err(e) => sys::fail(e),
    }
}

/// `rename`: opens the old path and renames the open file (`frename`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rename(old: *const c_char, new: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let new = match unsafe { sys::path(new) } {
        Ok(new) => new,
        Err(e) => return sys::fail(e),
    };
    // SAFETY: the caller's contract.
    let fd = match unsafe { open_path(old, O_RDONLY | O_CLOEXEC) } {
        Ok(fd) => fd,
        Err(e) => return sys::fail(e),
    };
    let r = calls::frename(fd, new);
    close(fd as c_int);
    ret_zero(r)
}

/// No permissions exist: ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn chmod(_path: *const c_char, _mode: u32) -> c_int {
    sys::fail(ENOSYS)
}

/// No permissions exist: ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn fchmod(_fd: c_int, _mode: u32) -> c_int {
    sys::fail(ENOSYS)
}

/// The mask is kept for the program's own reading; the kernel has no
/// permissions to apply it to.
#[unsafe(no_mangle)]
pub extern "C" fn umask(mask: u32) -> u32 {
    static MASK: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0o022);
    MASK.swap(mask & 0o777, core::sync::atomic::Ordering::Relaxed)
}

/// No scheme makes named pipes: ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn mkfifo(_path: *const c_char, _mode: u32) -> c_int {
    sys::fail(ENOSYS)
}

// ---- <dirent.h> ----------------------------------------------------------------

/// `struct dirent` as `<dirent.h>` lays it out.
#[repr(C)]
pub struct Dirent {
    d_ino: u64,
    d_off: i64,
    d_reclen: c_ushort,
    d_type: u8,
    d_name: [c_char; 256],
}

const LISTING_BYTES: usize = 4096;

/// `DIR`: one chunk of `getdents` records and where the reader is in it.
pub struct Dir {
    fd: c_int,
    buf: [u8; LISTING_BYTES],
    /// Bytes of records in `buf`.
    len: usize,
    /// Records of `buf` already returned.
    taken: usize,
    /// Where the next `getdents` continues.
    opaque: u64,
    entry: Dirent,
}

#[unsafe(no_mangle)]
pub extern "C" fn fdopendir(fd: c_int) -> *mut Dir {
    let entry = Dirent { d_ino: 0, d_off: 0, d_reclen: 0, d_type: 0, d_name: [0; 256] };
    Box::into_raw(Box::new(Dir { fd, buf: [0; LISTING_BYTES], len: 0, taken: 0, opaque: 0, entry }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut Dir {
    // SAFETY: the caller's contract.
    match unsafe { open_path(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } {
        Ok(fd) => fdopendir(fd as c_int),
        Err(e) => {
            sys::set_errno(e);
            null_mut()
        }
    }
}

/// The next record, refilling the chunk when it is used up; `None` at
/// the end.
fn next_entry(dir: &mut Dir) -> SysResult<Option<()>> {
    loop {
        if let Some(entry) = dirent::entries(&dir.buf[..dir.len]).nth(dir.taken) {
            let entry = entry.map_err(|_| EIO)?;
            let name_len = entry.name.len().min(255);
            for (dst, &src) in dir.entry.d_name.iter_mut().zip(&entry.name[..name_len]) {
                *dst = src as c_char;
            }
            dir.entry.d_name[name_len] = 0;
            dir.entry.d_ino = entry.inode;
            dir.entry.d_off = entry.next_opaque_id as i64;
            dir.entry.d_reclen = size_of::<Dirent>() as c_ushort;
            dir.entry.d_type = entry.kind as u8;
            dir.taken += 1;
            dir.opaque = entry.next_opaque_id;
            return Ok(Some(()));
        }
        let n = calls::getdents(dir.fd as usize, &mut dir.buf, dir.opaque).map_err(sys::errno)?;
        if n == 0 {
            return Ok(None);
        }
        let before = dir.opaque;
        dir.len = n;
        dir.taken = 0;
        if dirent::check(&dir.buf[..n]).map_err(|_| EIO)? == 0 || before == u64::MAX {
            return Err(EIO);
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir(dir: *mut Dir) -> *mut Dirent {
    // SAFETY: the caller passes a DIR from opendir.
    let Some(dir) = (unsafe { dir.as_mut() }) else {
        sys::set_errno(EBADF);
        return null_mut();
    };
    match next_entry(dir) {
        Ok(Some(())) => &raw mut dir.entry,
        Ok(None) => null_mut(),
        Err(e) => {
            sys::set_errno(e);
            null_mut()
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rewinddir(dir: *mut Dir) {
    // SAFETY: the caller passes a DIR from opendir.
    if let Some(dir) = unsafe { dir.as_mut() } {
        dir.len = 0;
        dir.taken = 0;
        dir.opaque = 0;
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dirfd(dir: *mut Dir) -> c_int {
    // SAFETY: the caller passes a DIR from opendir.
    unsafe { dir.as_ref() }.map_or_else(|| sys::fail(EBADF), |d| d.fd)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn closedir(dir: *mut Dir) -> c_int {
    if dir.is_null() {
        return sys::fail(EBADF);
    }
    // SAFETY: the caller passes a DIR from opendir, never used again.
    let dir = unsafe { Box::from_raw(dir) };
    close(dir.fd)
}

/// The kind of the file at `path` (`Stat::st_mode & MODE_TYPE`), or why
/// it cannot be opened.
fn file_type(path: &str) -> SysResult<u16> {
    use tessera_abi::flag::MODE_TYPE;
    let fd = calls::open(path, O_RDONLY | O_CLOEXEC).map_err(sys::errno)?;
    let st = fstat_raw(fd as c_int);
    close(fd as c_int);
    Ok(st?.st_mode & MODE_TYPE)
}

/// `realpath`'s work: `path` made absolute (relative paths start at "/",
/// the only working directory) with `.`, `..` and repeated `/` removed,
/// every component checked to exist (ENOENT) and every one followed by
/// more to be a directory (ENOTDIR), as Linux checks them. A `scheme:`
/// or `/scheme/NAME` prefix stays the root. No scheme has symbolic links (`readlink` is
/// EINVAL), so none is followed.
fn resolve(path: &str) -> SysResult<alloc::string::String> {
    use alloc::string::String;
    use alloc::vec::Vec;
    use tessera_abi::error::ENOTDIR;
    use tessera_abi::flag::MODE_DIR;

    let (root, rest) = match path.find(':') {
        Some(i) if !path[..i].contains('/') => path.split_at(i + 1),
        _ => ("/", path),
    };
    // `/scheme/NAME/...` is the scheme NAME (the kernel's path rule), so
    // `/scheme/NAME` is a root as `NAME:` is, also after leading `.` and
    // `..` components (`/..` is `/`).
    let (root, rest) = match root {
        "/" => {
            let mut r = rest.trim_start_matches('/');
            loop {
                let (first, tail) = r.split_once('/').unwrap_or((r, ""));
                if first != "." && first != ".." {
                    break;
                }
                r = tail.trim_start_matches('/');
            }
            match r.strip_prefix("scheme/") {
                Some(after) if !after.starts_with('/') && !after.is_empty() => {
                    let end = after.find('/').unwrap_or(after.len());
                    // (Concatenation, not `format!`: its formatting
                    // machinery pulls an unwinder into libc.a.)
                    let mut root = String::from("/scheme/");
                    root.push_str(&after[..end]);
                    (root, &after[end..])
                }
                _ => (String::from("/"), rest),
            }
        }
        _ => (String::from(root), rest),
    };
    let join = |parts: &[&str]| {
        let mut s = root.clone();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 || !s.ends_with(['/', ':']) {
                s.push('/');
            }
            s.push_str(part);
        }
        s
    };
    let comps: Vec<&str> = rest.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let trailing_slash = rest.ends_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for (i, &comp) in comps.iter().enumerate() {
        if comp == ".." {
            parts.pop();
            continue;
        }
        parts.push(comp);
        let kind = file_type(&join(&parts))?;
        if (i + 1 < comps.len() || trailing_slash) && kind != MODE_DIR {
            return Err(ENOTDIR);
        }
    }
    Ok(join(&parts))
}

/// `realpath`: into `resolved` (PATH_MAX bytes) or, when it is NULL, a
/// `malloc`ed string. See [`resolve`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realpath(path: *const c_char, resolved: *mut c_char) -> *mut c_char {
    use tessera_abi::error::{EINVAL, ENAMETOOLONG, ENOMEM};
    const PATH_MAX: usize = 4096;
    if path.is_null() {
        sys::set_errno(EINVAL);
        return null_mut();
    }
    // SAFETY: the caller's contract.
    let full = match unsafe { sys::path(path) }.and_then(resolve) {
        Ok(full) => full,
        Err(e) => {
            sys::set_errno(e);
            return null_mut();
        }
    };
    let out = if resolved.is_null() {
        // SAFETY: a plain allocation.
        let p = unsafe { crate::malloc::malloc(full.len() + 1) } as *mut c_char;
        if p.is_null() {
            sys::set_errno(ENOMEM);
            return p;
        }
        p
    } else if full.len() >= PATH_MAX {
        sys::set_errno(ENAMETOOLONG);
        return null_mut();
    } else {
        resolved
    };
    // SAFETY: `out` has room for the string and its NUL (allocated so, or
    // PATH_MAX bytes by the caller's contract and checked above).
    unsafe {
        core::ptr::copy_nonoverlapping(full.as_ptr() as *const c_char, out, full.len());
        *out.add(full.len()) = 0;
    }
    out
}

/// Ownership cannot change: the kernel has no `fchown` (every file belongs
/// to uid 0, the only user). A bad fd is still EBADF; otherwise ENOSYS.
#[unsafe(no_mangle)]
pub extern "C" fn fchown(fd: c_int, _uid: u32, _gid: u32) -> c_int {
    match fstat_raw(fd) {
        Ok(_) => sys::fail(ENOSYS),
        Err(e) => sys::fail(e),
    }
}

/// As [`fchown`], by name: ENOENT for a missing file, else ENOSYS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chown(path: *const c_char, _uid: u32, _gid: u32) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { sys::path(path) }.and_then(file_type) {
        Ok(_) => sys::fail(ENOSYS),
        Err(e) => sys::fail(e),
    }
}

/// No links exist: `lchown` is [`chown`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lchown(path: *const c_char, uid: u32, gid: u32) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { chown(path, uid, gid) }
}

/// File times cannot be set: no scheme call carries them (ramfs keeps the
/// times it sets itself). ENOENT for a missing file, else ENOSYS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn utimes(path: *const c_char, _times: *const crate::time::Timeval) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { chown(path, 0, 0) }
}

/// `utime`: as [`utimes`] (ENOENT for a missing file, else ENOSYS).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn utime(path: *const c_char, _times: *const [i64; 2]) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { chown(path, 0, 0) }
}
