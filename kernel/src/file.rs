//! Open files: a process's file table maps descriptor numbers to shared
//! open-file descriptions (scheme + the scheme's handle id + open flags).
//! `dup`, `dup2` and `fork` share a description, as POSIX requires (one
//! offset, kept by the scheme per handle); the scheme's `close` runs when the
//! last descriptor referring to it goes.
//!
//! Record locks (`fcntl` F_SETLK) belong to the process, not the
//! descriptor: when any descriptor of a scheme the process has locked files
//! of goes (close, dup2 over it, exec's close-on-exec, exit), the scheme is
//! told to drop the process's locks on that file (`unlock_all`, one-way), as
//! POSIX says. Only schemes the process has locked with are told. A
//! descriptor opened with `O_STAT` (a lookup for metadata: libc's `stat`
//! and `access`) holds no locks and drops none when it goes, as Linux's
//! `O_PATH` descriptors: `stat` of a locked file must not unlock it.

use alloc::sync::Arc;
use alloc::vec::Vec;

use tessera_abi::error::{EBADF, EMFILE, Error, Result};
use tessera_abi::flag::O_STAT;

use crate::scheme::KernelScheme;

/// Descriptors per process.
pub const MAX_FILES: usize = 1024;

/// One open file.
pub struct Description {
    pub scheme: Arc<dyn KernelScheme>,
    /// The scheme's handle.
    pub id: usize,
    /// `O_ACCMODE` and status flags from `open`.
    pub flags: usize,
}

impl Drop for Description {
    fn drop(&mut self) {
        let _ = self.scheme.close(self.id);
    }
}

/// A descriptor: a description plus the per-descriptor close-on-exec flag.
#[derive(Clone)]
pub struct FileHandle {
    pub description: Arc<Description>,
    pub cloexec: bool,
}

/// A process's descriptors.
#[derive(Default)]
pub struct FileTable {
    slots: Vec<Option<FileHandle>>,
    /// The process's pid: the owner of its record locks.
    owner: usize,
    /// The schemes (by address) the process has set record locks with.
    locking: Vec<usize>,
}

fn scheme_key(scheme: &Arc<dyn KernelScheme>) -> usize {
    Arc::as_ptr(scheme).cast::<()>() as usize
}

impl FileTable {
    /// The descriptor `fd`, or EBADF.
    pub fn get(&self, fd: usize) -> Result<FileHandle> {
        self.slots.get(fd).and_then(Clone::clone).ok_or(Error::new(EBADF))
    }

    /// Installs `handle` at the lowest free number `>= min`.
    pub fn insert_from(&mut self, min: usize, handle: FileHandle) -> Result<usize> {
        let fd =
            (min..MAX_FILES).find(|&fd| self.slots.get(fd).is_none_or(Option::is_none)).ok_or(Error::new(EMFILE))?;
        self.insert_at(fd, handle)?;
        Ok(fd)
    }

    /// Installs `handle` at the lowest free number.
    pub fn insert(&mut self, handle: FileHandle) -> Result<usize> {
        self.insert_from(0, handle)
    }

    /// Installs `handle` at `fd`, closing what was there.
    pub fn insert_at(&mut self, fd: usize, handle: FileHandle) -> Result<()> {
        if fd >= MAX_FILES {
            return Err(Error::new(EBADF));
        }
        if self.slots.len() <= fd {
            self.slots.resize(fd + 1, None);
        }
        let old = self.slots[fd].replace(handle);
        if let Some(old) = old {
            self.released(&old);
        }
        Ok(())
    }

    /// Removes `fd`.
    pub fn remove(&mut self, fd: usize) -> Result<FileHandle> {
        let handle = self.slots.get_mut(fd).and_then(Option::take).ok_or(Error::new(EBADF))?;
        self.released(&handle);
        Ok(handle)
    }

    /// Sets the pid owning the table's record locks (at process creation).
    pub fn set_owner(&mut self, pid: usize) {
        self.owner = pid;
    }

    /// Notes that the process has set a record lock through `scheme`.
    pub fn note_locking(&mut self, scheme: &Arc<dyn KernelScheme>) {
        let key = scheme_key(scheme);
        if !self.locking.contains(&key) {
            self.locking.push(key);
        }
    }

    /// A descriptor went: the process's locks on its file go too.
    fn released(&self, handle: &FileHandle) {
        let description = &handle.description;
        if description.flags & O_STAT == 0 && self.locking.contains(&scheme_key(&description.scheme)) {
            description.scheme.unlock_all(description.id, self.owner);
        }
    }

    /// Sets or clears close-on-exec on `fd`.
    pub fn set_cloexec(&mut self, fd: usize, on: bool) -> Result<()> {
        let slot = self.slots.get_mut(fd).and_then(Option::as_mut).ok_or(Error::new(EBADF))?;
        slot.cloexec = on;
        Ok(())
    }

    /// The child's table after `fork`: the same descriptions, no locks
    /// (its owner is set when the child is made).
    pub fn fork(&self) -> Self {
        Self { slots: self.slots.clone(), owner: 0, locking: Vec::new() }
    }

    /// Closes every close-on-exec descriptor.
    pub fn close_on_exec(&mut self) {
        let mut closed = Vec::new();
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|h| h.cloexec) {
                closed.extend(slot.take());
            }
        }
        for handle in &closed {
            self.released(handle);
        }
    }
}

impl Drop for FileTable {
    /// Exit (or a table replaced): every descriptor goes.
    fn drop(&mut self) {
        if self.locking.is_empty() {
            return;
        }
        for handle in self.slots.iter().flatten() {
            self.released(handle);
        }
    }
}
