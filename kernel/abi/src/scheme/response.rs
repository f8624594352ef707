//! The kernel's check of a daemon's response against the request it
//! answers (docs/schemes.md, "Checks"): a response that breaks the protocol
//! is [`Malformed`] — the daemon's `write` of it fails with EINVAL and the
//! call it answers with EIO — and a well-formed one gives the caller its
//! value, flags and payload, or the daemon's own error.
//!
//! Which request a response answers (its tag: a known request, read by the
//! daemon, not answered yet) is the kernel's queue's business
//! (`kernel/src/scheme/user.rs`); this module is what can be said from the
//! bytes and the request's kind alone.

use syscall::error::{EINVAL, EIO};

use super::{Cqe, CqeOpcode, MESSAGE_MAX_BYTES, NewFdFlags, STAT_BYTES};
use crate::{Error, Result, dirent};

/// What a response to a request may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A value, no payload (Fsize, Fsync, Ftruncate, UnlinkAt, Frename,
    /// Munmap, Msync).
    Value,
    /// A count of at most this many bytes, no payload (Write).
    Count(usize),
    /// A new id and `NewFdFlags` in `extra_raw[0]` (OpenAt, Dup).
    NewId,
    /// As many bytes as the value says, at most this many (Read).
    Bytes(usize),
    /// A [`crate::Stat`] of [`STAT_BYTES`] (Fstat).
    Stat,
    /// At most this many bytes of well-formed directory records
    /// ([`dirent::check`]) (Getdents).
    Dirents(usize),
    /// The answer to `MmapPrep(daemon_id, offset, size)`: a non-zero,
    /// page-aligned address whose `size` bytes (whole pages) lie in the
    /// daemon's user space ([`UserSpace`]), no payload. `daemon_id` and
    /// `offset` are not checked: they let the kernel unmap the range again
    /// if the caller gave up.
    Address { daemon_id: u64, offset: u64, size: u64 },
}

/// The user half of an address space, where an MmapPrep answer must lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSpace {
    /// The page size the address must be aligned to.
    pub page_bytes: u64,
    /// The first address past user space.
    pub end: u64,
}

/// A response that breaks the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl Malformed {
    /// What the daemon's `write` of the response returns: EINVAL.
    pub fn daemon_error(self) -> Error {
        Error::new(EINVAL)
    }

    /// What the call the response answers returns: EIO.
    pub fn caller_error(self) -> Error {
        Error::new(EIO)
    }
}

/// A well-formed, successful response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// `Cqe::result`: the count, id, size or address.
    pub value: usize,
    /// For [`Expect::NewId`], the flags in `extra_raw[0]` (unknown bits
    /// dropped); empty otherwise.
    pub flags: NewFdFlags,
    /// The bytes after the header.
    pub payload: &'a [u8],
}

/// The header and payload of the response message `bytes` (one `write`
/// of the daemon's queue); [`Malformed`] if it is shorter than a [`Cqe`]
/// or longer than [`MESSAGE_MAX_BYTES`].
pub fn split(bytes: &[u8]) -> core::result::Result<(Cqe, &[u8]), Malformed> {
    if bytes.len() > MESSAGE_MAX_BYTES {
        return Err(Malformed);
    }
    super::split_response(bytes).ok_or(Malformed)
}

