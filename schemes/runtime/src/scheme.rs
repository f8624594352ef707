//! The scheme-server loop: how a daemon serves a user scheme.
//!
//! A daemon implements [`Scheme`] (every method but `open` defaults to
//! `EOPNOTSUPP`; `open` to `ENOENT`) and calls [`serve`], which registers
//! `name:` with the kernel's root scheme (`open(":name", O_CREAT | O_RDWR |
//! O_CLOEXEC)`) and then answers requests one at a time, forever:
//! ```ignore
//! struct Hello;
//! impl tessera_runtime::scheme::Scheme for Hello {
//!     fn open(&mut self, _path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
//!         Ok(Opened { id: 0, positioned: true })
//!     }
//!     fn read(&mut self, _id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
//!         let text = b"hello\n".get(offset as usize..).unwrap_or(&[]);
//!         let n = text.len().min(buf.len());
//!         buf[..n].copy_from_slice(&text[..n]);
//!         Ok(n)
//!     }
//! }
//! let error = tessera_runtime::scheme::serve("hello", &mut Hello);
//! ```
//! The wire format (Redox's `Sqe`/`Cqe` with inline payloads) is in
//! `tessera_abi::scheme`; [`answer`] turns one request into its response
//! and is what the loop runs, so it is unit-tested on the host.
//!
//! **Offsets**: a file opened with `positioned: true` has its offset kept
//! by the kernel (Redox's `POSITIONED`): `read`/`write` get it as `offset`,
//! and `lseek` is the kernel's, using [`Scheme::fsize`] for `SEEK_END`.
//! Otherwise `offset` is 0 and `lseek` fails with ESPIPE.
//!
//! **Directories**: `unlinkat`, `getdents` (fill the buffer with
//! `tessera_abi::dirent` records, e.g. with `DirentBuf`) and `frename`
//! answer the calls of the same names; `mkdir` is an `open` with
//! `O_CREAT | O_DIRECTORY`.
//!
//! **fmap**: a filesystem daemon lends file pages with `mmap_prep` (an
//! address in its own address space) and gets `munmap` / `msync` for them
//! later; `munmap` may come one-way (no answer is sent). See
//! `docs/schemes.md`.
//!
//! The queue is closed on `execve` (`O_CLOEXEC`) but shared with children
//! made by `fork`: the scheme lives until every process holding it is gone.
//! A daemon must not call its own scheme: it would wait for itself.

use alloc::vec;
use alloc::vec::Vec;

use tessera_abi::error::{EINVAL, EIO, ENOENT, EOPNOTSUPP};
use tessera_abi::flag::{O_CREAT, O_RDWR};
use tessera_abi::lock::{CALL_LOCK, CALL_UNLOCK_ALL, FileLock, LOCK_TEST, encode_conflict};
pub use tessera_abi::scheme::CallerCtx;
use tessera_abi::scheme::{
    CALL_PUNCH_HOLE, CQE_BYTES, Cqe, CqeOpcode, MESSAGE_MAX_BYTES, NewFdFlags, Opcode, RESPONSE_PAYLOAD_MAX_BYTES,
    SqeFlags, encode_stat, split_request,
};
use tessera_abi::{Error, O_CLOEXEC, Result, Stat, dirent};

use crate::sys;

/// A file the daemon opened for a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The daemon's id for it: what later calls name it by.
    pub id: usize,
    /// The kernel keeps the file offset (see the module docs).
    pub positioned: bool,
}

