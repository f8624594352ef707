//! File system calls: open, close, read, write, lseek, fstat, dup, dup2,
//! fcntl (its record locks in `lock.rs`), fsync, ftruncate, pipe2, and the directory calls unlinkat,
//! getdents and frename (mkdir is `open` with `O_CREAT | O_DIRECTORY`).
//! Paths go through [`scheme::resolve`]: a path without a scheme is
//! `file:`'s.

use alloc::sync::Arc;
use alloc::vec::Vec;

use alloc::string::String;

use tessera_abi::error::{EBADF, EINVAL, EIO, ENAMETOOLONG, EXDEV, Error, Result};
use tessera_abi::flag::{AT_REMOVEDIR, F_DUPFD, F_GETFD, F_GETFL, F_SETFD, O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY};
use tessera_abi::lock::{F_GETLK, F_SETLK, F_SETLKW};
use tessera_abi::{FD_CLOEXEC, O_CLOEXEC, Stat};

use super::with_space;
use crate::file::{Description, FileHandle};
use crate::process;
use crate::scheme;
use crate::usercopy::UserSlice;

/// Longest path `open` accepts.
const MAX_PATH_BYTES: usize = 4096;
/// Largest piece moved between a scheme and user memory at once.
const CHUNK_BYTES: usize = 64 * 1024;

fn handle(fd: usize) -> Result<FileHandle> {
    process::current().files.lock().get(fd)
}

pub(super) fn readable(flags: usize) -> bool {
    matches!(flags & O_ACCMODE, O_RDONLY | O_RDWR)
}

pub(super) fn writable(flags: usize) -> bool {
    matches!(flags & O_ACCMODE, O_WRONLY | O_RDWR)
}

/// The path at `[path_ptr, path_ptr + path_len)`: ENAMETOOLONG over
/// [`MAX_PATH_BYTES`] (checked before anything is read), EFAULT, EINVAL if
/// not UTF-8.
fn user_path(path_ptr: usize, path_len: usize) -> Result<String> {
    if path_len > MAX_PATH_BYTES {
        return Err(Error::new(ENAMETOOLONG));
    }
    with_space(|space| UserSlice::new(path_ptr, path_len)?.read_str(space))
}

pub fn open(path_ptr: usize, path_len: usize, flags: usize) -> Result<usize> {
    let path = user_path(path_ptr, path_len)?;
    let (scheme, rest) = scheme::resolve(&path)?;
    // An access mode of 0 means read-only, as in classic Redox.
    let flags = if flags & O_ACCMODE == 0 { flags | O_RDONLY } else { flags };
    let id = scheme.open(rest, flags)?;
    let description = Arc::new(Description { scheme, id, flags: flags & !O_CLOEXEC });
    process::current().files.lock().insert(FileHandle { description, cloexec: flags & O_CLOEXEC != 0 })
}

pub fn close(fd: usize) -> Result<usize> {
    process::current().files.lock().remove(fd).map(|_| 0)
}

/// Fills the user buffer `[buf, buf + len)` with the bytes `fill` returns
/// from the file open for reading on `fd`, given its scheme, handle id and
/// the most bytes wanted (`len`, at most [`CHUNK_BYTES`]; more is EIO).
/// The destination is checked before the scheme hands out (and consumes)
/// data.
fn read_with(
    fd: usize,
    buf: usize,
    len: usize,
    fill: impl FnOnce(&dyn crate::scheme::KernelScheme, usize, usize) -> Result<Vec<u8>>,
) -> Result<usize> {
    let file = handle(fd)?;
    if !readable(file.description.flags) {
        return Err(Error::new(EBADF));
    }
    let user = UserSlice::new(buf, len)?;
    with_space(|space| user.check_writable(space))?;
    let max = len.min(CHUNK_BYTES);
    let kernel = fill(&*file.description.scheme, file.description.id, max)?;
    if kernel.len() > max {
        return Err(Error::new(EIO));
    }
    with_space(|space| user.write(space, &kernel))?;
    Ok(kernel.len())
}

pub fn read(fd: usize, buf: usize, len: usize) -> Result<usize> {
    read_with(fd, buf, len, |scheme, id, max| scheme.read_vec(id, max))
}

