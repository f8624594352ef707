//! Directory entries as `getdents` returns them: Redox's `syscall::dirent`
//! records, packed one after another.
//!
//! ```text
//! record = DirentHeader (19 bytes, packed)      name       NUL  zero padding
//!          inode u64 | next_opaque_id u64 |     (1..=255   0    up to the
//!          record_len u16 | kind u8              bytes)         record's end
//! ```
//! `record_len` is the whole record, header to padding; [`DirentBuf`] (the
//! writer daemons use) pads it to a multiple of 8. `next_opaque_id` is what
//! the next `getdents` call passes to continue after this entry; `kind` a
//! [`DirentKind`]. Integers are native-endian.
//!
//! A record is **well-formed** ([`entries`], [`check`]) when it lies
//! within the buffer, its name is 1 to [`NAME_MAX_BYTES`] bytes without `/`
//! or NUL, a NUL ends the name inside the record and only zero bytes
//! follow it, and its kind is one `DirentKind` names. The kernel checks a
//! user scheme's answer with [`check`] (a malformed one fails the call with
//! EIO), so a reader may trust these rules for any buffer `getdents` filled.

use core::mem::size_of;

pub use syscall::dirent::{DirEntry, DirentBuf, DirentHeader, DirentKind};

/// Bytes of a [`DirentHeader`]: the only header size Tessera uses.
pub const HEADER_BYTES: usize = size_of::<DirentHeader>();
/// Longest name in a record (POSIX's `NAME_MAX`).
pub const NAME_MAX_BYTES: usize = 255;

// The layout the parser reads (Redox's packed header).
const INODE_AT: usize = 0;
const NEXT_AT: usize = 8;
const RECORD_LEN_AT: usize = 16;
const KIND_AT: usize = 18;
const _: () = assert!(HEADER_BYTES == KIND_AT + 1);

/// One parsed record.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub inode: u64,
    /// Where the next `getdents` continues after this entry.
    pub next_opaque_id: u64,
    pub kind: DirentKind,
    /// The name, without its NUL.
    pub name: &'a [u8],
}

/// A record that breaks the rules of the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// Byte offset of the bad record in the buffer.
    pub at: usize,
}

/// The records of `buf`, in order; a malformed record ends the iteration
/// with `Err`.
pub fn entries(buf: &[u8]) -> Entries<'_> {
    Entries { buf, at: 0, failed: false }
}

/// The number of records in `buf` if every one is well-formed.
pub fn check(buf: &[u8]) -> Result<usize, Malformed> {
    entries(buf).try_fold(0, |count, entry| entry.map(|_| count + 1))
}

/// Bytes a record for a name of `name_bytes` takes, as [`DirentBuf`]
/// writes it (header, name, NUL, padded to 8).
pub const fn record_bytes(name_bytes: usize) -> usize {
    (HEADER_BYTES + name_bytes + 1).next_multiple_of(8)
}

/// Iterator of [`entries`].
pub struct Entries<'a> {
    buf: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at == self.buf.len() {
            return None;
        }
        let entry = parse(&self.buf[self.at..]);
        match entry {
            Some((entry, len)) => {
                self.at += len;
                Some(Ok(entry))
            }
            None => {
                self.failed = true;
                Some(Err(Malformed { at: self.at }))
            }
        }
    }
}

/// The record at the start of `rest` and its length, if well-formed.
fn parse(rest: &[u8]) -> Option<(Entry<'_>, usize)> {
    let header = rest.get(..HEADER_BYTES)?;
    let u64_at = |at: usize| u64::from_ne_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    let record_len = usize::from(u16::from_ne_bytes([header[RECORD_LEN_AT], header[RECORD_LEN_AT + 1]]));
    let record = rest.get(..record_len)?;
    let tail = record.get(HEADER_BYTES..)?;
    let nul = tail.iter().position(|&b| b == 0)?;
    let (name, padding) = (&tail[..nul], &tail[nul..]);
    let name_ok = (1..=NAME_MAX_BYTES).contains(&name.len()) && !name.contains(&b'/');
    if !name_ok || padding.iter().any(|&b| b != 0) {
        return None;
    }
    let kind = DirentKind::try_from_raw(header[KIND_AT])?;
    Some((Entry { inode: u64_at(INODE_AT), next_opaque_id: u64_at(NEXT_AT), kind, name }, record_len))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// `names` written with Redox's `DirentBuf`; the bytes used.
    fn written(names: &[&str], space: usize) -> Vec<u8> {
        let mut buf = vec![0xAAu8; space];
        let mut writer = DirentBuf::new(&mut buf[..], HEADER_BYTES as u16).expect("header size");
        for (i, name) in names.iter().enumerate() {
            let entry =
                DirEntry { inode: 10 + i as u64, next_opaque_id: i as u64 + 1, name, kind: DirentKind::Regular };
            writer.entry(entry).expect("room");
        }
        let n = writer.finalize();
        buf.truncate(n);
        buf
    }

    #[test]
    fn redox_s_writer_is_well_formed() {
        let buf = written(&["a", "hello", "x".repeat(NAME_MAX_BYTES).as_str()], 4096);
        assert_eq!(buf.len(), record_bytes(1) + record_bytes(5) + record_bytes(NAME_MAX_BYTES));
        assert_eq!(check(&buf), Ok(3));
        let all: Vec<Entry<'_>> = entries(&buf).map(Result::unwrap).collect();
        assert_eq!(all[1].name, b"hello");
        assert_eq!((all[1].inode, all[1].next_opaque_id), (11, 2));
        assert!(matches!(all[2].kind, DirentKind::Regular));
        assert_eq!(check(&[]), Ok(0));
    }

    #[test]
    fn malformed_records_are_caught() {
        let good = written(&["ab"], 64);
        let len = good.len();
        let record_len =
            |buf: &mut Vec<u8>, n: u16| buf[RECORD_LEN_AT..RECORD_LEN_AT + 2].copy_from_slice(&n.to_ne_bytes());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("cut header", good[..HEADER_BYTES - 1].to_vec()),
            ("cut record", good[..len - 1].to_vec()),
            ("record_len past the end", {
                let mut b = good.clone();
                record_len(&mut b, len as u16 + 8);
                b
            }),
            ("record_len inside the header", {
                let mut b = good.clone();
                record_len(&mut b, 3);
                b
            }),
            ("no NUL", {
                let mut b = good.clone();
                record_len(&mut b, (HEADER_BYTES + 2) as u16);
                b.truncate(HEADER_BYTES + 2);
                b
            }),
            ("empty name", {
                let mut b = good.clone();
                b[HEADER_BYTES] = 0;
                b[HEADER_BYTES + 1] = 0;
                b
            }),
            ("slash in the name", {
                let mut b = good.clone();
                b[HEADER_BYTES] = b'/';
                b
            }),
            ("junk after the NUL", {
                let mut b = good.clone();
                b[len - 1] = 7;
                b
            }),
            ("unknown kind", {
                let mut b = good.clone();
                b[KIND_AT] = 3;
                b
            }),
        ];
        for (what, buf) in cases {
            assert_eq!(check(&buf), Err(Malformed { at: 0 }), "{what}");
        }
        let mut two = good.clone();
        two.extend_from_slice(&good[..5]);
        assert_eq!(check(&two), Err(Malformed { at: len }), "trailing bytes");
    }
}