/// Checks a response (`cqe` and its `payload`) against what its request
/// allows (`expect`); `Ok(Err(e))` is the daemon's own error `e` (an error
/// carries no payload).
pub fn check<'a>(
    cqe: &Cqe,
    payload: &'a [u8],
    expect: Expect,
    space: UserSpace,
) -> core::result::Result<Result<Response<'a>>, Malformed> {
    if CqeOpcode::try_from_raw(cqe.flags & 0b111) != Some(CqeOpcode::RespondRegular) {
        return Err(Malformed);
    }
    let value = match Error::demux(cqe.result as usize) {
        Ok(value) => value,
        Err(error) if payload.is_empty() => return Ok(Err(error)),
        Err(_) => return Err(Malformed),
    };
    let ok = match expect {
        Expect::Value | Expect::NewId => payload.is_empty(),
        Expect::Count(max) => payload.is_empty() && value <= max,
        Expect::Bytes(max) => value <= max && payload.len() == value,
        Expect::Stat => payload.len() == STAT_BYTES,
        Expect::Dirents(max) => value <= max && payload.len() == value && dirent::check(payload).is_ok(),
        // The whole lent range must lie in the lender's user space (a
        // range that wraps or reaches the kernel half is malformed).
        Expect::Address { size, .. } => {
            payload.is_empty()
                && value != 0
                && (value as u64).is_multiple_of(space.page_bytes)
                && (value as u64)
                    .checked_add(size)
                    .and_then(|end| end.checked_next_multiple_of(space.page_bytes))
                    .is_some_and(|end| end <= space.end)
        }
    };
    if !ok {
        return Err(Malformed);
    }
    let flags = match expect {
        Expect::NewId => NewFdFlags::from_bits_truncate(cqe.extra_raw[0]),
        _ => NewFdFlags::empty(),
    };
    Ok(Ok(Response { value, flags, payload }))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use syscall::error::{EAGAIN, ENOENT, EOPNOTSUPP};

    use super::*;
    use crate::dirent::{DirEntry, DirentBuf, DirentKind, HEADER_BYTES};
    use crate::scheme::{CQE_BYTES, encode_stat};

    const PAGE: u64 = 4096;
    /// The kernel's user space: 47 bits on both arches.
    const SPACE: UserSpace = UserSpace { page_bytes: PAGE, end: 1 << 47 };
    const MMAP: Expect = Expect::Address { daemon_id: 3, offset: 0, size: 2 * PAGE };

    fn cqe(result: u64, extra: u8) -> Cqe {
        Cqe { flags: CqeOpcode::RespondRegular as u8, extra_raw: [extra, 0, 0], tag: 7, result }
    }

    /// `-errno` as `Cqe::result` carries it.
    fn err(errno: i32) -> u64 {
        Error::mux(Err(Error::new(errno))) as u64
    }

    fn checked(
        result: u64,
        extra: u8,
        payload: &[u8],
        expect: Expect,
    ) -> core::result::Result<Result<Response<'_>>, Malformed> {
        check(&cqe(result, extra), payload, expect, SPACE)
    }

    /// The value, flags and payload of a successful response.
    fn ok(result: u64, extra: u8, payload: &[u8], expect: Expect) -> (usize, NewFdFlags, Vec<u8>) {
        let response = checked(result, extra, payload, expect).expect("well-formed").expect("a success");
        (response.value, response.flags, response.payload.into())
    }

    fn malformed(result: u64, extra: u8, payload: &[u8], expect: Expect) -> bool {
        checked(result, extra, payload, expect) == Err(Malformed)
    }

    /// Two records written by Redox's writer, as daemons write them.
    fn records() -> Vec<u8> {
        let mut buf = vec![0u8; 256];
        let mut writer = DirentBuf::new(&mut buf[..], HEADER_BYTES as u16).expect("header size");
        for (i, name) in ["a", "bc"].into_iter().enumerate() {
            writer
                .entry(DirEntry { inode: 1, next_opaque_id: i as u64 + 1, name, kind: DirentKind::Regular })
                .expect("room");
        }
        let n = writer.finalize();
        buf.truncate(n);
        buf
    }

    #[test]
    fn splits_whole_messages_only() {
        let mut message = cqe(5, 0).to_vec();
        message.extend_from_slice(b"xyz");
        let (back, payload) = split(&message).expect("a header and payload");
        assert_eq!((back.tag, back.result), (7, 5));
        assert_eq!(payload, b"xyz");
        assert_eq!(split(&message[..CQE_BYTES - 1]).err(), Some(Malformed), "short");
        assert_eq!(split(&[]).err(), Some(Malformed), "empty");
        message.resize(MESSAGE_MAX_BYTES, 0);
        assert!(split(&message).is_ok(), "the largest message");
        message.push(0);
        assert_eq!(split(&message).err(), Some(Malformed), "past the largest message");
    }

    #[test]
    fn each_kind_well_formed() {
        assert_eq!(ok(42, 0, &[], Expect::Value), (42, NewFdFlags::empty(), vec![]));
        assert_eq!(ok(10, 0, &[], Expect::Count(10)), (10, NewFdFlags::empty(), vec![]));
        assert_eq!(ok(0, 0, &[], Expect::Count(10)).0, 0);
        // NewId: the flags come from extra_raw[0], unknown bits dropped.
        let positioned = NewFdFlags::POSITIONED.bits();
        assert_eq!(ok(9, positioned, &[], Expect::NewId), (9, NewFdFlags::POSITIONED, vec![]));
        assert_eq!(ok(9, 0xF0 | positioned, &[], Expect::NewId).1, NewFdFlags::POSITIONED);
        assert_eq!(ok(9, 0, &[], Expect::NewId).1, NewFdFlags::empty());
        // Other kinds ignore extra_raw.
        assert_eq!(ok(1, positioned, &[], Expect::Value).1, NewFdFlags::empty());
        assert_eq!(ok(3, 0, b"abc", Expect::Bytes(8)), (3, NewFdFlags::empty(), b"abc".to_vec()));
        assert_eq!(ok(0, 0, &[], Expect::Bytes(8)).2, b"");
        let stat = encode_stat(&crate::Stat { st_size: 77, ..Default::default() });
        assert_eq!(ok(0, 0, &stat, Expect::Stat).2, stat.to_vec());
        let dirents = records();
        assert_eq!(ok(dirents.len() as u64, 0, &dirents, Expect::Dirents(256)).2, dirents);
        assert_eq!(ok(0, 0, &[], Expect::Dirents(256)).2, b"", "the end of the directory");
        assert_eq!(ok(0x7000_0000, 0, &[], MMAP).0, 0x7000_0000);
        // The last two pages of user space.
        assert_eq!(ok((1 << 47) - 2 * PAGE, 0, &[], MMAP).0, (1 << 47) - 2 * PAGE as usize);
        // A size that is not whole pages covers its last page.
        let partial = Expect::Address { daemon_id: 3, offset: 0, size: PAGE + 1 };
        assert!(checked((1 << 47) - 2 * PAGE, 0, &[], partial).is_ok());
    }

    #[test]
    fn daemon_errors_pass_through_for_every_kind() {
        let kinds =
            [Expect::Value, Expect::Count(4), Expect::NewId, Expect::Bytes(4), Expect::Stat, Expect::Dirents(64), MMAP];
        for expect in kinds {
            for errno in [ENOENT, EAGAIN, EOPNOTSUPP] {
                let got = checked(err(errno), 0, &[], expect).expect("well-formed");
                assert_eq!(got.map(|r| r.value), Err(Error::new(errno)), "{expect:?}");
            }
            // An error carries no payload.
            assert!(malformed(err(ENOENT), 0, b"x", expect), "{expect:?}");
        }
    }

    #[test]
    fn wrong_response_kinds() {
        for flags in [CqeOpcode::RespondWithFd as u8, CqeOpcode::SendFevent as u8, 6, 7] {
            let response = Cqe { flags, ..cqe(0, 0) };
            assert_eq!(check(&response, &[], Expect::Value, SPACE), Err(Malformed), "kind {flags}");
        }
        // Only the low three bits name the kind.
        let response = Cqe { flags: 0b1000, ..cqe(0, 0) };
        assert!(check(&response, &[], Expect::Value, SPACE).is_ok());
    }

    #[test]
    fn bad_lengths() {
        assert!(malformed(0, 0, b"x", Expect::Value), "a payload where none belongs");
        assert!(malformed(1, 0, b"x", Expect::NewId));
        assert!(malformed(1, 0, b"x", Expect::Count(4)));
        assert!(malformed(0, 0, b"x", MMAP));
        assert!(malformed(2, 0, b"abc", Expect::Bytes(8)), "count shorter than the payload");
        assert!(malformed(4, 0, b"abc", Expect::Bytes(8)), "count longer than the payload");
        assert!(malformed(9, 0, &[0; 9], Expect::Bytes(8)), "more than was asked");
        let stat = encode_stat(&crate::Stat::default());
        assert!(malformed(0, 0, &stat[1..], Expect::Stat), "a short Stat");
        let mut long = stat.to_vec();
        long.push(0);
        assert!(malformed(0, 0, &long, Expect::Stat), "a long Stat");
        assert!(malformed(0, 0, &[], Expect::Stat), "no Stat");
        let dirents = records();
        let n = dirents.len() as u64;
        assert!(malformed(n, 0, &dirents, Expect::Dirents(dirents.len() - 1)), "more than was asked");
        assert!(malformed(n - 1, 0, &dirents, Expect::Dirents(256)), "count and payload disagree");
        assert!(malformed(n - 1, 0, &dirents[..dirents.len() - 1], Expect::Dirents(256)), "a cut record");
    }

    #[test]
    fn values_out_of_range() {
        assert!(malformed(5, 0, &[], Expect::Count(4)), "more written than was given");
        let mut bad_name = records();
        bad_name[HEADER_BYTES] = b'/';
        assert!(malformed(bad_name.len() as u64, 0, &bad_name, Expect::Dirents(256)), "a name with '/'");
        assert!(malformed(0, 0, &[], MMAP), "address 0");
        assert!(malformed(0x7000_0010, 0, &[], MMAP), "unaligned");
        assert!(malformed((1 << 47) - PAGE, 0, &[], MMAP), "past the end of user space");
        assert!(malformed(1 << 47, 0, &[], MMAP), "in the kernel half");
        let huge = Expect::Address { daemon_id: 3, offset: 0, size: u64::MAX - PAGE };
        assert!(malformed(2 * PAGE, 0, &[], huge), "a range that wraps");
        let rounds_past = Expect::Address { daemon_id: 3, offset: 0, size: u64::MAX - 2 * PAGE + 2 };
        assert!(malformed(PAGE, 0, &[], rounds_past), "a range whose rounding up wraps");
    }

    #[test]
    fn malformed_is_einval_for_the_daemon_and_eio_for_the_caller() {
        assert_eq!(Malformed.daemon_error(), Error::new(EINVAL));
        assert_eq!(Malformed.caller_error(), Error::new(EIO));
    }
}
