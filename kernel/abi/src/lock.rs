//! Advisory record locks (`fcntl` F_GETLK / F_SETLK / F_SETLKW): the user
//! structure, and how the kernel asks a filesystem scheme about them.
//!
//! ```text
//!  fcntl(fd, F_SETLK, &flock) ── kernel: absolute range (SEEK_CUR: the
//!      offset; SEEK_END: fstat's size), access checked ── scheme:
//!      Call { args: [id, start, end, CALL_LOCK, kind, owner pid] }
//!      ── 0, or EAGAIN on a conflict (F_SETLKW: the kernel waits and asks
//!      again) ── F_GETLK: the conflicting lock as a 32-byte payload
//!  close of any fd of the file, exit ── Call CALL_UNLOCK_ALL (one-way):
//!      the process's locks on that file go (POSIX)
//! ```
//!
//! Locks belong to a process (its pid) and a file, not to a descriptor;
//! a fork's child has none of its parent's. Ranges are byte ranges
//! `[start, end)`; `end` = [`TO_EOF`] covers the file however it grows.

/// `fcntl` commands (Linux's numbers, as Redox's).
pub const F_GETLK: usize = 5;
/// Set or clear a lock; EAGAIN if another process holds a conflicting one.
pub const F_SETLK: usize = 6;
/// As [`F_SETLK`], waiting (killably) for the conflict to go.
pub const F_SETLKW: usize = 7;

/// `l_type` values (Linux's).
pub const F_RDLCK: i16 = 0;
/// A write (exclusive) lock.
pub const F_WRLCK: i16 = 1;
/// No lock (F_GETLK: nothing conflicts; F_SETLK: unlock).
pub const F_UNLCK: i16 = 2;

/// `struct flock` as C sees it on both arches (Linux's layout, 32 bytes;
/// the padding is explicit so that the whole struct can be copied out).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flock {
    /// [`F_RDLCK`], [`F_WRLCK`] or [`F_UNLCK`].
    pub l_type: i16,
    /// `SEEK_SET`, `SEEK_CUR` or `SEEK_END`: what `l_start` counts from.
    pub l_whence: i16,
    pub _pad0: u32,
    /// Start, relative to `l_whence`.
    pub l_start: i64,
    /// Length; 0: to the end of the file and beyond; negative: the bytes
    /// before `l_start`.
    pub l_len: i64,
    /// F_GETLK: the process holding the conflicting lock.
    pub l_pid: i32,
    pub _pad1: u32,
}

/// Bytes of a [`Flock`].
pub const FLOCK_BYTES: usize = core::mem::size_of::<Flock>();
const _: () = assert!(FLOCK_BYTES == 32);

/// `end` of a range that reaches past any end of file.
pub const TO_EOF: u64 = u64::MAX;

/// `args[3]` of a Call that sets, clears or tests a lock (see the module
/// docs): `args` = id, start, end, [`CALL_LOCK`], kind (an `l_type`, plus
/// [`LOCK_TEST`] for F_GETLK), owner.
pub const CALL_LOCK: u64 = 2;
/// `args[3]` of a one-way Call that drops every lock of `args[5]` (a pid)
/// on the file of `args[0]`: a descriptor of it was closed.
pub const CALL_UNLOCK_ALL: u64 = 3;
/// Added to the kind of a [`CALL_LOCK`]: only test (F_GETLK); the answer's
/// payload is the conflicting lock ([`encode_conflict`]) or empty.
pub const LOCK_TEST: u64 = 0x100;

/// A lock as a scheme keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLock {
    /// [`F_RDLCK`], [`F_WRLCK`] or [`F_UNLCK`].
    pub kind: i16,
    /// First byte.
    pub start: u64,
    /// One past the last byte, [`TO_EOF`] for no end.
    pub end: u64,
    /// The process holding it.
    pub owner: u64,
}

