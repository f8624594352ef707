//! User schemes: schemes served by a daemon process. The daemon registers
//! one through the root scheme `:` (`root.rs`), which hands it the
//! scheme's request queue; this file is both sides of that queue.
//!
//! ```text
//! client                 kernel (UserScheme)                 daemon
//! read(fd) ──▶ call(): Sqe + payload ──▶ messages ──▶ read(queue fd): next_request()
//!              caller blocks on its tag                        │ serves it
//!          ◀── reply ◀── calls[tag] ◀──────────────── write(queue fd): respond()
//! ```
//!
//! The wire format (Redox's scheme-v2 `Sqe`/`Cqe`/`Opcode`, payloads
//! inline) is `tessera_abi::scheme`; `docs/schemes.md` has the whole design.
//!
//! Every call becomes one request (a write larger than a message becomes
//! several) with a fresh tag. The caller waits, blocked, until the response
//! with its tag arrives, the daemon is gone, or the caller is killed:
//!
//! - **Daemon gone** (its queue's description closed: exit, kill, close):
//!   [`UserScheme::shut_down`] drops the unread requests and wakes every
//!   caller; calls still waiting fail with EIO, later calls on open files
//!   with EIO, later opens with ENODEV (the name is unregistered first).
//!   A waiter checks liveness every time it wakes, so none can hang.
//! - **Caller killed**: it withdraws its request — removed from the queue if
//!   unread (except Munmap and Msync, which must reach the daemon so that
//!   pins go and written pages are written back: those become one-way);
//!   if the daemon has it, the response will be dropped (a
//!   successful open or dup is closed again with a Close request, a
//!   successful MmapPrep unmapped with a one-way Munmap, so the daemon
//!   keeps no file or pin nobody holds). The call then returns EINTR and the
//!   trap path ends the process. Waits never end the process from inside:
//!   that would leave the syscall's locals (the open file it holds) alive
//!   forever, and the daemon's queue would never close.
//! - **Close** is one-way (`SqeFlags::ONEWAY`): it runs when a description
//!   is dropped — possibly while a process is exiting — so it must not wait.
//! - **Take back**: a write whose header is [`CQE_TAKE_BACK`] is not a
//!   response but the daemon taking back memory it lent (a truncate):
//!   `mm::fmap::invalidate` drops those pages from every space before the
//!   write returns; [`CQE_EVICT`] likewise for a page cache evicting
//!   (private copies stay).
//! - **fmap**: `MmapPrep` lends file pages: its answer is an address in
//!   the daemon's address space, and the process that wrote the answer is
//!   the lender ([`super::FmapLease`]). `Munmap` can be one-way too (a
//!   process's mappings go when it exits, which must not wait). The lease
//!   names the address space the lender had when it answered: it dies
//!   with that space (an exec).
//!
//! Responses are checked against their request by
//! `tessera_abi::scheme::response` (payload size, Stat size, counts within
//! what was asked, directory records well-formed, an fmap address non-zero,
//! page-aligned and its range inside user space; host-tested there); a
//! malformed one fails the caller's call with EIO and the daemon's write
//! with EINVAL. The tag (a request the daemon has read and not answered) is
//! checked here, against the queue, and so is an fmap answer's range
//! against the daemon's space: memory it does not own is EIO for both.
//!
//! Waits follow `sched::block_current`'s contract: a waiter is registered
//! (the call's `caller`, the queue's `readers`) before it checks its
//! condition under the queue lock, and wakers change the condition under
//! that lock before they wake it.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EAGAIN, EBADF, EINTR, EINVAL, EIO, ENAMETOOLONG, ENODEV, EOPNOTSUPP, ESPIPE, Error, Result};
use tessera_abi::flag::SEEK_END;
use tessera_abi::lock::{CALL_LOCK, CALL_UNLOCK_ALL, FileLock, LOCK_TEST, decode_conflict};
use tessera_abi::scheme::response::{self, Expect, UserSpace};
use tessera_abi::scheme::{
    CQE_EVICT, CQE_TAKE_BACK, MESSAGE_MAX_BYTES, NewFdFlags, Opcode, REQUEST_PAYLOAD_MAX_BYTES,
    RESPONSE_PAYLOAD_MAX_BYTES, ROOT_ID, SQE_BYTES, STAT_BYTES, Sqe, SqeFlags, decode_stat, decode_take_back,
};

