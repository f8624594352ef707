//! The user-scheme wire format: how a daemon and the kernel talk through
//! the daemon's request queue (the fd from `open(":name", O_CREAT | O_RDWR)`
//! on the root scheme `:`). `docs/schemes.md` tells the whole story; this
//! module is the byte-level contract.
//!
//! The fixed parts are Redox's scheme-v2 types, used as they are:
//! [`Sqe`] (request, 64 bytes) and [`Cqe`] (response, 16 bytes), with
//! Redox's [`Opcode`] numbers. What Tessera adds is the **inline payload**:
//! Redox's daemons reach the caller's buffer through the kernel's mappings,
//! Tessera's get the bytes in the message instead.
//!
//! - **Requests**: one `read` of the queue fd returns one message: the
//!   [`Sqe`]'s bytes, then its payload (the path of an open, the bytes of a
//!   write, the name of a dup) — the rest of what `read` returned. The read
//!   buffer must hold [`MESSAGE_MAX_BYTES`], else EINVAL (the request stays
//!   queued). The queue blocks while empty, or gives EAGAIN if it was opened
//!   with `O_NONBLOCK`.
//! - **Responses**: one `write` of the queue fd is one message: the
//!   [`Cqe`]'s bytes, then its payload (the bytes a read returns, a
//!   [`Stat`]), at most [`MESSAGE_MAX_BYTES`] in all. `Cqe::tag` names the
//!   request; `Cqe::result` is the value or `-errno` ([`Error::mux`]);
//!   `Cqe::flags` is [`CqeOpcode::RespondRegular`] (0), the only kind
//!   Tessera takes; for an open or a dup `extra_raw[0]` may hold
//!   [`NewFdFlags::POSITIONED`].
//!
//! # Requests the kernel sends
//! `args` keep Redox's positions; the pointer argument is 0 because the
//! bytes are inline, and `len` is the payload's length (or the most bytes
//! the response may carry).
//!
//! | opcode | `args` | payload in | response: `result`, payload |
//! |---|---|---|---|
//! | [`Opcode::OpenAt`] | [`ROOT_ID`], 0, path len, `O_*` flags | path (UTF-8, may be empty) | the daemon's id for the file; `extra_raw[0]`: [`NewFdFlags`] |
//! | [`Opcode::Read`] | id, 0, len, offset | — | bytes read `n` ≤ len; payload: those `n` bytes |
//! | [`Opcode::Write`] | id, 0, len, offset | `len` bytes | bytes taken (≤ len) |
//! | [`Opcode::Fstat`] | id, 0, [`STAT_BYTES`] | — | 0; payload: a [`Stat`] ([`encode_stat`]) |
//! | [`Opcode::Fsize`] | id | — | the file's size (for `lseek(SEEK_END)`) |
//! | [`Opcode::Fsync`] | id | — | 0 |
//! | [`Opcode::Ftruncate`] | id, new len | — | 0 |
//! | [`Opcode::Dup`] | id, 0, name len | name (Redox's named dup) | a new id, as for open |
//! | [`Opcode::Close`] | id | — | none: sent with [`SqeFlags::ONEWAY`] |
//! | [`Opcode::UnlinkAt`] | [`ROOT_ID`], 0, path len, flags (0 or `AT_REMOVEDIR`) | path | 0 |
//! | [`Opcode::Getdents`] | id, 0, len, opaque | — | bytes `n` ≤ len; payload: those `n` bytes, whole [`crate::dirent`] records (checked: EIO to the caller if malformed) |
//! | [`Opcode::Frename`] | id, 0, path len | the new path | 0 |
//! | [`Opcode::MmapPrep`] | id, offset, size, `MapFlags` bits (`PROT_*` included) | — | a non-zero, page-aligned address in the daemon's own address space holding the file page at `offset` |
//! | [`Opcode::Munmap`] | id, offset, size, [`MunmapFlags`] bits | — | 0; sent [`SqeFlags::ONEWAY`] (no response) when a process's mappings go at its exit |
//! | [`Opcode::Msync`] | id, offset, size, `MS_*` flags (`ASYNC` 1, `INVALIDATE` 2, `SYNC` 4) | — | 0 |
//! | [`Opcode::Call`] with `args[3]` = [`CALL_PUNCH_HOLE`] | id, offset, len, 1 | — | 0: bytes `[offset, offset + len)` of the file read as zeroes afterwards, its size unchanged (Linux's `fallocate(PUNCH_HOLE \| KEEP_SIZE)`); pages lent from there are taken back first; EOPNOTSUPP if the scheme cannot |
//!
//! The last three are the fmap protocol: the kernel asks `MmapPrep` when a
//! process maps a file and borrows the frames at the returned address from
//! the daemon that answered; `Munmap` (with `NEEDS_SYNC` when the mapping
//! was shared and writable: write back first) and `Msync` follow. Offsets
//! are page-aligned; `size` is in bytes (a daemon counts the pages it
//! covers, rounded up). Unlike the other rows, these `args` are in
//! Tessera's order (id, offset, size, flags); Redox's `redox-scheme` reads
//! MmapPrep/Munmap as id, size, flags, offset. Getdents too differs: Redox
//! passes the header size in `args[3]` and the opaque id in `args[4]`;
//! Tessera's header size is fixed, and the opaque id is `args[3]`.
//!
//! # Taking lent pages back (daemon → kernel)
//! The one message a daemon sends on its own: a `write` of the queue fd
//! whose [`Cqe`] has `flags` = [`CQE_TAKE_BACK`] (7: outside Redox's
//! [`CqeOpcode`] values), `tag` 0, `result` 0, and a 16-byte payload: the
//! start and the length of a range of the daemon's own address space,
//! page aligned ([`encode_take_back`]). The kernel drops every page any
//! lease lent from that memory from every address space that maps it
//! (shared pages, private pages and their copies), flushes the TLBs, and
//! only then returns from the `write` (the message's length; EINVAL if
//! malformed or misaligned). The daemon first makes the pages inaccessible
//! in its own space (`PROT_NONE`, unmapped) or puts their new contents in
//! place, so that a fetch after the call finds that; after it, no mapping
//! holds the old frames. ramfs sends it when a truncate shrinks a file
//! (docs/fmap.md).
//!
//! With `flags` = [`CQE_EVICT`] (8) instead, same payload ([`encode_evict`]),
//! the daemon's page cache evicts the pages: the kernel drops only the
//! pages that show the daemon's frames (every page of a shared mapping,
//! the pages of a private one not copied yet); private copies stay, as
//! they are the process's own. At most [`EVICT_MAX_BYTES`] per message
//! (EINVAL beyond): the kernel reads the daemon's frame of each page.
//!
//! `Sqe::caller` is the calling process's pid. A daemon answers an opcode
//! it does not know with `-EOPNOTSUPP`, and never answers a ONEWAY request.
//!
//! **Offsets** are the kernel's, as in Redox: when the open's response sets
//! [`NewFdFlags::POSITIONED`], the kernel keeps the file offset of the open
//! file description, passes it with every read and write and answers
//! `lseek` itself (asking [`Opcode::Fsize`] for `SEEK_END`); otherwise the
//! offset passed is 0 and `lseek` fails with ESPIPE.
//!
//! **Sizes**: a request or response is at most [`MESSAGE_MAX_BYTES`]
//! (the kernel's per-call copy chunk). A larger `write` is split by the
//! kernel into several Write requests; a larger `read` gets a short count
//! (at most [`RESPONSE_PAYLOAD_MAX_BYTES`]), as POSIX allows.
//!
//! **Checks**: [`response`] is how the kernel checks each response against
//! its request; a daemon whose response fails them gets EINVAL from its
//! `write`, and the caller EIO.