/// What a daemon serves. Each method answers one request; the errno of an
/// `Err` is what the calling process sees. Ids are the daemon's own, given
/// out by `open`/`dup`.
pub trait Scheme {
    /// Opens `path` (the part after `name:`, maybe empty) with Redox `O_*`
    /// `flags` (the kernel has checked nothing but the access mode's use).
    fn open(&mut self, _path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        Err(Error::new(ENOENT))
    }
    /// Reads at most `buf.len()` bytes at `offset`; 0 is end of file.
    fn read(&mut self, _id: usize, _buf: &mut [u8], _offset: u64) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Writes `buf` at `offset`; returns how many bytes were taken.
    fn write(&mut self, _id: usize, _buf: &[u8], _offset: u64) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    fn fstat(&mut self, _id: usize, _stat: &mut Stat) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// The file's size, for `lseek(SEEK_END)`; by default `fstat`'s.
    fn fsize(&mut self, id: usize) -> Result<u64> {
        let mut stat = Stat::default();
        self.fstat(id, &mut stat)?;
        Ok(stat.st_size)
    }
    fn fsync(&mut self, _id: usize) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    fn ftruncate(&mut self, _id: usize, _len: u64) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Redox's named dup: a new file from `id` and `name`.
    fn dup(&mut self, _id: usize, _name: &[u8], _ctx: &CallerCtx) -> Result<Opened> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Removes `path` (relative to the scheme's root): a file, or with
    /// `AT_REMOVEDIR` in `flags` an empty directory.
    fn unlinkat(&mut self, _path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Fills `buf` with whole `tessera_abi::dirent` records of directory
    /// `id`, from the entry `opaque` names (0: the first); returns the
    /// bytes filled, 0 at the end. A result that is not well-formed records
    /// is answered EIO.
    fn getdents(&mut self, _id: usize, _buf: &mut [u8], _opaque: u64) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Gives the file `id` the path `path` within the scheme.
    fn frename(&mut self, _id: usize, _path: &str, _ctx: &CallerCtx) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Lends the pages holding `size` bytes of file `id` from `offset` for
    /// a mapping with Redox `MapFlags` `flags`: the address, in this
    /// process, of the page at `offset` (non-zero, page-aligned).
    fn mmap_prep(&mut self, _id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// A lent range is unmapped; `flags` are `MunmapFlags` bits
    /// (`NEEDS_SYNC`: write it back). May come one-way (the result is then
    /// not sent).
    fn munmap(&mut self, _id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Writes a lent range back (`MS_*` flags).
    fn msync(&mut self, _id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Sets, clears (`lock.kind` F_UNLCK) or, with `test`, tests the record
    /// lock `lock` of process `lock.owner` on file `id` (see
    /// [`crate::locks::LockTable`], which does the work): `Ok(Some(held))`
    /// names a conflicting lock when testing; EAGAIN when setting conflicts.
    /// EOPNOTSUPP (the default) says the scheme keeps no locks: the caller
    /// gets EINVAL.
    fn lock(&mut self, _id: usize, _lock: FileLock, _test: bool) -> Result<Option<FileLock>> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Process `owner` closed a descriptor of file `id` (or exited): its
    /// locks on the file go. No answer is sent.
    fn unlock_all(&mut self, _id: usize, _owner: u64) {}
    /// Punches a hole: bytes `[offset, offset + len)` of file `id` read as
    /// zeroes afterwards, the size unchanged; lent pages there must be taken
    /// back first ([`take_back`]). Sent for `madvise(MADV_REMOVE)`.
    fn punch_hole(&mut self, _id: usize, _offset: u64, _len: u64) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// The last descriptor of `id` is gone (no answer is sent).
    fn close(&mut self, _id: usize) {}
}

/// Serves one request: `request` is what a read of the queue returned.
/// Writes the response message into `response` and returns true, or
/// returns false for a request that gets none (`ONEWAY`, or too short to
/// carry a tag).
pub fn answer(scheme: &mut impl Scheme, request: &[u8], response: &mut Vec<u8>) -> bool {
    let Some((sqe, payload)) = split_request(request) else { return false };
    let oneway = sqe.sqe_flags.contains(SqeFlags::ONEWAY);
    let ctx = CallerCtx { pid: sqe.caller as usize, uid: 0, gid: 0 };
    let [a0, a1, a2, a3, _, _] = sqe.args;
    let id = a0 as usize;
    let path = || core::str::from_utf8(payload).map_err(|_| Error::new(EINVAL));
    response.clear();
    response.resize(CQE_BYTES, 0);

    let new_file = |opened: Result<Opened>| {
        opened.map(|o| (o.id, if o.positioned { NewFdFlags::POSITIONED } else { NewFdFlags::empty() }))
    };
    let plain = |result: Result<usize>| result.map(|value| (value, NewFdFlags::empty()));
    let result = match Opcode::try_from_raw(sqe.opcode) {
        Some(Opcode::OpenAt) => new_file(path().and_then(|path| scheme.open(path, a3 as usize, &ctx))),
        Some(Opcode::Read) => {
            let len = (a2 as usize).min(RESPONSE_PAYLOAD_MAX_BYTES);
            response.resize(CQE_BYTES + len, 0);
            let result = match scheme.read(id, &mut response[CQE_BYTES..], a3) {
                Ok(n) if n > len => Err(Error::new(EIO)),
                other => other,
            };
            response.truncate(CQE_BYTES + *result.as_ref().unwrap_or(&0));
            plain(result)
        }
        Some(Opcode::Write) => plain(match scheme.write(id, payload, a3) {
            Ok(n) if n > payload.len() => Err(Error::new(EIO)),
            other => other,
        }),
        Some(Opcode::Fstat) => {
            let mut stat = Stat::default();
            let result = scheme.fstat(id, &mut stat);
            if result.is_ok() {
                response.extend_from_slice(&encode_stat(&stat));
            }
            plain(result.map(|()| 0))
        }
        Some(Opcode::Fsize) => plain(scheme.fsize(id).map(|size| size as usize)),
        Some(Opcode::Fsync) => plain(scheme.fsync(id).map(|()| 0)),
        Some(Opcode::Ftruncate) => plain(scheme.ftruncate(id, sqe.args[1]).map(|()| 0)),
        Some(Opcode::Dup) => new_file(scheme.dup(id, payload, &ctx)),
        Some(Opcode::Close) => {
            scheme.close(id);
            Ok((0, NewFdFlags::empty()))
        }
        Some(Opcode::UnlinkAt) => plain(path().and_then(|path| scheme.unlinkat(path, a3 as usize, &ctx)).map(|()| 0)),
        Some(Opcode::Getdents) => {
            let len = (a2 as usize).min(RESPONSE_PAYLOAD_MAX_BYTES);
            response.resize(CQE_BYTES + len, 0);
            let result = match scheme.getdents(id, &mut response[CQE_BYTES..], a3) {
                Ok(n) if n > len || dirent::check(&response[CQE_BYTES..CQE_BYTES + n]).is_err() => Err(Error::new(EIO)),
                other => other,
            };
            response.truncate(CQE_BYTES + *result.as_ref().unwrap_or(&0));
            plain(result)
        }
        Some(Opcode::Frename) => plain(path().and_then(|path| scheme.frename(id, path, &ctx)).map(|()| 0)),
        Some(Opcode::MmapPrep) => plain(scheme.mmap_prep(id, a1, a2 as usize, a3 as usize, &ctx)),
        Some(Opcode::Munmap) => plain(scheme.munmap(id, a1, a2 as usize, a3 as usize, &ctx).map(|()| 0)),
        Some(Opcode::Msync) => plain(scheme.msync(id, a1, a2 as usize, a3 as usize, &ctx).map(|()| 0)),
        Some(Opcode::Call) if a3 == CALL_PUNCH_HOLE => plain(scheme.punch_hole(id, a1, a2).map(|()| 0)),
        Some(Opcode::Call) if a3 == CALL_LOCK => {
            let [_, _, _, _, kind, owner] = sqe.args;
            let test = kind & LOCK_TEST != 0;
            let lock = FileLock { kind: (kind & 0xFF) as u8 as i16, start: a1, end: a2, owner };
            let result = scheme.lock(id, lock, test);
            if let Ok(Some(held)) = &result {
                response.extend_from_slice(&encode_conflict(held));
            }
            plain(result.map(|held| if held.is_some() { 32 } else { 0 }))
        }
        Some(Opcode::Call) if a3 == CALL_UNLOCK_ALL => {
            scheme.unlock_all(id, sqe.args[5]);
            Ok((0, NewFdFlags::empty()))
        }
        _ => Err(Error::new(EOPNOTSUPP)),
    };
    if oneway {
        return false;
    }
    let (result, flags) = match result {
        Ok((value, flags)) => (Ok(value), flags),
        Err(e) => {
            response.truncate(CQE_BYTES);
            (Err(e), NewFdFlags::empty())
        }
    };
    let cqe = Cqe {
        flags: CqeOpcode::RespondRegular as u8,
        extra_raw: [flags.bits(), 0, 0],
        tag: sqe.tag,
        result: Error::mux(result) as u64,
    };
    response[..CQE_BYTES].copy_from_slice(&cqe);
    true
}

/// A registered scheme's request queue.
pub struct Server {
    fd: usize,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl Server {
    /// Registers `name:`. Errors: `EEXIST` the name is taken, `EINVAL` a
    /// bad name (`tessera_abi::scheme::valid_name`), `EMFILE`.
    pub fn register(name: &str) -> Result<Self> {
        let fd = sys::open(&alloc::format!(":{name}"), O_CREAT | O_RDWR | O_CLOEXEC)?;
        Ok(Self { fd, request: vec![0; MESSAGE_MAX_BYTES], response: Vec::with_capacity(MESSAGE_MAX_BYTES) })
    }

    /// The queue's fd (closing it ends the scheme).
    pub fn fd(&self) -> usize {
        self.fd
    }

    /// Waits for one request and answers it. Errors are the queue read's
    /// (a failed answer is reported on fd 2 and the loop goes on).
    pub fn serve_one(&mut self, scheme: &mut impl Scheme) -> Result<()> {
        let n = sys::read(self.fd, &mut self.request)?;
        if answer(scheme, &self.request[..n], &mut self.response)
            && let Err(e) = sys::write(self.fd, &self.response)
        {
            crate::eprintln!("scheme: the kernel refused a response: {e}");
        }
        Ok(())
    }

    /// Serves requests until reading the queue fails; returns that error.
    pub fn run(&mut self, scheme: &mut impl Scheme) -> Error {
        loop {
            if let Err(e) = self.serve_one(scheme) {
                return e;
            }
        }
    }
}

/// Takes back memory `[start, start + len)` of this daemon that it may have
/// lent through fmap (page aligned): the kernel drops those pages from
/// every mapping of every process, TLBs flushed, before this returns. Make
/// the pages inaccessible first (`PROT_NONE`), so that a fetch after the
/// call finds nothing (the client gets SIGBUS); reuse the memory only after
/// it. EINVAL misaligned or not the fd of a scheme queue. See
/// `tessera_abi::scheme` ("Taking lent pages back").
pub fn take_back(queue_fd: usize, start: usize, len: usize) -> Result<()> {
    sys::write(queue_fd, &tessera_abi::scheme::encode_take_back(start as u64, len as u64)).map(drop)
}

/// [`take_back`] for a page cache evicting `[start, start + len)` (at most
/// `tessera_abi::scheme::EVICT_MAX_BYTES`): only the pages that show this
/// daemon's frames are dropped; private copies stay. Make the pages
/// read-only first, so that a fetch after the call asks for them again
/// (MmapPrep) instead of taking the old frame (docs/fmap.md).
pub fn evict(queue_fd: usize, start: usize, len: usize) -> Result<()> {
    sys::write(queue_fd, &tessera_abi::scheme::encode_evict(start as u64, len as u64)).map(drop)
}

/// Registers `name:` and serves it with `scheme` until the queue fails;
/// returns the error that stopped it (registration's, or the queue's).
pub fn serve(name: &str, scheme: &mut impl Scheme) -> Error {
    match Server::register(name) {
        Ok(mut server) => server.run(scheme),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use tessera_abi::error::EBADF;
    use tessera_abi::scheme::{ROOT_ID, STAT_BYTES, Sqe, decode_stat, split_response};

    use super::*;

    /// One file, "f", kept in memory.
    #[derive(Default)]
    struct OneFile {
        data: Vec<u8>,
        closed: Vec<usize>,
    }

    impl Scheme for OneFile {
        fn open(&mut self, path: &str, _flags: usize, ctx: &CallerCtx) -> Result<Opened> {
            match path {
                "f" => Ok(Opened { id: 7, positioned: true }),
                "pid" => Ok(Opened { id: ctx.pid, positioned: false }),
                _ => Err(Error::new(ENOENT)),
            }
        }
        fn read(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
            if id != 7 {
                return Err(Error::new(EBADF));
            }
            let rest = self.data.get(offset as usize..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
        fn write(&mut self, _id: usize, buf: &[u8], offset: u64) -> Result<usize> {
            let end = offset as usize + buf.len();
            if self.data.len() < end {
                self.data.resize(end, 0);
            }
            self.data[offset as usize..end].copy_from_slice(buf);
            Ok(buf.len())
        }
        fn fstat(&mut self, _id: usize, stat: &mut Stat) -> Result<()> {
            stat.st_size = self.data.len() as u64;
            stat.st_mode = 0o100644;
            Ok(())
        }
        fn close(&mut self, id: usize) {
            self.closed.push(id);
        }
    }

    fn request(opcode: Opcode, flags: SqeFlags, args: [u64; 6], payload: &[u8]) -> Vec<u8> {
        let sqe = Sqe { opcode: opcode as u8, sqe_flags: flags, _rsvd: 0, tag: 99, args, caller: 5 };
        let mut bytes = sqe.to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    /// Answers one request: (result, extra flags, payload).
    fn ask(scheme: &mut OneFile, opcode: Opcode, args: [u64; 6], payload: &[u8]) -> (Result<usize>, u8, Vec<u8>) {
        let mut response = Vec::new();
        assert!(answer(scheme, &request(opcode, SqeFlags::empty(), args, payload), &mut response));
        let (cqe, payload) = split_response(&response).expect("a whole header");
        assert_eq!((cqe.tag, cqe.flags), (99, 0));
        (Error::demux(cqe.result as usize), cqe.extra_raw[0], payload.to_vec())
    }

    #[test]
    fn open_read_write_stat() {
        let mut scheme = OneFile::default();
        let open = [ROOT_ID, 0, 1, O_RDWR as u64, 0, 0];
        assert_eq!(ask(&mut scheme, Opcode::OpenAt, open, b"f"), (Ok(7), NewFdFlags::POSITIONED.bits(), Vec::new()));
        assert_eq!(ask(&mut scheme, Opcode::OpenAt, open, b"pid"), (Ok(5), 0, Vec::new()));
        assert_eq!(ask(&mut scheme, Opcode::OpenAt, open, b"nope").0, Err(Error::new(ENOENT)));
        assert_eq!(ask(&mut scheme, Opcode::OpenAt, open, b"\xff").0, Err(Error::new(EINVAL)));

        assert_eq!(ask(&mut scheme, Opcode::Write, [7, 0, 5, 2, 0, 0], b"hello").0, Ok(5));
        assert_eq!(ask(&mut scheme, Opcode::Read, [7, 0, 4, 3, 0, 0], b""), (Ok(4), 0, b"ello".to_vec()));
        assert_eq!(ask(&mut scheme, Opcode::Read, [7, 0, 100, 7, 0, 0], b""), (Ok(0), 0, Vec::new()));
        let (result, _, payload) = ask(&mut scheme, Opcode::Read, [1, 0, 4, 0, 0, 0], b"");
        assert_eq!((result, payload.len()), (Err(Error::new(EBADF)), 0), "errors carry no payload");

        let (result, _, payload) = ask(&mut scheme, Opcode::Fstat, [7, 0, STAT_BYTES as u64, 0, 0, 0], b"");
        assert_eq!(result, Ok(0));
        let stat = decode_stat(&payload).expect("a Stat");
        assert_eq!((stat.st_size, stat.st_mode), (7, 0o100644));
        assert_eq!(ask(&mut scheme, Opcode::Fsize, [7, 0, 0, 0, 0, 0], b"").0, Ok(7), "fsize defaults to fstat's");
    }

    #[test]
    fn defaults_and_unknown_requests() {
        let mut scheme = OneFile::default();
        let eopnotsupp = Err(Error::new(EOPNOTSUPP));
        assert_eq!(ask(&mut scheme, Opcode::Fsync, [7, 0, 0, 0, 0, 0], b"").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Ftruncate, [7, 3, 0, 0, 0, 0], b"").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Dup, [7, 0, 1, 0, 0, 0], b"x").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Fpath, [7, 0, 0, 0, 0, 0], b"").0, eopnotsupp);
    }

    #[test]
    fn directory_and_fmap_requests_default_to_eopnotsupp() {
        let mut scheme = OneFile::default();
        let eopnotsupp = Err(Error::new(EOPNOTSUPP));
        assert_eq!(ask(&mut scheme, Opcode::UnlinkAt, [ROOT_ID, 0, 1, 0, 0, 0], b"f").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Getdents, [7, 0, 64, 0, 0, 0], b"").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Frename, [7, 0, 1, 0, 0, 0], b"g").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::MmapPrep, [7, 0, 4096, 0, 0, 0], b"").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Munmap, [7, 0, 4096, 0, 0, 0], b"").0, eopnotsupp);
        assert_eq!(ask(&mut scheme, Opcode::Msync, [7, 0, 4096, 0, 0, 0], b"").0, eopnotsupp);
    }

    /// A directory of three names, and a log of the other calls.
    #[derive(Default)]
    struct Listing {
        log: Vec<std::string::String>,
        /// getdents writes this many junk bytes instead of records.
        junk: usize,
    }

    const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

    impl Scheme for Listing {
        fn unlinkat(&mut self, path: &str, flags: usize, ctx: &CallerCtx) -> Result<()> {
            self.log.push(std::format!("unlinkat {path} {flags:#x} by {}", ctx.pid));
            if path == "busy" { Err(Error::new(EBADF)) } else { Ok(()) }
        }
        fn getdents(&mut self, id: usize, buf: &mut [u8], opaque: u64) -> Result<usize> {
            if self.junk > 0 {
                buf[..self.junk].fill(0xFF);
                return Ok(self.junk);
            }
            let mut out = dirent::DirentBuf::new(buf, dirent::HEADER_BYTES as u16).expect("header size");
            for (i, name) in NAMES.iter().enumerate().skip(opaque as usize) {
                let entry = dirent::DirEntry {
                    inode: id as u64 + i as u64,
                    next_opaque_id: i as u64 + 1,
                    name,
                    kind: dirent::DirentKind::Regular,
                };
                if out.entry(entry).is_err() {
                    break;
                }
            }
            Ok(out.finalize())
        }
        fn frename(&mut self, id: usize, path: &str, _ctx: &CallerCtx) -> Result<()> {
            self.log.push(std::format!("frename {id} {path}"));
            Ok(())
        }
        fn mmap_prep(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<usize> {
            self.log.push(std::format!("mmap_prep {id} {offset:#x} {size:#x} {flags:#x}"));
            Ok(0x4000_0000 + offset as usize)
        }
        fn munmap(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<()> {
            self.log.push(std::format!("munmap {id} {offset:#x} {size:#x} {flags:#x}"));
            if flags == 1 { Err(Error::new(EIO)) } else { Ok(()) }
        }
        fn msync(&mut self, id: usize, offset: u64, size: usize, flags: usize, _ctx: &CallerCtx) -> Result<()> {
            self.log.push(std::format!("msync {id} {offset:#x} {size:#x} {flags:#x}"));
            Ok(())
        }
    }

    /// `ask` for any scheme.
    fn ask_any(scheme: &mut impl Scheme, opcode: Opcode, args: [u64; 6], payload: &[u8]) -> (Result<usize>, Vec<u8>) {
        let mut response = Vec::new();
        assert!(answer(scheme, &request(opcode, SqeFlags::empty(), args, payload), &mut response));
        let (cqe, payload) = split_response(&response).expect("a whole header");
        (Error::demux(cqe.result as usize), payload.to_vec())
    }

    #[test]
    fn unlinkat_and_frename_get_their_paths() {
        let mut scheme = Listing::default();
        let rmdir = [ROOT_ID, 0, 3, tessera_abi::flag::AT_REMOVEDIR as u64, 0, 0];
        assert_eq!(ask_any(&mut scheme, Opcode::UnlinkAt, rmdir, b"a/b").0, Ok(0));
        assert_eq!(ask_any(&mut scheme, Opcode::UnlinkAt, [ROOT_ID, 0, 4, 0, 0, 0], b"busy").0, Err(Error::new(EBADF)));
        assert_eq!(
            ask_any(&mut scheme, Opcode::UnlinkAt, [ROOT_ID, 0, 1, 0, 0, 0], b"\xff").0,
            Err(Error::new(EINVAL))
        );
        assert_eq!(ask_any(&mut scheme, Opcode::Frename, [3, 0, 5, 0, 0, 0], b"/x/y2").0, Ok(0));
        assert_eq!(ask_any(&mut scheme, Opcode::Frename, [3, 0, 1, 0, 0, 0], b"\xfe").0, Err(Error::new(EINVAL)));
        assert_eq!(scheme.log, ["unlinkat a/b 0x200 by 5", "unlinkat busy 0x0 by 5", "frename 3 /x/y2"]);
    }

    #[test]
    fn getdents_carries_whole_records() {
        let mut scheme = Listing::default();
        let (result, payload) = ask_any(&mut scheme, Opcode::Getdents, [9, 0, 4096, 0, 0, 0], b"");
        let names: Vec<&[u8]> = dirent::entries(&payload).map(|e| e.expect("well-formed").name).collect();
        assert_eq!((result, names), (Ok(payload.len()), std::vec![&b"alpha"[..], b"beta", b"gamma"]));

        // Room for one record at a time: the opaque ids walk the listing.
        let one = dirent::record_bytes(5) as u64;
        let (result, payload) = ask_any(&mut scheme, Opcode::Getdents, [9, 0, one, 1, 0, 0], b"");
        let entry = dirent::entries(&payload).next().expect("a record").expect("well-formed");
        assert_eq!(
            (result, entry.name, entry.next_opaque_id, entry.inode),
            (Ok(dirent::record_bytes(4)), &b"beta"[..], 2, 10)
        );
        assert_eq!(ask_any(&mut scheme, Opcode::Getdents, [9, 0, 4096, 3, 0, 0], b""), (Ok(0), Vec::new()));

        scheme.junk = 24;
        assert_eq!(
            ask_any(&mut scheme, Opcode::Getdents, [9, 0, 4096, 0, 0, 0], b""),
            (Err(Error::new(EIO)), Vec::new())
        );
    }

    #[test]
    fn fmap_requests_reach_the_scheme() {
        let mut scheme = Listing::default();
        let prot_read_shared = 0x0004_0001;
        assert_eq!(
            ask_any(&mut scheme, Opcode::MmapPrep, [4, 0x2000, 0x3000, prot_read_shared, 0, 0], b"").0,
            Ok(0x4000_2000)
        );
        assert_eq!(ask_any(&mut scheme, Opcode::Msync, [4, 0x2000, 0x1000, 4, 0, 0], b"").0, Ok(0));
        assert_eq!(ask_any(&mut scheme, Opcode::Munmap, [4, 0x2000, 0x3000, 1, 0, 0], b"").0, Err(Error::new(EIO)));

        // One-way (a process's exit): served, never answered.
        let mut response = Vec::new();
        let oneway = request(Opcode::Munmap, SqeFlags::ONEWAY, [4, 0, 0x1000, 0, 0, 0], b"");
        assert!(!answer(&mut scheme, &oneway, &mut response));
        assert_eq!(
            scheme.log,
            [
                "mmap_prep 4 0x2000 0x3000 0x40001",
                "msync 4 0x2000 0x1000 0x4",
                "munmap 4 0x2000 0x3000 0x1",
                "munmap 4 0x0 0x1000 0x0"
            ]
        );
    }

    #[test]
    fn oneway_close_gets_no_answer() {
        let mut scheme = OneFile::default();
        let mut response = Vec::new();
        let close = request(Opcode::Close, SqeFlags::ONEWAY, [7, 0, 0, 0, 0, 0], b"");
        assert!(!answer(&mut scheme, &close, &mut response));
        assert_eq!(scheme.closed, [7]);
        assert!(!answer(&mut scheme, &close[..10], &mut response), "too short to answer");
    }
}