pub fn write(fd: usize, buf: usize, len: usize) -> Result<usize> {
    let file = handle(fd)?;
    if !writable(file.description.flags) {
        return Err(Error::new(EBADF));
    }
    let user = UserSlice::new(buf, len)?;
    let mut done = 0;
    while done < len {
        let piece = user.sub(done, CHUNK_BYTES);
        let bytes = with_space(|space| piece.read(space));
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let n = bytes.len();
        match file.description.scheme.write_vec(file.description.id, bytes) {
            Ok(wrote) => {
                done += wrote;
                if wrote < n {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

pub fn lseek(fd: usize, offset: isize, whence: usize) -> Result<usize> {
    let file = handle(fd)?;
    file.description.scheme.seek(file.description.id, offset, whence)
}

pub fn fstat(fd: usize, stat_ptr: usize, stat_len: usize) -> Result<usize> {
    if stat_len != core::mem::size_of::<Stat>() {
        return Err(Error::new(EINVAL));
    }
    let file = handle(fd)?;
    let user = UserSlice::new(stat_ptr, stat_len)?;
    let mut stat = Stat::default();
    file.description.scheme.fstat(file.description.id, &mut stat)?;
    with_space(|space| user.write(space, &stat))?;
    Ok(0)
}

/// `dup(fd, buf, len)`: with an empty buffer, a new descriptor sharing the
/// description (POSIX `dup`); with a name, Redox's named dup: the scheme
/// makes a new handle from the old one and the name (a new description).
pub fn dup(fd: usize, buf: usize, len: usize) -> Result<usize> {
    let file = handle(fd)?;
    if len == 0 {
        return process::current().files.lock().insert(FileHandle { cloexec: false, ..file });
    }
    if len > MAX_PATH_BYTES {
        return Err(Error::new(ENAMETOOLONG));
    }
    let name = with_space(|space| UserSlice::new(buf, len)?.read(space))?;
    let scheme = file.description.scheme.clone();
    let id = scheme.dup(file.description.id, &name)?;
    let description = Arc::new(Description { scheme, id, flags: file.description.flags });
    process::current().files.lock().insert(FileHandle { description, cloexec: false })
}

pub fn dup2(fd: usize, new_fd: usize) -> Result<usize> {
    let process = process::current();
    let mut files = process.files.lock();
    let file = files.get(fd)?;
    if fd != new_fd {
        files.insert_at(new_fd, FileHandle { cloexec: false, ..file })?;
    }
    Ok(new_fd)
}

pub fn fcntl(fd: usize, cmd: usize, arg: usize) -> Result<usize> {
    let process = process::current();
    let mut files = process.files.lock();
    let file = files.get(fd)?;
    if matches!(cmd, F_GETLK | F_SETLK | F_SETLKW) {
        // The scheme is asked without the table's lock.
        drop(files);
        return super::lock::fcntl_lock(file, cmd, arg);
    }
    match cmd {
        F_DUPFD => files.insert_from(arg, FileHandle { cloexec: false, ..file }),
        F_GETFD => Ok(if file.cloexec { FD_CLOEXEC } else { 0 }),
        F_SETFD => files.set_cloexec(fd, arg & FD_CLOEXEC != 0).map(|()| 0),
        F_GETFL => Ok(file.description.flags),
        // F_SETFL would change O_NONBLOCK/O_APPEND, which no scheme honours yet.
        _ => Err(Error::new(EINVAL)),
    }
}

pub fn fsync(fd: usize) -> Result<usize> {
    let file = handle(fd)?;
    file.description.scheme.fsync(file.description.id).map(|()| 0)
}

pub fn ftruncate(fd: usize, len: usize) -> Result<usize> {
    let file = handle(fd)?;
    if !writable(file.description.flags) {
        return Err(Error::new(EINVAL));
    }
    file.description.scheme.ftruncate(file.description.id, len).map(|()| 0)
}

/// `unlinkat(path_ptr, path_len, flags)`: removes a file or, with
/// `AT_REMOVEDIR`, an empty directory. EINVAL for other flags; the path's
/// errors as for `open`; then the scheme's (ENOENT, ENOTDIR, EISDIR,
/// ENOTEMPTY; EOPNOTSUPP for kernel schemes).
pub fn unlinkat(path_ptr: usize, path_len: usize, flags: usize) -> Result<usize> {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Error::new(EINVAL));
    }
    let path = user_path(path_ptr, path_len)?;
    let (scheme, rest) = scheme::resolve(&path)?;
    scheme.unlink(rest, flags).map(|()| 0)
}

/// `getdents(fd, buf, len, opaque)`: whole `tessera_abi::dirent` records
/// of the directory open on `fd`, starting at the entry `opaque` names;
/// bytes written, 0 at the end. EBADF if `fd` is not open for reading,
/// EFAULT for a buffer not writable, EIO for records a user scheme got
/// wrong; else the scheme's (ENOTDIR, EINVAL: no room for one record).
pub fn getdents(fd: usize, buf: usize, len: usize, opaque: usize) -> Result<usize> {
    read_with(fd, buf, len, |scheme, id, max| {
        scheme::read_copied(|kernel| scheme.getdents(id, kernel, opaque as u64), max)
    })
}

/// `frename(fd, path_ptr, path_len)`: the file open on `fd` takes the
/// path. EXDEV if the path is another scheme's; the path's errors as for
/// `open`; then the scheme's.
pub fn frename(fd: usize, path_ptr: usize, path_len: usize) -> Result<usize> {
    let file = handle(fd)?;
    let path = user_path(path_ptr, path_len)?;
    let (scheme, rest) = scheme::resolve(&path)?;
    if !scheme::same(&scheme, &file.description.scheme) {
        return Err(Error::new(EXDEV));
    }
    scheme.frename(file.description.id, rest).map(|()| 0)
}

/// `pipe2(fds_ptr, flags)`: writes `[read_fd, write_fd]`; flags may hold
/// `O_CLOEXEC` only.
pub fn pipe2(fds_ptr: usize, flags: usize) -> Result<usize> {
    if flags & !O_CLOEXEC != 0 {
        return Err(Error::new(EINVAL));
    }
    let out = UserSlice::new(fds_ptr, 16)?;
    with_space(|space| out.check_writable(space))?;
    let (read_id, write_id) = scheme::new_pipe();
    let cloexec = flags & O_CLOEXEC != 0;
    let read_end = Arc::new(Description { scheme: scheme::pipes(), id: read_id, flags: O_RDONLY });
    let write_end = Arc::new(Description { scheme: scheme::pipes(), id: write_id, flags: O_WRONLY });
    let process = process::current();
    let mut files = process.files.lock();
    let read_fd = files.insert(FileHandle { description: read_end, cloexec })?;
    let write_fd = match files.insert(FileHandle { description: write_end, cloexec }) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.remove(read_fd);
            return Err(e);
        }
    };
    drop(files);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&read_fd.to_le_bytes());
    bytes[8..].copy_from_slice(&write_fd.to_le_bytes());
    let written = with_space(|space| out.write(space, &bytes));
    if written.is_err() {
        let mut files = process.files.lock();
        let _ = files.remove(read_fd);
        let _ = files.remove(write_fd);
    }
    written.map(|()| 0)
}