pub mod response;

use core::mem::{offset_of, size_of};

pub use syscall::flag::MunmapFlags;
pub use syscall::schemev2::{CallerCtx, Cqe, CqeOpcode, NewFdFlags, Opcode, Sqe, SqeFlags};

#[cfg(doc)]
use crate::Error;
use crate::Stat;

/// Bytes of a request header ([`Sqe`]).
pub const SQE_BYTES: usize = size_of::<Sqe>();
/// Bytes of a response header ([`Cqe`]).
pub const CQE_BYTES: usize = size_of::<Cqe>();
/// Largest message (header + payload) in either direction; also the least
/// a daemon's read of its queue must ask for.
pub const MESSAGE_MAX_BYTES: usize = 64 * 1024;
/// Largest payload of a request (a write's bytes, a path).
pub const REQUEST_PAYLOAD_MAX_BYTES: usize = MESSAGE_MAX_BYTES - SQE_BYTES;
/// Largest payload of a response (a read's bytes).
pub const RESPONSE_PAYLOAD_MAX_BYTES: usize = MESSAGE_MAX_BYTES - CQE_BYTES;
/// Bytes of an encoded [`Stat`]: the `#[repr(C)]` struct's size.
pub const STAT_BYTES: usize = size_of::<Stat>();
/// `args[0]` of an OpenAt the kernel sends: the path is relative to the
/// scheme's root (there are no directory fds into user schemes yet).
pub const ROOT_ID: u64 = u64::MAX;
/// Longest scheme name.
pub const NAME_MAX_BYTES: usize = 64;

