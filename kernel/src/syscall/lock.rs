//! `fcntl(fd, F_GETLK | F_SETLK | F_SETLKW, &flock)`: advisory record locks,
//! kept by the file's scheme (`tessera_abi::lock` has the protocol). The
//! kernel turns the `flock` into an absolute byte range, checks the access
//! mode, names the owner (the calling process) and asks the scheme; F_SETLKW
//! asks again until the conflict is gone or the caller is killed.
//!
//! Decisions: F_SETLKW waits by asking again, every 1 ms at first and at
//! most every 16 ms (the scheme keeps no queue of waiters); there is no
//! deadlock detection (Linux's EDEADLK): two processes waiting for each
//! other wait until one is killed. A scheme that does not keep locks
//! (every kernel scheme, a daemon answering EOPNOTSUPP) gives EINVAL.

use tessera_abi::Stat;
use tessera_abi::error::{EAGAIN, EBADF, EINTR, EINVAL, Error, Result};
use tessera_abi::flag::{O_STAT, SEEK_CUR, SEEK_END, SEEK_SET};
use tessera_abi::lock::{
    F_GETLK, F_RDLCK, F_SETLKW, F_UNLCK, F_WRLCK, FLOCK_BYTES, FileLock, Flock, TO_EOF, absolute_range,
};

use super::with_space;
use crate::arch;
use crate::file::FileHandle;
use crate::process;
use crate::sched;
use crate::usercopy::UserSlice;

/// The longest pause between two tries of an F_SETLKW.
const MAX_WAIT_NS: u64 = 16_000_000;

/// The record-lock commands of `fcntl` on descriptor `file`, `arg` pointing
/// at the caller's `struct flock`.
pub fn fcntl_lock(file: FileHandle, cmd: usize, arg: usize) -> Result<usize> {
    let slice = UserSlice::new(arg, FLOCK_BYTES)?;
    let mut flock: Flock = with_space(|space| slice.read_value(space))?;
    let description = &file.description;
    // An `O_STAT` descriptor takes no locks (its close drops none: file.rs).
    let access_ok = match flock.l_type {
        _ if description.flags & O_STAT != 0 => false,
        F_RDLCK => super::fs::readable(description.flags),
        F_WRLCK => super::fs::writable(description.flags),
        F_UNLCK => true,
        _ => return Err(Error::new(EINVAL)),
    };
    let base = match flock.l_whence as usize {
        SEEK_SET => 0,
        SEEK_CUR => description.scheme.seek(description.id, 0, SEEK_CUR)? as u64,
        SEEK_END => {
            let mut stat = Stat::default();
            description.scheme.fstat(description.id, &mut stat)?;
            stat.st_size
        }
        _ => return Err(Error::new(EINVAL)),
    };
    let (start, end) = absolute_range(&flock, base).ok_or(Error::new(EINVAL))?;
    let owner = process::current().pid;
    let lock = FileLock { kind: flock.l_type, start, end, owner: owner as u64 };
    if cmd == F_GETLK {
        if flock.l_type == F_UNLCK {
            return Err(Error::new(EINVAL));
        }
        match description.scheme.lock(description.id, lock, true)? {
            None => flock.l_type = F_UNLCK,
            Some(held) => {
                flock.l_type = held.kind;
                flock.l_whence = SEEK_SET as i16;
                flock.l_start = i64::try_from(held.start).unwrap_or(i64::MAX);
                flock.l_len = if held.end == TO_EOF { 0 } else { i64::try_from(held.end - held.start).unwrap_or(0) };
                flock.l_pid = i32::try_from(held.owner).unwrap_or(-1);
            }
        }
        let bytes = [
            &flock.l_type.to_ne_bytes()[..],
            &flock.l_whence.to_ne_bytes(),
            &flock._pad0.to_ne_bytes(),
            &flock.l_start.to_ne_bytes(),
            &flock.l_len.to_ne_bytes(),
            &flock.l_pid.to_ne_bytes(),
            &flock._pad1.to_ne_bytes(),
        ]
        .concat();
        with_space(|space| slice.write(space, &bytes))?;
        return Ok(0);
    }
    if !access_ok {
        return Err(Error::new(EBADF));
    }
    if lock.kind != F_UNLCK {
        // Before asking: if the caller dies while the scheme answers, its
        // exit must still drop what the scheme may have granted.
        process::current().files.lock().note_locking(&description.scheme);
    }
    let mut wait_ns = 1_000_000;
    loop {
        match description.scheme.lock(description.id, lock, false) {
            Err(e) if e.errno == EAGAIN && cmd == F_SETLKW => {
                sched::sleep_until(arch::time::monotonic_ns().saturating_add(wait_ns));
                if process::kill_pending() {
                    return Err(Error::new(EINTR));
                }
                wait_ns = (wait_ns * 2).min(MAX_WAIT_NS);
            }
            other => return other.map(|_| 0),
        }
    }
}