use super::{FmapLease, KernelScheme, seek_position};
use crate::process::{self, Process};
use crate::sched::{self, Thread};

/// A request waiting for the daemon to read it.
struct Message {
    sqe: Sqe,
    payload: Vec<u8>,
}

/// A response as the caller sees it.
struct Reply {
    value: usize,
    flags: NewFdFlags,
    payload: Vec<u8>,
    /// The process that wrote the response (an fmap's lender).
    responder: Weak<Process>,
    /// Its address space's id then (0: none).
    responder_space: u64,
}

/// A request whose caller waits for its response.
struct Call {
    /// What its response may carry. A successful NewId or Address response
    /// whose caller gave up is undone (a Close, a one-way Munmap).
    expect: Expect,
    /// The waiting thread; `None` once it gave up (killed).
    caller: Option<Arc<Thread>>,
    /// The daemon has read the request.
    delivered: bool,
    /// The response, once it came (EIO if it was malformed).
    reply: Option<Result<Reply>>,
}

/// The queue between callers and the daemon.
struct Queue {
    /// False once the daemon's queue description is closed.
    alive: bool,
    next_tag: u32,
    /// Requests the daemon has not read yet, oldest first.
    messages: VecDeque<Message>,
    /// Requests whose callers wait, by tag.
    calls: BTreeMap<u32, Call>,
    /// Daemon threads blocked reading the queue.
    readers: Vec<Arc<Thread>>,
}

impl Queue {
    /// Queues a request from process `caller` (0: the kernel itself),
    /// wakes the daemon and returns the request's tag.
    ///
    /// A request whose caller waits for the response (`flags` without
    /// ONEWAY, from a process) wakes the daemon with [`sched::wake_sync`]:
    /// the caller blocks next, and its CPU runs the daemon.
    fn push(&mut self, opcode: Opcode, flags: SqeFlags, args: [u64; 6], payload: Vec<u8>, caller: u64) -> u32 {
        let tag = loop {
            let tag = self.next_tag;
            self.next_tag = self.next_tag.wrapping_add(1);
            if !self.calls.contains_key(&tag) {
                break tag;
            }
        };
        let sqe = Sqe { opcode: opcode as u8, sqe_flags: flags, _rsvd: 0, tag, args, caller };
        self.messages.push_back(Message { sqe, payload });
        let sync = caller != 0 && !flags.contains(SqeFlags::ONEWAY);
        for reader in self.readers.drain(..) {
            if sync { sched::wake_sync(&reader) } else { sched::wake(&reader) }
        }
        tag
    }

    /// Tells the daemon to close its file `daemon_id` (no response). Sent
    /// as the kernel's (caller 0): a description may be dropped outside
    /// any process.
    fn push_close(&mut self, daemon_id: u64) {
        self.push_oneway(Opcode::Close, [daemon_id, 0, 0, 0, 0, 0]);
    }

    /// Queues a request nobody waits for, as the kernel's (caller 0).
    fn push_oneway(&mut self, opcode: Opcode, args: [u64; 6]) {
        self.push(opcode, SqeFlags::ONEWAY, args, Vec::new(), 0);
    }
}

/// An open file of a user scheme.
#[derive(Clone, Copy)]
struct Handle {
    /// The daemon's id for it.
    daemon_id: u64,
    /// The kernel keeps the offset (the daemon said `POSITIONED`).
    positioned: bool,
    offset: u64,
}

/// A scheme served by a daemon.
pub struct UserScheme {
    name: String,
    queue: Mutex<Queue>,
    /// The kernel's handle ids (what descriptions hold) → the daemon's files.
    handles: Mutex<BTreeMap<usize, Handle>>,
    next_id: AtomicUsize,
}

/// Whether the current thread is being stopped (it ends on its way out of
/// the kernel).
fn killed() -> bool {
    process::kill_pending()
}

/// Where a daemon's MmapPrep answer may point: its user space.
const LENDER_SPACE: UserSpace = UserSpace { page_bytes: rmm::PAGE_SIZE, end: tessera_bootinfo::USER_END };