// A Stat always fits in a response.
const _: () = assert!(STAT_BYTES <= RESPONSE_PAYLOAD_MAX_BYTES);

/// Whether `name` may name a scheme: 1 to [`NAME_MAX_BYTES`] bytes of
/// printable ASCII other than space, `:` and `/`.
pub fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX_BYTES).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic() && b != b':' && b != b'/')
}

/// The request header at the start of `bytes`, and the payload after it;
/// `None` if `bytes` is shorter than a header.
pub fn split_request(bytes: &[u8]) -> Option<(Sqe, &[u8])> {
    let (head, payload) = bytes.split_at_checked(SQE_BYTES)?;
    let mut sqe = Sqe::default();
    sqe.copy_from_slice(head);
    Some((sqe, payload))
}

/// `args[3]` of an [`Opcode::Call`] that punches a hole in a file (Tessera's
/// only `Call`; see the module docs' table). `madvise(MADV_REMOVE)` of a
/// shared file mapping sends it.
pub const CALL_PUNCH_HOLE: u64 = 1;

/// `Cqe::flags` of a daemon's take-back message (see the module docs).
pub const CQE_TAKE_BACK: u8 = 7;
/// `Cqe::flags` of a daemon's eviction message: a take back that keeps
/// private copies (see the module docs).
pub const CQE_EVICT: u8 = 8;
/// The largest range one eviction message may name.
pub const EVICT_MAX_BYTES: u64 = 2 << 20;
/// Bytes of a take-back message: the [`Cqe`] and the range.
pub const TAKE_BACK_BYTES: usize = CQE_BYTES + 16;

/// A take-back message for the daemon's memory `[start, start + len)`.
pub fn encode_take_back(start: u64, len: u64) -> [u8; TAKE_BACK_BYTES] {
    encode_range(CQE_TAKE_BACK, start, len)
}

/// An eviction message for the daemon's memory `[start, start + len)`.
pub fn encode_evict(start: u64, len: u64) -> [u8; TAKE_BACK_BYTES] {
    encode_range(CQE_EVICT, start, len)
}

fn encode_range(flags: u8, start: u64, len: u64) -> [u8; TAKE_BACK_BYTES] {
    let mut message = [0u8; TAKE_BACK_BYTES];
    let cqe = Cqe { flags, ..Cqe::default() };
    message[..CQE_BYTES].copy_from_slice(&cqe);
    message[CQE_BYTES..CQE_BYTES + 8].copy_from_slice(&start.to_le_bytes());
    message[CQE_BYTES + 8..].copy_from_slice(&len.to_le_bytes());
    message
}

/// The range of a take-back or eviction message (`cqe` and its payload),
/// `None` if it is not one or is malformed (tag or result not 0, payload
/// not 16 bytes).
pub fn decode_take_back(cqe: &Cqe, payload: &[u8]) -> Option<(u64, u64)> {
    if !matches!(cqe.flags, CQE_TAKE_BACK | CQE_EVICT) || cqe.tag != 0 || cqe.result != 0 || payload.len() != 16 {
        return None;
    }
    let (start, len) = payload.split_at(8);
    Some((u64::from_le_bytes(start.try_into().ok()?), u64::from_le_bytes(len.try_into().ok()?)))
}

/// The response header at the start of `bytes`, and the payload after it;
/// `None` if `bytes` is shorter than a header.
pub fn split_response(bytes: &[u8]) -> Option<(Cqe, &[u8])> {
    let (head, payload) = bytes.split_at_checked(CQE_BYTES)?;
    let mut cqe = Cqe::default();
    cqe.copy_from_slice(head);
    Some((cqe, payload))
}

/// Calls `$m!(field)` for every field of [`Stat`].
macro_rules! stat_fields {
    ($m:ident) => {
        $m!(st_dev);
        $m!(st_ino);
        $m!(st_mode);
        $m!(st_nlink);
        $m!(st_uid);
        $m!(st_gid);
        $m!(st_size);
        $m!(st_blksize);
        $m!(st_blocks);
        $m!(st_mtime);
        $m!(st_mtime_nsec);
        $m!(st_atime);
        $m!(st_atime_nsec);
        $m!(st_ctime);
        $m!(st_ctime_nsec);
    };
}

/// `stat` as the bytes of the `#[repr(C)]` struct Redox passes, with zero
/// padding (field by field, so no uninitialised padding is ever read).
pub fn encode_stat(stat: &Stat) -> [u8; STAT_BYTES] {
    let mut out = [0u8; STAT_BYTES];
    macro_rules! put {
        ($field:ident) => {{
            let bytes = stat.$field.to_ne_bytes();
            let at = offset_of!(Stat, $field);
            out[at..at + bytes.len()].copy_from_slice(&bytes);
        }};
    }
    stat_fields!(put);
    out
}

