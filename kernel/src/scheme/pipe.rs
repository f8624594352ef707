//! `pipe:` — anonymous pipes, created by the `pipe2` syscall (opening a
//! `pipe:` path is not supported). Each pipe buffers up to
//! [`CAPACITY_BYTES`]. A read waits until bytes arrive, or returns 0 once
//! every write end is closed; a write waits for room until it has written
//! everything, and fails with EPIPE once every read end is closed (no
//! SIGPIPE yet: signals have no handlers). A process killed while it waits
//! leaves the call (EINTR inside the kernel) before it ends, so its ends
//! close like any other.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EBADF, EINTR, EPIPE, ESPIPE, Error, Result};
use tessera_abi::flag::MODE_FIFO;

use super::KernelScheme;
use crate::process;
use crate::sched::{self, Thread};

/// Bytes a pipe holds before writers wait.
pub const CAPACITY_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Read,
    Write,
}

#[derive(Default)]
struct Pipe {
    buffer: VecDeque<u8>,
    readers: usize,
    writers: usize,
    waiting: Vec<Arc<Thread>>,
}

impl Pipe {
    fn wake_all(&mut self) {
        for thread in self.waiting.drain(..) {
            sched::wake(&thread);
        }
    }
}

#[derive(Default)]
pub struct PipeScheme {
    next: AtomicUsize,
    pipes: Mutex<BTreeMap<usize, Pipe>>,
    /// Handle id → (pipe id, end).
    handles: Mutex<BTreeMap<usize, (usize, End)>>,
}

impl PipeScheme {
    /// A new pipe: the handle ids of its read and write ends.
    pub fn create(&self) -> (usize, usize) {
        let pipe = self.next.fetch_add(1, Ordering::Relaxed);
        let (read, write) = (self.next.fetch_add(1, Ordering::Relaxed), self.next.fetch_add(1, Ordering::Relaxed));
        self.pipes.lock().insert(pipe, Pipe { readers: 1, writers: 1, ..Pipe::default() });
        let mut handles = self.handles.lock();
        handles.insert(read, (pipe, End::Read));
        handles.insert(write, (pipe, End::Write));
        (read, write)
    }

    fn end(&self, id: usize) -> Result<(usize, End)> {
        self.handles.lock().get(&id).copied().ok_or(Error::new(EBADF))
    }
}

/// Waits until the pipe changes. The caller registered as a waiter while
/// it held the lock and saw the condition unmet, so no wake in between is
/// lost (`sched::block_current`'s contract). EINTR when the process was
/// killed meanwhile: the call returns, dropping what it holds (its fd
/// reference above all, so the killed end closes), and the kill takes
/// effect on the way out to user mode.
fn wait() -> Result<()> {
    sched::block_current();
    if process::kill_pending() { Err(Error::new(EINTR)) } else { Ok(()) }
}

impl KernelScheme for PipeScheme {
    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        let (pipe, end) = self.end(id)?;
        if end != End::Read {
            return Err(Error::new(EBADF));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut pipes = self.pipes.lock();
                let p = pipes.get_mut(&pipe).ok_or(Error::new(EBADF))?;
                if !p.buffer.is_empty() {
                    let n = buf.len().min(p.buffer.len());
                    for (slot, byte) in buf.iter_mut().zip(p.buffer.drain(..n)) {
                        *slot = byte;
                    }
                    p.wake_all();
                    return Ok(n);
                }
                if p.writers == 0 {
                    return Ok(0);
                }
                p.waiting.push(sched::current());
            }
            wait()?;
        }
    }

    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let (pipe, end) = self.end(id)?;
        if end != End::Write {
            return Err(Error::new(EBADF));
        }
        let mut done = 0;
        while done < buf.len() {
            {
                let mut pipes = self.pipes.lock();
                let p = pipes.get_mut(&pipe).ok_or(Error::new(EBADF))?;
                if p.readers == 0 {
                    return if done == 0 { Err(Error::new(EPIPE)) } else { Ok(done) };
                }
                let room = CAPACITY_BYTES - p.buffer.len();
                if room > 0 {
                    let n = room.min(buf.len() - done);
                    p.buffer.extend(&buf[done..done + n]);
                    done += n;
                    p.wake_all();
                    continue;
                }
                p.waiting.push(sched::current());
            }
            if let Err(e) = wait() {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
        }
        Ok(done)
    }

    fn seek(&self, id: usize, _offset: isize, _whence: usize) -> Result<usize> {
        self.end(id)?;
        Err(Error::new(ESPIPE))
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        let (pipe, _) = self.end(id)?;
        stat.st_mode = MODE_FIFO | 0o600;
        stat.st_size = self.pipes.lock().get(&pipe).map_or(0, |p| p.buffer.len() as u64);
        Ok(())
    }

    fn close(&self, id: usize) -> Result<()> {
        let (pipe, end) = self.handles.lock().remove(&id).ok_or(Error::new(EBADF))?;
        let mut pipes = self.pipes.lock();
        let p = pipes.get_mut(&pipe).ok_or(Error::new(EBADF))?;
        match end {
            End::Read => p.readers -= 1,
            End::Write => p.writers -= 1,
        }
        p.wake_all();
        if p.readers == 0 && p.writers == 0 {
            pipes.remove(&pipe);
        }
        Ok(())
    }
}