impl FileLock {
    /// Whether `self` and `other` cover a common byte.
    pub fn overlaps(&self, other: &FileLock) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` (another process's) keeps `self` from being taken:
    /// they overlap and either is a write lock.
    pub fn conflicts_with(&self, other: &FileLock) -> bool {
        self.owner != other.owner && self.overlaps(other) && (self.kind == F_WRLCK || other.kind == F_WRLCK)
    }
}

/// The payload of an F_GETLK answer naming `lock`.
pub fn encode_conflict(lock: &FileLock) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    let words = [lock.kind as u64, lock.start, lock.end, lock.owner];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The lock an F_GETLK answer names; `None` if the payload is not one.
pub fn decode_conflict(payload: &[u8]) -> Option<FileLock> {
    if payload.len() != 32 {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(payload[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let kind = i16::try_from(word(0)).ok().filter(|k| matches!(*k, F_RDLCK | F_WRLCK))?;
    let (start, end) = (word(1), word(2));
    (start < end).then_some(FileLock { kind, start, end, owner: word(3) })
}

/// The absolute range `[start, end)` of a `flock` whose `l_whence` base is
/// `base` (0, the file offset, or the file size), or EINVAL: a start
/// before 0, a range that does not fit. `l_len` 0 runs to [`TO_EOF`].
pub fn absolute_range(flock: &Flock, base: u64) -> Option<(u64, u64)> {
    let start = i64::try_from(base).ok()?.checked_add(flock.l_start)?;
    let (start, end) = match flock.l_len {
        0 => (start, None),
        len if len > 0 => (start, Some(start.checked_add(len)?)),
        len => (start.checked_add(len)?, Some(start)),
    };
    let start = u64::try_from(start).ok()?;
    let end = match end {
        Some(end) => u64::try_from(end).ok()?,
        None => TO_EOF,
    };
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_posix() {
        let at = |l_start, l_len| Flock { l_start, l_len, ..Flock::default() };
        assert_eq!(absolute_range(&at(10, 5), 0), Some((10, 15)));
        assert_eq!(absolute_range(&at(10, 0), 0), Some((10, TO_EOF)));
        assert_eq!(absolute_range(&at(10, -4), 0), Some((6, 10)));
        assert_eq!(absolute_range(&at(-4, 2), 100), Some((96, 98)), "relative to a base");
        assert_eq!(absolute_range(&at(-1, 1), 0), None, "before the start of the file");
        assert_eq!(absolute_range(&at(2, -4), 0), None);
        assert_eq!(absolute_range(&at(i64::MAX, 1), 0), None, "overflow");
    }

    #[test]
    fn conflicts_need_two_owners_an_overlap_and_a_writer() {
        let lock = |kind, start, end, owner| FileLock { kind, start, end, owner };
        let mine = lock(F_WRLCK, 0, 10, 1);
        assert!(mine.conflicts_with(&lock(F_RDLCK, 5, 6, 2)));
        assert!(!mine.conflicts_with(&lock(F_WRLCK, 5, 6, 1)), "own locks never conflict");
        assert!(!mine.conflicts_with(&lock(F_WRLCK, 10, 20, 2)), "touching is not overlapping");
        assert!(!lock(F_RDLCK, 0, 10, 1).conflicts_with(&lock(F_RDLCK, 0, 10, 2)), "readers share");
        assert!(lock(F_RDLCK, 0, TO_EOF, 1).conflicts_with(&lock(F_WRLCK, 1 << 40, TO_EOF, 2)));
    }

    #[test]
    fn conflicts_round_trip() {
        let lock = FileLock { kind: F_WRLCK, start: 3, end: TO_EOF, owner: 42 };
        assert_eq!(decode_conflict(&encode_conflict(&lock)), Some(lock));
        assert_eq!(decode_conflict(&[0; 31]), None);
        let unlock = FileLock { kind: F_UNLCK, ..lock };
        assert_eq!(decode_conflict(&encode_conflict(&unlock)), None, "a conflict is a read or write lock");
    }
}