/// The [`Stat`] in `bytes` (from [`encode_stat`]); `None` unless `bytes`
/// is exactly [`STAT_BYTES`] long.
pub fn decode_stat(bytes: &[u8]) -> Option<Stat> {
    if bytes.len() != STAT_BYTES {
        return None;
    }
    let mut stat = Stat::default();
    macro_rules! get {
        ($field:ident) => {{
            let at = offset_of!(Stat, $field);
            let size = core::mem::size_of_val(&stat.$field);
            stat.$field = FromNe::from_ne(&bytes[at..at + size]);
        }};
    }
    stat_fields!(get);
    Some(stat)
}

/// Integers read back from native-endian bytes of their exact size.
trait FromNe {
    fn from_ne(bytes: &[u8]) -> Self;
}

macro_rules! from_ne {
    ($($t:ty),*) => {$(
        impl FromNe for $t {
            fn from_ne(bytes: &[u8]) -> Self {
                <$t>::from_ne_bytes(bytes.try_into().expect("the field's size"))
            }
        }
    )*};
}
from_ne!(u16, u32, u64);

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn take_back_messages_round_trip_and_others_are_not_one() {
        let message = encode_take_back(0x4000_0000, 3 * 4096);
        let (cqe, payload) = split_response(&message).expect("long enough");
        assert_eq!(decode_take_back(&cqe, payload), Some((0x4000_0000, 3 * 4096)));
        assert_eq!(decode_take_back(&cqe, &payload[..15]), None);
        let regular = Cqe { flags: 0, ..cqe };
        assert_eq!(decode_take_back(&regular, payload), None);
        let tagged = Cqe { tag: 1, ..cqe };
        assert_eq!(decode_take_back(&tagged, payload), None);
        let message = encode_evict(0x4000_0000, 4096);
        let (cqe, payload) = split_response(&message).expect("long enough");
        assert_eq!(cqe.flags, CQE_EVICT);
        assert_eq!(decode_take_back(&cqe, payload), Some((0x4000_0000, 4096)));
        let other = Cqe { flags: CQE_EVICT + 1, ..cqe };
        assert_eq!(decode_take_back(&other, payload), None);
    }

    #[test]
    fn header_sizes_are_redox_s() {
        assert_eq!(SQE_BYTES, 64);
        assert_eq!(CQE_BYTES, 16);
    }

    #[test]
    fn messages_round_trip() {
        let sqe = Sqe {
            opcode: Opcode::Write as u8,
            sqe_flags: SqeFlags::ONEWAY,
            _rsvd: 0,
            tag: 7,
            args: [1, 0, 3, 9, 0, 0],
            caller: 42,
        };
        let mut message = sqe.to_vec();
        message.extend_from_slice(b"abc");
        let (back, payload) = split_request(&message).expect("long enough");
        assert_eq!((back.opcode, back.tag, back.args, back.caller), (6, 7, [1, 0, 3, 9, 0, 0], 42));
        assert!(back.sqe_flags.contains(SqeFlags::ONEWAY));
        assert_eq!(payload, b"abc");
        assert!(split_request(&message[..SQE_BYTES - 1]).is_none());

        let cqe = Cqe { flags: 0, extra_raw: [1, 0, 0], tag: 7, result: 5 };
        let (back, payload) = split_response(&cqe).expect("long enough");
        assert_eq!((back.tag, back.result, back.extra()), (7, 5, 1));
        assert!(payload.is_empty());
    }

    #[test]
    fn stat_round_trips() {
        let stat = Stat {
            st_dev: 1,
            st_ino: 2,
            st_mode: 0o100644,
            st_nlink: 3,
            st_uid: 4,
            st_gid: 5,
            st_size: 6,
            st_blksize: 7,
            st_blocks: 8,
            st_mtime: 9,
            st_mtime_nsec: 10,
            st_atime: 11,
            st_atime_nsec: 12,
            st_ctime: 13,
            st_ctime_nsec: 14,
        };
        let bytes = encode_stat(&stat);
        assert_eq!(decode_stat(&bytes), Some(stat));
        assert_eq!(decode_stat(&bytes[1..]), None);
    }

    #[test]
    fn names() {
        assert!(valid_name("kv"));
        assert!(valid_name("disk.live-0"));
        for bad in ["", "a:b", "a/b", "a b", "é", "\n"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(!valid_name(&"x".repeat(NAME_MAX_BYTES + 1)));
    }
}
