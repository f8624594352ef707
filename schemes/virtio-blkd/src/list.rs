//! A queue handle's list of writes (docs/drivers.md, "Queued writes"):
//! parsed, and queued with the writes to consecutive sectors joined.
//!
//! Each write of a list is a 16-byte header — the byte offset in the
//! window (`u64`), the bytes that follow (`u32`) and the zero bytes after
//! them (`u32`), little-endian — then those bytes. A write so covers its
//! bytes and its zeros: a file system's block that holds a short record
//! and a zero tail crosses the scheme with the record alone, and the
//! driver writes the zeros. (With no zeros the header reads as the first
//! format's: the offset, then the byte count as a `u64` below 4 GiB.)
//!
//! Writes that continue each other (the next starts at the sector where
//! the last ends) are queued as one: the device gets one request per
//! bounce buffer of them, not one per write, however the caller cut them.

use alloc::vec::Vec;

use tessera_runtime::abi::Error;
use tessera_runtime::abi::error::{EINVAL, ENOSPC};

use crate::gpt::SECTOR;
use crate::io::{Sectors, Window};

/// The header of each write in a list.
pub const QUEUE_ENTRY_HEADER: usize = 16;

/// The most a list writes in all, its zeros included: 1 MiB. A list
/// crosses in one scheme message (64 KiB), so this bounds the device work
/// one message can ask for; a longer one is EINVAL.
pub const QUEUE_LIST_MAX_WRITE_BYTES: usize = 1 << 20;

/// Part of a write: bytes, then that many zero bytes.
pub type Part<'a> = (&'a [u8], usize);

/// The bytes `parts` stand for.
pub fn parts_len(parts: &[Part<'_>]) -> usize {
    parts.iter().map(|(bytes, zeros)| bytes.len() + zeros).sum()
}

/// Fills `out` with the bytes of `parts` from byte `at` on (as many as
/// `out` holds; `parts` has at least `at + out.len()`).
pub fn fill(parts: &[Part<'_>], mut at: usize, out: &mut [u8]) {
    let mut done = 0;
    for &(bytes, zeros) in parts {
        if done == out.len() {
            return;
        }
        if at >= bytes.len() + zeros {
            at -= bytes.len() + zeros;
            continue;
        }
        if at < bytes.len() {
            let n = (bytes.len() - at).min(out.len() - done);
            out[done..done + n].copy_from_slice(&bytes[at..at + n]);
            done += n;
            at += n;
        }
        let n = (bytes.len() + zeros - at).min(out.len() - done);
        out[done..done + n].fill(0);
        done += n;
        at = 0;
    }
}

/// One write of a list: its first sector in the window's device, its
/// bytes and the zeros after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write<'a> {
    pub lba: u64,
    pub bytes: &'a [u8],
    pub zeros: usize,
}

impl Write<'_> {
    fn sectors(&self) -> u64 {
        ((self.bytes.len() + self.zeros) / SECTOR) as u64
    }
}

/// The writes of list `buf`. `EINVAL` for a list that does not parse (a
/// short header or bytes, a write of 0 bytes in all, an offset or a length
/// that is not whole sectors) or writes more than
/// [`QUEUE_LIST_MAX_WRITE_BYTES`], `ENOSPC` for a write that does not lie
/// wholly inside the window; then nothing is queued.
pub fn parse(window: Window, mut buf: &[u8]) -> Result<Vec<Write<'_>>, Error> {
    let mut writes = Vec::new();
    let mut total = 0usize;
    while !buf.is_empty() {
        let (header, rest) = buf.split_at_checked(QUEUE_ENTRY_HEADER).ok_or(Error::new(EINVAL))?;
        let offset = u64::from_le_bytes(header[..8].try_into().unwrap_or_default());
        let count = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default()) as usize;
        let zeros = u32::from_le_bytes(header[12..].try_into().unwrap_or_default()) as usize;
        let (bytes, rest) = rest.split_at_checked(count).ok_or(Error::new(EINVAL))?;
        let len = count + zeros;
        total += len;
        if len == 0
            || !offset.is_multiple_of(SECTOR as u64)
            || !len.is_multiple_of(SECTOR)
            || total > QUEUE_LIST_MAX_WRITE_BYTES
        {
            return Err(Error::new(EINVAL));
        }
        if offset.checked_add(len as u64).is_none_or(|end| end > window.bytes()) {
            return Err(Error::new(ENOSPC));
        }
        writes.push(Write { lba: window.first + offset / SECTOR as u64, bytes, zeros });
        buf = rest;
    }
    Ok(writes)
}