impl UserScheme {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            queue: Mutex::new(Queue {
                alive: true,
                next_tag: 0,
                messages: VecDeque::new(),
                calls: BTreeMap::new(),
                readers: Vec::new(),
            }),
            handles: Mutex::new(BTreeMap::new()),
            next_id: AtomicUsize::new(0),
        }
    }

    /// The name the scheme is registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn alive(&self) -> bool {
        self.queue.lock().alive
    }

    /// (requests the daemon has not read, callers waiting for a response).
    pub fn load(&self) -> (usize, usize) {
        let queue = self.queue.lock();
        (queue.messages.len(), queue.calls.values().filter(|call| call.caller.is_some()).count())
    }

    // ---- the daemon's side ---------------------------------------------

    /// The daemon's `read` of its queue: the oldest request's `Sqe` and
    /// payload. EINVAL if `buf` is shorter than `MESSAGE_MAX_BYTES` (the
    /// request stays queued); with `nonblock`, EAGAIN when the queue is
    /// empty; else waits. EINTR if the daemon is killed while waiting.
    pub fn next_request(&self, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        let message = self.next_request_vec(buf.len(), nonblock)?;
        buf[..message.len()].copy_from_slice(&message);
        Ok(message.len())
    }

    /// [`Self::next_request`] into a buffer of its own (the `Sqe` and the
    /// payload copied once, nothing zeroed first); `max` is the reader's
    /// buffer length.
    pub fn next_request_vec(&self, max: usize, nonblock: bool) -> Result<Vec<u8>> {
        if max < MESSAGE_MAX_BYTES {
            return Err(Error::new(EINVAL));
        }
        loop {
            if killed() {
                return Err(Error::new(EINTR));
            }
            {
                let mut queue = self.queue.lock();
                if let Some(message) = queue.messages.pop_front() {
                    if let Some(call) = queue.calls.get_mut(&message.sqe.tag)
                        && !message.sqe.sqe_flags.contains(SqeFlags::ONEWAY)
                    {
                        call.delivered = true;
                    }
                    let mut bytes = Vec::with_capacity(SQE_BYTES + message.payload.len());
                    bytes.extend_from_slice(&message.sqe);
                    bytes.extend_from_slice(&message.payload);
                    return Ok(bytes);
                }
                if nonblock {
                    return Err(Error::new(EAGAIN));
                }
                queue.readers.push(sched::current());
            }
            sched::block_current();
            let me = sched::current();
            self.queue.lock().readers.retain(|t| !Arc::ptr_eq(t, &me));
        }
    }

    /// The daemon's `write` of its queue: one response (`Cqe` + payload).
    /// A response for a caller that gave up is dropped (a successful open
    /// is closed again). EINVAL for a malformed response (its caller gets
    /// EIO), or one for a request the daemon has not read or has answered.
    /// EIO for an `MmapPrep` answer naming memory the daemon does not own
    /// ([`crate::mm::UserSpace::lendable_pages`]: not mapped, device or
    /// physical memory, pages it borrowed itself); its caller gets EIO too,
    /// and no `Munmap` follows, as nothing was lent.
    pub fn respond(&self, bytes: &[u8]) -> Result<usize> {
        let (cqe, payload) = response::split(bytes).map_err(|malformed| malformed.daemon_error())?;
        if cqe.flags == CQE_TAKE_BACK || cqe.flags == CQE_EVICT {
            // Not a response: the daemon takes back memory it lent (its
            // page cache evicting it: private copies stay).
            let (start, len) = decode_take_back(&cqe, payload).ok_or(Error::new(EINVAL))?;
            return crate::mm::fmap::invalidate(start, len, cqe.flags == CQE_EVICT).map(|_| bytes.len());
        }
        // What the request allows, read under the queue's lock; the checks
        // run without it, as the lent range is checked against the
        // responder's space (a space lock is never taken under the queue's).
        let expect = self.queue.lock().calls.get(&cqe.tag).map(|call| call.expect);
        // The caller gave up (or the tag is stale): nobody to answer.
        let Some(expect) = expect else { return Ok(bytes.len()) };
        let checked = response::check(&cqe, payload, expect, LENDER_SPACE);
        // Who answers, and from which address space.
        let responder = process::current();
        let (responder_space, lent) = {
            let space = responder.space.lock();
            let lent = match (&checked, expect) {
                (Ok(Ok(ok)), Expect::Address { size, .. }) => space.as_ref().is_some_and(|space| {
                    space.lendable_pages(rmm::VirtAddr::new(ok.value as u64), size.div_ceil(rmm::PAGE_SIZE))
                }),
                _ => true,
            };
            (space.as_ref().map_or(0, crate::mm::UserSpace::id), lent)
        };
        let (answer, reply) = match checked {
            // A malformed response fails the call too, with EIO.
            Err(malformed) => (Err(malformed.daemon_error()), Err(malformed.caller_error())),
            Ok(Ok(_)) if !lent => (Err(Error::new(EIO)), Err(Error::new(EIO))),
            Ok(result) => (
                Ok(bytes.len()),
                result.map(|ok| Reply {
                    value: ok.value,
                    flags: ok.flags,
                    payload: ok.payload.into(),
                    responder: Arc::downgrade(&responder),
                    responder_space,
                }),
            ),
        };
        let mut queue = self.queue.lock();
        // Gone meanwhile: the caller gave up and the call was dropped.
        let Some(call) = queue.calls.get_mut(&cqe.tag) else { return Ok(bytes.len()) };
        if !call.delivered || call.reply.is_some() {
            return Err(Error::new(EINVAL));
        }
        match call.caller.clone() {
            Some(caller) => {
                call.reply = Some(reply);
                // With nothing more to read the daemon blocks next: its CPU
                // runs the caller (sched::wake_sync).
                if queue.messages.is_empty() {
                    sched::wake_sync(&caller);
                } else {
                    sched::wake(&caller);
                }
            }
            None => {
                let expect = call.expect;
                queue.calls.remove(&cqe.tag);
                match (reply, expect) {
                    (Ok(reply), Expect::NewId) => queue.push_close(reply.value as u64),
                    (Ok(_), Expect::Address { daemon_id, offset, size }) => {
                        queue.push_oneway(Opcode::Munmap, [daemon_id, offset, size, 0, 0, 0]);
                    }
                    _ => {}
                }
            }
        }
        answer
    }

    /// The daemon's queue is closed: no more requests. Unread ones are
    /// dropped; every waiting caller wakes and fails with EIO.
    pub fn shut_down(&self) {
        let mut queue = self.queue.lock();
        queue.alive = false;
        queue.messages.clear();
        queue.calls.retain(|_, call| call.caller.is_some());
        for call in queue.calls.values() {
            if let Some(caller) = &call.caller {
                sched::wake(caller);
            }
        }
        for reader in queue.readers.drain(..) {
            sched::wake(&reader);
        }
    }

    // ---- the callers' side ---------------------------------------------

    /// Sends a request and waits for its response. EIO if the daemon is or
    /// goes away first, EINTR if the caller is killed meanwhile.
    fn call(&self, opcode: Opcode, args: [u64; 6], payload: Vec<u8>, expect: Expect) -> Result<Reply> {
        let tag = {
            let mut queue = self.queue.lock();
            if !queue.alive {
                return Err(Error::new(EIO));
            }
            let tag = queue.push(opcode, SqeFlags::empty(), args, payload, process::current().pid as u64);
            queue.calls.insert(tag, Call { expect, caller: Some(sched::current()), delivered: false, reply: None });
            tag
        };
        loop {
            {
                let mut queue = self.queue.lock();
                let call = queue.calls.get_mut(&tag).ok_or(Error::new(EIO))?;
                if let Some(reply) = call.reply.take() {
                    queue.calls.remove(&tag);
                    return reply;
                }
                if !queue.alive {
                    queue.calls.remove(&tag);
                    return Err(Error::new(EIO));
                }
            }
            if killed() {
                if matches!(opcode, Opcode::Munmap | Opcode::Msync) {
                    self.detach(tag);
                } else {
                    self.abandon(tag);
                }
                return Err(Error::new(EINTR));
            }
            sched::block_current();
        }
    }

    /// The caller of `tag` gives up waiting, but the request must still
    /// reach the daemon (Munmap: the pins go, written pages are written
    /// back; Msync: the write-back): unread, it becomes one-way; read, the
    /// response will be dropped.
    fn detach(&self, tag: u32) {
        let mut queue = self.queue.lock();
        let ours = |m: &Message| m.sqe.tag == tag && !m.sqe.sqe_flags.contains(SqeFlags::ONEWAY);
        if let Some(message) = queue.messages.iter_mut().find(|m| ours(m)) {
            message.sqe.sqe_flags |= SqeFlags::ONEWAY;
            message.sqe.caller = 0;
        }
        queue.calls.remove(&tag);
    }

    /// The caller of `tag` gives up: its request leaves the queue if the
    /// daemon has not read it; otherwise the response will be dropped.
    fn abandon(&self, tag: u32) {
        let mut queue = self.queue.lock();
        // (A one-way Close may carry the same tag after the counter wraps.)
        let ours = |m: &Message| m.sqe.tag == tag && !m.sqe.sqe_flags.contains(SqeFlags::ONEWAY);
        if let Some(at) = queue.messages.iter().position(ours) {
            queue.messages.remove(at);
            queue.calls.remove(&tag);
            return;
        }
        let Some(call) = queue.calls.get_mut(&tag) else { return };
        if matches!(call.expect, Expect::NewId | Expect::Address { .. }) {
            // The daemon may open a file or lend pages for it: close or
            // unmap that when it answers.
            call.caller = None;
        } else {
            queue.calls.remove(&tag);
        }
    }

    /// The handle `id`: EIO once the daemon is gone, EBADF if unknown.
    fn handle(&self, id: usize) -> Result<Handle> {
        if !self.alive() {
            return Err(Error::new(EIO));
        }
        self.handles.lock().get(&id).copied().ok_or(Error::new(EBADF))
    }

    /// Records a new file from an open or dup response.
    fn new_handle(&self, reply: &Reply) -> usize {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handle = Handle {
            daemon_id: reply.value as u64,
            positioned: reply.flags.contains(NewFdFlags::POSITIONED),
            offset: 0,
        };
        self.handles.lock().insert(id, handle);
        id
    }

    /// The offset to send for `id` now (0 unless positioned).
    fn offset(&self, id: usize) -> Result<u64> {
        let handle = self.handle(id)?;
        Ok(if handle.positioned { handle.offset } else { 0 })
    }

    /// After `n` bytes moved at `offset`, the file's offset is past them.
    fn advance(&self, id: usize, offset: u64, n: usize) {
        if let Some(handle) = self.handles.lock().get_mut(&id)
            && handle.positioned
        {
            handle.offset = offset + n as u64;
        }
    }

    /// One Write request of `payload` (at most `REQUEST_PAYLOAD_MAX_BYTES`)
    /// at the handle's offset, which moves by what the daemon took.
    fn write_request(&self, id: usize, daemon_id: u64, payload: Vec<u8>) -> Result<usize> {
        let offset = self.offset(id)?;
        let len = payload.len();
        let args = [daemon_id, 0, len as u64, offset, 0, 0];
        let reply = self.call(Opcode::Write, args, payload, Expect::Count(len))?;
        self.advance(id, offset, reply.value);
        Ok(reply.value)
    }
}

