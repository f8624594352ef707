//! `:` — the root scheme, through which a daemon registers a user scheme.
//!
//! `open(":name", O_CREAT | O_RDWR)` registers the scheme `name:` and gives
//! the daemon its request queue (`O_NONBLOCK` too: reads fail with EAGAIN
//! instead of waiting). The daemon `read`s requests from it and `write`s
//! responses to it (`user.rs`, wire format in `tessera_abi::scheme`). When
//! the queue's open file description closes — the daemon closed it, exited
//! or was killed, and no process it forked still holds it — the name is
//! unregistered and every call still waiting on the scheme fails with EIO.
//!
//! `open(":")` without `O_CREAT` reads as a snapshot of the user schemes,
//! one line each: `name queued waiting` — requests the daemon has not read
//! yet, and callers waiting for a response (so tests and tools can see a
//! request arrive without a clock).
//!
//! Errors of `open`: EINVAL for a bad name (`tessera_abi::scheme::valid_name`)
//! or an access mode other than `O_RDWR`, EEXIST if the name is taken (by a
//! kernel or a user scheme), ENOENT for a name without `O_CREAT`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EBADF, EINVAL, ENOENT, ESPIPE, Error, Result};
use tessera_abi::flag::{MODE_CHR, MODE_FILE, O_ACCMODE, O_CREAT, O_NONBLOCK, O_RDWR};
use tessera_abi::scheme::valid_name;

use super::user::UserScheme;
use super::{KernelScheme, seek_position};

/// An open file of the root scheme.
enum Handle {
    /// A daemon's request queue.
    Queue { scheme: Arc<UserScheme>, nonblock: bool },
    /// The listing: its text and the read position.
    Listing { text: String, position: usize },
}

#[derive(Default)]
pub struct RootScheme {
    next: AtomicUsize,
    handles: Mutex<BTreeMap<usize, Handle>>,
}

impl RootScheme {
    /// The user scheme and blocking mode of queue `id` (EBADF if `id` is
    /// not a queue). Cloned out, so no lock is held while a read waits.
    fn queue(&self, id: usize) -> Result<(Arc<UserScheme>, bool)> {
        match self.handles.lock().get(&id) {
            Some(Handle::Queue { scheme, nonblock }) => Ok((scheme.clone(), *nonblock)),
            _ => Err(Error::new(EBADF)),
        }
    }

    /// `name queued waiting` for every registered user scheme.
    fn listing(&self) -> String {
        let mut text = String::new();
        for handle in self.handles.lock().values() {
            if let Handle::Queue { scheme, .. } = handle {
                let (queued, waiting) = scheme.load();
                let _ = writeln!(text, "{} {queued} {waiting}", scheme.name());
            }
        }
        text
    }

    fn insert(&self, handle: Handle) -> usize {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.handles.lock().insert(id, handle);
        id
    }
}

impl KernelScheme for RootScheme {
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        if flags & O_CREAT == 0 {
            if !path.is_empty() {
                return Err(Error::new(ENOENT));
            }
            return Ok(self.insert(Handle::Listing { text: self.listing(), position: 0 }));
        }
        if flags & O_ACCMODE != O_RDWR || !valid_name(path) {
            return Err(Error::new(EINVAL));
        }
        let scheme = Arc::new(UserScheme::new(path));
        super::register(path, scheme.clone())?;
        Ok(self.insert(Handle::Queue { scheme, nonblock: flags & O_NONBLOCK != 0 }))
    }

    /// A queue: the next request (`UserScheme::next_request`).
    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        if let Some(Handle::Listing { text, position }) = self.handles.lock().get_mut(&id) {
            let rest = text.as_bytes().get(*position..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            *position += n;
            return Ok(n);
        }
        let (scheme, nonblock) = self.queue(id)?;
        scheme.next_request(buf, nonblock)
    }

    /// A queue: the next request, in a buffer of its own.
    fn read_vec(&self, id: usize, max: usize) -> Result<Vec<u8>> {
        if matches!(self.handles.lock().get(&id), Some(Handle::Listing { .. })) {
            return super::read_copied(|buf| self.read(id, buf), max);
        }
        let (scheme, nonblock) = self.queue(id)?;
        scheme.next_request_vec(max, nonblock)
    }

    /// A queue: one response (`UserScheme::respond`).
    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let (scheme, _) = self.queue(id)?;
        scheme.respond(buf)
    }

    fn seek(&self, id: usize, offset: isize, whence: usize) -> Result<usize> {
        match self.handles.lock().get_mut(&id) {
            Some(Handle::Listing { text, position }) => {
                *position = seek_position(*position, text.len(), offset, whence)?;
                Ok(*position)
            }
            Some(Handle::Queue { .. }) => Err(Error::new(ESPIPE)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        match self.handles.lock().get(&id) {
            Some(Handle::Listing { text, .. }) => {
                stat.st_mode = MODE_FILE | 0o444;
                stat.st_size = text.len() as u64;
            }
            Some(Handle::Queue { .. }) => stat.st_mode = MODE_CHR | 0o600,
            None => return Err(Error::new(EBADF)),
        }
        Ok(())
    }

    /// A queue is gone: unregister the name first (new opens get ENODEV),
    /// then fail everything still waiting.
    fn close(&self, id: usize) -> Result<()> {
        let handle = self.handles.lock().remove(&id).ok_or(Error::new(EBADF))?;
        if let Handle::Queue { scheme, .. } = handle {
            super::unregister(scheme.name(), &(scheme.clone() as Arc<dyn KernelScheme>));
            scheme.shut_down();
        }
        Ok(())
    }
}