/// Queues the writes of list `buf` (see [`parse`]), in order, those that
/// continue each other as one, then kicks the device once: all of `buf`
/// on success; `EIO` if the device could not take one (those before it
/// are queued, and kicked).
pub fn queue_list(dev: &mut impl Sectors, window: Window, buf: &[u8]) -> Result<usize, Error> {
    let writes = parse(window, buf)?;
    let mut parts: Vec<Part<'_>> = Vec::new();
    let mut queued = Ok(());
    let mut rest = writes.as_slice();
    while let Some(first) = rest.first() {
        let (mut joined, mut end) = (0, first.lba);
        while let Some(next) = rest.get(joined).filter(|w| w.lba == end) {
            end += next.sectors();
            joined += 1;
        }
        parts.clear();
        parts.extend(rest[..joined].iter().map(|w| (w.bytes, w.zeros)));
        queued = dev.queue_sectors(first.lba, &parts);
        if queued.is_err() {
            break;
        }
        rest = &rest[joined..];
    }
    dev.kick();
    queued?;
    Ok(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::mem::{PART, disk};
    use alloc::vec;
    use tessera_runtime::abi::error::EIO;

    /// A list of `(offset, bytes, zeros)`.
    fn list(writes: &[(u64, &[u8], usize)]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (offset, data, zeros) in writes {
            buf.extend_from_slice(&offset.to_le_bytes());
            buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
            buf.extend_from_slice(&(*zeros as u32).to_le_bytes());
            buf.extend_from_slice(data);
        }
        buf
    }

    #[test]
    fn a_list_queues_whole_sectors_inside_the_window_or_nothing() {
        let mut d = disk();
        let end = PART.bytes();
        let (a, b) = ([0x5Au8; 2 * SECTOR], [0xA5u8; SECTOR]);
        let two = list(&[(SECTOR as u64, &a, 0), (end - SECTOR as u64, &b, 0)]);
        assert_eq!(queue_list(&mut d, PART, &two), Ok(two.len()));
        assert_eq!((d.requests, d.kicks), (2, 1), "one request per write apart, one kick per list");
        assert_eq!(&d.data[5 * SECTOR..7 * SECTOR], &a[..], "at the window's offset");
        assert_eq!(&d.data[11 * SECTOR..12 * SECTOR], &b[..]);
        assert_eq!(d.data[12 * SECTOR], 12, "nothing past the window");
        for (bad, errno) in [
            (list(&[(1, &a, 0)]), EINVAL),
            (list(&[(0, &a[..100], 0)]), EINVAL),
            (list(&[(0, &a[..100], 300)]), EINVAL),
            (list(&[(0, &[], 0)]), EINVAL),
            (list(&[(end, &b, 0)]), ENOSPC),
            (list(&[(end - SECTOR as u64, &a, 0)]), ENOSPC),
            (list(&[(end - SECTOR as u64, &b[..100], SECTOR + 412)]), ENOSPC),
            (list(&[(0, &[], u32::MAX as usize - 511)]), EINVAL),
            (list(&[(u64::MAX - 511, &b, 0)]), ENOSPC),
            (two[..10].to_vec(), EINVAL),
            (two[..QUEUE_ENTRY_HEADER + 100].to_vec(), EINVAL),
            ([list(&[(0, &b, 0)]), list(&[(end, &b, 0)])].concat(), ENOSPC),
        ] {
            assert_eq!(queue_list(&mut d, PART, &bad), Err(Error::new(errno)), "{bad:?}");
        }
        assert_eq!((d.requests, d.kicks), (2, 1), "a bad list queues nothing, not even its good writes");
        assert_eq!(queue_list(&mut d, PART, &[]), Ok(0));
        d.fail = true;
        assert_eq!(queue_list(&mut d, PART, &two), Err(Error::new(EIO)));
        assert_eq!(d.kicks, 3, "a list that fails part way still kicks what it queued");
    }

    #[test]
    fn zeros_are_written_and_writes_that_continue_each_other_are_one_request() {
        let mut d = disk();
        let (a, b, c) = ([0x11u8; 100], [0x22u8; SECTOR + 1], [0x33u8; 7]);
        // Sectors 1-2 (a and a zero tail), 3-4 (b, zeros), 5 (zeros only);
        // then 7 (c, zeros) apart.
        let writes = list(&[
            (SECTOR as u64, &a, 2 * SECTOR - 100),
            (3 * SECTOR as u64, &b, SECTOR - 1),
            (5 * SECTOR as u64, &[], SECTOR),
            (7 * SECTOR as u64, &c, SECTOR - 7),
        ]);
        assert_eq!(queue_list(&mut d, PART, &writes), Ok(writes.len()));
        assert_eq!((d.requests, d.kicks), (2, 1), "sectors 1-5 joined, 7 apart");
        let sector = |s: usize| &d.data[(PART.first as usize + s) * SECTOR..][..SECTOR];
        assert_eq!((&sector(1)[..100], &sector(1)[100..]), (&a[..], &[0u8; SECTOR - 100][..]));
        assert!(sector(2).iter().all(|&x| x == 0));
        assert_eq!((sector(3), sector(4)[0], &sector(4)[1..]), (&b[..SECTOR], 0x22, &[0u8; SECTOR - 1][..]));
        assert!(sector(5).iter().all(|&x| x == 0));
        assert_eq!(sector(6), &[(PART.first + 6) as u8; SECTOR], "untouched between");
        assert_eq!((&sector(7)[..7], &sector(7)[7..]), (&c[..], &[0u8; SECTOR - 7][..]));
        assert_eq!(d.data[PART.first as usize * SECTOR], PART.first as u8, "sector 0 untouched");
    }

    #[test]
    fn a_list_writes_at_most_a_mebibyte() {
        let wide = Window { first: 0, sectors: 1 << 20 };
        let sector = [7u8; SECTOR];
        let max = QUEUE_LIST_MAX_WRITE_BYTES;
        assert_eq!(parse(wide, &list(&[(0, &sector, max - SECTOR)])).map(|w| w.len()), Ok(1));
        assert_eq!(parse(wide, &list(&[(0, &[], max + SECTOR)])), Err(Error::new(EINVAL)));
        let two = [list(&[(0, &sector, max - SECTOR)]), list(&[(0, &sector, 0)])].concat();
        assert_eq!(parse(wide, &two), Err(Error::new(EINVAL)), "in all, not per write");
    }

    #[test]
    fn parts_fill_any_slice_of_them() {
        let parts: [Part<'_>; 3] = [(&[1, 2, 3], 2), (&[], 3), (&[4], 0)];
        let whole = [1, 2, 3, 0, 0, 0, 0, 0, 4];
        assert_eq!(parts_len(&parts), whole.len());
        for at in 0..whole.len() {
            for len in 0..=whole.len() - at {
                let mut out = vec![0xFFu8; len];
                fill(&parts, at, &mut out);
                assert_eq!(out, whole[at..at + len], "at {at}, {len} bytes");
            }
        }
    }
}