impl KernelScheme for UserScheme {
    /// OpenAt: ENODEV once the daemon is gone (the name is unregistered
    /// then, so `resolve` says the same), ENAMETOOLONG for a path longer
    /// than a request holds; else what the daemon answers.
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        if !self.alive() {
            return Err(Error::new(ENODEV));
        }
        if path.len() > REQUEST_PAYLOAD_MAX_BYTES {
            return Err(Error::new(ENAMETOOLONG));
        }
        let args = [ROOT_ID, 0, path.len() as u64, flags as u64, 0, 0];
        let reply = self.call(Opcode::OpenAt, args, path.as_bytes().into(), Expect::NewId)?;
        Ok(self.new_handle(&reply))
    }

    /// One Read request for at most `RESPONSE_PAYLOAD_MAX_BYTES`: a longer
    /// read gets a short count.
    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        let bytes = self.read_vec(id, buf.len())?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// As [`Self::read`], handing over the reply's payload (no copy).
    fn read_vec(&self, id: usize, max: usize) -> Result<Vec<u8>> {
        let handle = self.handle(id)?;
        let len = max.min(RESPONSE_PAYLOAD_MAX_BYTES);
        if len == 0 {
            return Ok(Vec::new());
        }
        let offset = self.offset(id)?;
        let args = [handle.daemon_id, 0, len as u64, offset, 0, 0];
        // `Expect::Bytes(len)`: the daemon's payload is at most `len`.
        let reply = self.call(Opcode::Read, args, Vec::new(), Expect::Bytes(len))?;
        self.advance(id, offset, reply.payload.len());
        Ok(reply.payload)
    }

    /// One request that fits in a message sends the bytes as its payload
    /// (no copy); a longer write is [`Self::write`]'s pieces.
    fn write_vec(&self, id: usize, buf: Vec<u8>) -> Result<usize> {
        if buf.is_empty() || buf.len() > REQUEST_PAYLOAD_MAX_BYTES {
            return self.write(id, &buf);
        }
        let handle = self.handle(id)?;
        self.write_request(id, handle.daemon_id, buf)
    }

    /// Write requests of at most `REQUEST_PAYLOAD_MAX_BYTES` each, until
    /// all is written, the daemon takes less than it was given, or fails.
    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let handle = self.handle(id)?;
        let mut done = 0;
        while done < buf.len() {
            let piece = &buf[done..buf.len().min(done + REQUEST_PAYLOAD_MAX_BYTES)];
            match self.write_request(id, handle.daemon_id, piece.into()) {
                Ok(n) => {
                    done += n;
                    if n < piece.len() {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// Answered by the kernel for positioned files (`SEEK_END` asks the
    /// daemon for the size: Fsize); ESPIPE for the others.
    fn seek(&self, id: usize, offset: isize, whence: usize) -> Result<usize> {
        let handle = self.handle(id)?;
        if !handle.positioned {
            return Err(Error::new(ESPIPE));
        }
        let size = if whence == SEEK_END {
            let args = [handle.daemon_id, 0, 0, 0, 0, 0];
            self.call(Opcode::Fsize, args, Vec::new(), Expect::Value)?.value
        } else {
            0
        };
        let position = seek_position(handle.offset as usize, size, offset, whence)?;
        if let Some(handle) = self.handles.lock().get_mut(&id) {
            handle.offset = position as u64;
        }
        Ok(position)
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        let handle = self.handle(id)?;
        let args = [handle.daemon_id, 0, STAT_BYTES as u64, 0, 0, 0];
        let reply = self.call(Opcode::Fstat, args, Vec::new(), Expect::Stat)?;
        *stat = decode_stat(&reply.payload).ok_or(Error::new(EIO))?;
        Ok(())
    }

    fn fsync(&self, id: usize) -> Result<()> {
        let handle = self.handle(id)?;
        self.call(Opcode::Fsync, [handle.daemon_id, 0, 0, 0, 0, 0], Vec::new(), Expect::Value).map(drop)
    }

    fn ftruncate(&self, id: usize, len: usize) -> Result<()> {
        let handle = self.handle(id)?;
        let args = [handle.daemon_id, len as u64, 0, 0, 0, 0];
        self.call(Opcode::Ftruncate, args, Vec::new(), Expect::Value).map(drop)
    }

    /// Redox's named dup: a new file from `id` and `buf` (the daemon
    /// decides what the name means).
    fn dup(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let handle = self.handle(id)?;
        if buf.len() > REQUEST_PAYLOAD_MAX_BYTES {
            return Err(Error::new(ENAMETOOLONG));
        }
        let args = [handle.daemon_id, 0, buf.len() as u64, 0, 0, 0];
        let reply = self.call(Opcode::Dup, args, buf.into(), Expect::NewId)?;
        Ok(self.new_handle(&reply))
    }

    /// UnlinkAt relative to the scheme's root; errors as for `open`.
    fn unlink(&self, path: &str, flags: usize) -> Result<()> {
        if !self.alive() {
            return Err(Error::new(ENODEV));
        }
        if path.len() > REQUEST_PAYLOAD_MAX_BYTES {
            return Err(Error::new(ENAMETOOLONG));
        }
        let args = [ROOT_ID, 0, path.len() as u64, flags as u64, 0, 0];
        self.call(Opcode::UnlinkAt, args, path.as_bytes().into(), Expect::Value).map(drop)
    }

    /// One Getdents request for at most `RESPONSE_PAYLOAD_MAX_BYTES`; the
    /// records are checked (EIO if malformed).
    fn getdents(&self, id: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
        let handle = self.handle(id)?;
        let len = buf.len().min(RESPONSE_PAYLOAD_MAX_BYTES);
        let args = [handle.daemon_id, 0, len as u64, opaque, 0, 0];
        let reply = self.call(Opcode::Getdents, args, Vec::new(), Expect::Dirents(len))?;
        buf[..reply.payload.len()].copy_from_slice(&reply.payload);
        Ok(reply.payload.len())
    }

    /// Frename: the path travels inline.
    fn frename(&self, id: usize, path: &str) -> Result<()> {
        let handle = self.handle(id)?;
        if path.len() > REQUEST_PAYLOAD_MAX_BYTES {
            return Err(Error::new(ENAMETOOLONG));
        }
        let args = [handle.daemon_id, 0, path.len() as u64, 0, 0, 0];
        self.call(Opcode::Frename, args, path.as_bytes().into(), Expect::Value).map(drop)
    }

    /// MmapPrep: the daemon's address (EIO unless non-zero, page-aligned
    /// and the range inside user space) and the process that answered,
    /// the lender.
    fn mmap_prep(&self, id: usize, offset: u64, size: usize, flags: usize) -> Result<FmapLease> {
        let handle = self.handle(id)?;
        let args = [handle.daemon_id, offset, size as u64, flags as u64, 0, 0];
        let expect = Expect::Address { daemon_id: handle.daemon_id, offset, size: size as u64 };
        let reply = self.call(Opcode::MmapPrep, args, Vec::new(), expect)?;
        Ok(FmapLease { address: reply.value, lender: reply.responder, lender_space: reply.responder_space })
    }

    /// Munmap; without `wait`, sent one-way as the kernel's own request
    /// (EIO if the daemon is already gone, as for any call).
    fn munmap(&self, id: usize, offset: u64, size: usize, flags: usize, wait: bool) -> Result<()> {
        let handle = self.handle(id)?;
        let args = [handle.daemon_id, offset, size as u64, flags as u64, 0, 0];
        if wait {
            return self.call(Opcode::Munmap, args, Vec::new(), Expect::Value).map(drop);
        }
        let mut queue = self.queue.lock();
        if !queue.alive {
            return Err(Error::new(EIO));
        }
        queue.push_oneway(Opcode::Munmap, args);
        Ok(())
    }

    fn msync(&self, id: usize, offset: u64, size: usize, flags: usize) -> Result<()> {
        let handle = self.handle(id)?;
        let args = [handle.daemon_id, offset, size as u64, flags as u64, 0, 0];
        self.call(Opcode::Msync, args, Vec::new(), Expect::Value).map(drop)
    }

    fn punch_hole(&self, id: usize, offset: u64, len: u64) -> Result<()> {
        let handle = self.handle(id)?;
        let args = [handle.daemon_id, offset, len, tessera_abi::scheme::CALL_PUNCH_HOLE, 0, 0];
        self.call(Opcode::Call, args, Vec::new(), Expect::Value).map(drop)
    }

    /// A lock request; a daemon that does not know it (EOPNOTSUPP) does
    /// not support locks: EINVAL, as POSIX has it.
    fn lock(&self, id: usize, lock: FileLock, test: bool) -> Result<Option<FileLock>> {
        let handle = self.handle(id)?;
        let kind = lock.kind as u16 as u64 | if test { LOCK_TEST } else { 0 };
        let args = [handle.daemon_id, lock.start, lock.end, CALL_LOCK, kind, lock.owner];
        let reply = match self.call(Opcode::Call, args, Vec::new(), Expect::Bytes(32)) {
            Err(e) if e.errno == EOPNOTSUPP => return Err(Error::new(EINVAL)),
            other => other?,
        };
        match (test, reply.payload.len()) {
            (_, 0) => Ok(None),
            (true, _) => decode_conflict(&reply.payload).map(Some).ok_or(Error::new(EIO)),
            (false, _) => Err(Error::new(EIO)),
        }
    }

    fn unlock_all(&self, id: usize, owner: usize) {
        let Ok(handle) = self.handle(id) else { return };
        let mut queue = self.queue.lock();
        if queue.alive {
            queue.push_oneway(Opcode::Call, [handle.daemon_id, 0, 0, CALL_UNLOCK_ALL, 0, owner as u64]);
        }
    }

    /// One-way: the daemon is told, nobody waits.
    fn close(&self, id: usize) -> Result<()> {
        let handle = self.handles.lock().remove(&id).ok_or(Error::new(EBADF))?;
        let mut queue = self.queue.lock();
        if queue.alive {
            queue.push_close(handle.daemon_id);
        }
        Ok(())
    }
}
