//! A file's advisory record locks, as a filesystem daemon keeps them
//! (`fcntl` F_GETLK / F_SETLK; the protocol is `tessera_abi::lock`).
//!
//! Each lock is a byte range of one owner (a pid), shared (read) or
//! exclusive (write). Setting a lock replaces the owner's own locks over the
//! range (a read lock over part of a write lock splits it, as POSIX says)
//! and merges it with the owner's touching locks of the same kind, so a
//! process holds at most one lock per byte. Unlocking cuts the owner's
//! locks. Another owner's overlapping lock conflicts if either is a write
//! lock.

use alloc::vec::Vec;

use tessera_abi::error::{EAGAIN, ENOLCK};
use tessera_abi::lock::{F_UNLCK, FileLock};
use tessera_abi::{Error, Result};

/// Most locks one file keeps (ENOLCK past it), so that a process cutting a
/// range into pieces cannot grow a daemon without bound.
pub const MAX_LOCKS: usize = 4096;

/// One file's locks: sorted by (owner, start); an owner's locks never
/// overlap or touch when of the same kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockTable {
    locks: Vec<FileLock>,
}

impl LockTable {
    /// Whether no lock is held.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// The locks, sorted by owner then start (for tests and listings).
    pub fn locks(&self) -> &[FileLock] {
        &self.locks
    }

    /// The first lock of another owner that keeps `want` from being taken
    /// (F_GETLK), if any.
    pub fn conflict(&self, want: &FileLock) -> Option<FileLock> {
        self.locks.iter().find(|held| want.conflicts_with(held)).copied()
    }

    /// Sets (or with `F_UNLCK` clears) `want`. EAGAIN if another owner's
    /// lock conflicts, ENOLCK if the table would pass [`MAX_LOCKS`];
    /// nothing changes then.
    pub fn set(&mut self, want: FileLock) -> Result<()> {
        if want.kind != F_UNLCK && self.conflict(&want).is_some() {
            return Err(Error::new(EAGAIN));
        }
        let mut locks: Vec<FileLock> = Vec::with_capacity(self.locks.len() + 2);
        for held in &self.locks {
            if held.owner != want.owner || !held.overlaps(&want) {
                locks.push(*held);
                continue;
            }
            // The owner's lock keeps what lies outside the new range.
            if held.start < want.start {
                locks.push(FileLock { end: want.start, ..*held });
            }
            if want.end < held.end {
                locks.push(FileLock { start: want.end, ..*held });
            }
        }
        if want.kind != F_UNLCK {
            locks.push(want);
        }
        locks.sort_by_key(|lock| (lock.owner, lock.start));
        let mut merged: Vec<FileLock> = Vec::with_capacity(locks.len());
        for lock in locks {
            match merged.last_mut() {
                Some(last) if last.owner == lock.owner && last.kind == lock.kind && last.end >= lock.start => {
                    last.end = last.end.max(lock.end);
                }
                _ => merged.push(lock),
            }
        }
        if merged.len() > MAX_LOCKS {
            return Err(Error::new(ENOLCK));
        }
        self.locks = merged;
        Ok(())
    }

    /// Drops every lock of `owner` (it closed a descriptor of the file, or
    /// exited).
    pub fn unlock_all(&mut self, owner: u64) {
        self.locks.retain(|lock| lock.owner != owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_abi::lock::{F_RDLCK, F_WRLCK, TO_EOF};

    fn lock(kind: i16, start: u64, end: u64, owner: u64) -> FileLock {
        FileLock { kind, start, end, owner }
    }

    #[test]
    fn readers_share_writers_exclude() {
        let mut table = LockTable::default();
        assert_eq!(table.set(lock(F_RDLCK, 0, 100, 1)), Ok(()));
        assert_eq!(table.set(lock(F_RDLCK, 50, 150, 2)), Ok(()));
        assert_eq!(table.set(lock(F_WRLCK, 90, 95, 3)), Err(Error::new(EAGAIN)));
        assert_eq!(table.conflict(&lock(F_WRLCK, 90, 95, 3)), Some(lock(F_RDLCK, 0, 100, 1)));
        assert_eq!(table.set(lock(F_WRLCK, 150, TO_EOF, 3)), Ok(()), "past both readers");
        assert_eq!(table.conflict(&lock(F_RDLCK, 1 << 40, (1 << 40) + 1, 1)).map(|l| l.owner), Some(3));
        // Own locks never conflict: 1 turns its read lock into a write lock
        // where nobody else reads.
        assert_eq!(table.set(lock(F_WRLCK, 0, 50, 1)), Ok(()));
        assert_eq!(table.set(lock(F_WRLCK, 0, 60, 1)), Err(Error::new(EAGAIN)), "2 reads 50..");
        let before = table.clone();
        assert_eq!(table.set(lock(F_WRLCK, 0, 60, 1)), Err(Error::new(EAGAIN)));
        assert_eq!(table, before, "a refused set changes nothing");
    }

    #[test]
    fn setting_splits_and_merges_the_owner_s_own_locks() {
        let mut table = LockTable::default();
        table.set(lock(F_WRLCK, 0, 100, 1)).unwrap();
        table.set(lock(F_RDLCK, 40, 60, 1)).unwrap();
        assert_eq!(table.locks(), [lock(F_WRLCK, 0, 40, 1), lock(F_RDLCK, 40, 60, 1), lock(F_WRLCK, 60, 100, 1)]);
        table.set(lock(F_WRLCK, 40, 60, 1)).unwrap();
        assert_eq!(table.locks(), [lock(F_WRLCK, 0, 100, 1)], "merged back into one");
        table.set(lock(F_UNLCK, 10, 20, 1)).unwrap();
        assert_eq!(table.locks(), [lock(F_WRLCK, 0, 10, 1), lock(F_WRLCK, 20, 100, 1)]);
        table.set(lock(F_UNLCK, 0, TO_EOF, 1)).unwrap();
        assert!(table.is_empty());
    }

    #[test]
    fn unlock_all_drops_one_owner_and_the_table_is_bounded() {
        let mut table = LockTable::default();
        table.set(lock(F_RDLCK, 0, 10, 1)).unwrap();
        table.set(lock(F_RDLCK, 0, 10, 2)).unwrap();
        table.unlock_all(1);
        assert_eq!(table.locks(), [lock(F_RDLCK, 0, 10, 2)]);
        // Every other byte locked: one lock each, up to the cap.
        let mut table =
            LockTable { locks: (0..MAX_LOCKS as u64 - 1).map(|i| lock(F_WRLCK, 2 * i, 2 * i + 1, 7)).collect() };
        let last = MAX_LOCKS as u64 - 1;
        table.set(lock(F_WRLCK, 2 * last, 2 * last + 1, 7)).unwrap();
        let last = MAX_LOCKS as u64;
        assert_eq!(table.set(lock(F_WRLCK, 2 * last, 2 * last + 1, 7)), Err(Error::new(ENOLCK)));
        assert_eq!(table.locks().len(), MAX_LOCKS);
    }
}
