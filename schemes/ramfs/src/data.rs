//! A regular file's bytes: one contiguous range of the daemon's address
//! space per file, so that `read`/`write` and the file's mappings (fmap
//! lends these very frames to clients) see the same memory.
//!
//! ```text
//! base                      size     round_up(size)              base + MAX_FILE_BYTES
//!  |<-- file bytes --------->|0000000|<-- inaccessible, no memory ------->|
//!  |<-- pages read-write (the file) ->|
//! ```
//! Invariants, kept by every operation:
//! - exactly the pages `[0, round_up(size))` are open (readable and
//!   writable); the rest of the reservation is inaccessible and holds no
//!   memory;
//! - the bytes past the end in the last page are zero, so growing the file
//!   exposes zeroes without writing them;
//! - a page inside the file is never made inaccessible or moved: the
//!   kernel lends its frames to clients and relies on the daemon writing
//!   them in place.
//!
//! Shrinking zeroes the tail of the new last page (only if it holds data:
//! a page never written costs nothing) and gives the pages past it back.

use tessera_runtime::Result;
use tessera_runtime::abi::Error;
use tessera_runtime::abi::error::EFBIG;

use crate::pages::{PAGE_BYTES, Pages};

/// The largest file, in bytes: the size of each file's reservation.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// Bytes moved through a stack buffer at a time when zeroing.
const ZERO_CHUNK_BYTES: usize = 512;

/// `bytes` rounded up to whole pages.
fn page_round_up(bytes: u64) -> u64 {
    bytes.next_multiple_of(PAGE_BYTES as u64)
}

/// A regular file's data.
#[derive(Debug)]
pub struct FileData {
    /// The reservation's start (page-aligned, never moves).
    base: usize,
    size: u64,
}

impl FileData {
    /// An empty file: reserves [`MAX_FILE_BYTES`] (no memory yet).
    /// Errors: ENOSPC no address space left.
    pub fn new(pages: &mut impl Pages) -> Result<Self> {
        Ok(Self { base: pages.reserve(MAX_FILE_BYTES as usize)?, size: 0 })
    }

    /// Gives the reservation back.
    pub fn release(self, pages: &mut impl Pages) {
        pages.release(self.base, MAX_FILE_BYTES as usize);
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where byte `offset` of the file lives (for fmap).
    pub fn address(&self, offset: u64) -> usize {
        self.base + offset as usize
    }

    /// Copies the bytes at `offset` into `buf`; 0 at or past the end.
    pub fn read(&self, pages: &impl Pages, offset: u64, buf: &mut [u8]) -> usize {
        let n = self.size.saturating_sub(offset).min(buf.len() as u64) as usize;
        if n > 0 {
            pages.read(self.address(offset), &mut buf[..n]);
        }
        n
    }

    /// Writes `data` at `offset`, growing the file as needed; returns the
    /// bytes written: fewer than `data.len()` only where the file would
    /// pass [`MAX_FILE_BYTES`]. Errors: EFBIG `offset` at or past the
    /// maximum (with bytes to write); ENOSPC the pages could not be opened.
    pub fn write(&mut self, pages: &mut impl Pages, offset: u64, data: &[u8]) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAX_FILE_BYTES {
            return Err(Error::new(EFBIG));
        }
        let n = (MAX_FILE_BYTES - offset).min(data.len() as u64) as usize;
        let end = offset + n as u64;
        if end > self.size {
            self.grow(pages, end)?;
        }
        pages.write(self.address(offset), &data[..n]);
        Ok(n)
    }

    /// Sets the size to `len`: new bytes read as zero, bytes past it are
    /// gone. Errors: EFBIG over [`MAX_FILE_BYTES`]; ENOSPC, EIO the pages
    /// could not be opened or given back.
    pub fn set_len(&mut self, pages: &mut impl Pages, len: u64) -> Result<()> {
        if len > MAX_FILE_BYTES {
            return Err(Error::new(EFBIG));
        }
        if len >= self.size {
            return self.grow(pages, len);
        }
        let (kept_end, old_end) = (page_round_up(len), page_round_up(self.size));
        self.zero(pages, len, self.size.min(kept_end));
        if old_end > kept_end {
            pages.close_down(self.address(kept_end), (old_end - kept_end) as usize)?;
        }
        self.size = len;
        Ok(())
    }

    /// Punches a hole: bytes `[offset, offset + len)` (clipped to the size)
    /// read as zeroes afterwards, the size unchanged. Whole pages of the
    /// hole are given back (taken back from mappings, [`Pages::close_down`])
    /// and opened up again empty; the partial pages at its ends are zeroed
    /// in place. Errors: ENOSPC, EIO the pages could not be given back or
    /// opened again.
    pub fn punch(&mut self, pages: &mut impl Pages, offset: u64, len: u64) -> Result<()> {
        let end = offset.saturating_add(len).min(self.size);
        if offset >= end {
            return Ok(());
        }
        let (first_whole, end_whole) = (page_round_up(offset), end - end % PAGE_BYTES as u64);
        if first_whole >= end_whole {
            self.zero(pages, offset, end);
            return Ok(());
        }
        self.zero(pages, offset, first_whole);
        self.zero(pages, end_whole, end);
        let (addr, bytes) = (self.address(first_whole), (end_whole - first_whole) as usize);
        pages.close_down(addr, bytes)?;
        pages.open_up(addr, bytes)
    }

    /// Opens the pages up to `len` (≥ size) and makes it the size.
    fn grow(&mut self, pages: &mut impl Pages, len: u64) -> Result<()> {
        let (old_end, new_end) = (page_round_up(self.size), page_round_up(len));
        if new_end > old_end {
            pages.open_up(self.address(old_end), (new_end - old_end) as usize)?;
        }
        self.size = len;
        Ok(())
    }

    /// Zeroes `[from, to)` (within open pages), writing only where a
    /// byte is not zero already: a page never written keeps no memory.
    fn zero(&self, pages: &mut impl Pages, from: u64, to: u64) {
        let zeroes = [0u8; ZERO_CHUNK_BYTES];
        let mut chunk = [0u8; ZERO_CHUNK_BYTES];
        let mut at = from;
        while at < to {
            let n = (to - at).min(ZERO_CHUNK_BYTES as u64) as usize;
            pages.read(self.address(at), &mut chunk[..n]);
            if chunk[..n].iter().any(|&b| b != 0) {
                pages.write(self.address(at), &zeroes[..n]);
            }
            at += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::vec;

    use super::*;
    use crate::pages::fake::FakePages;

    const PAGE: u64 = PAGE_BYTES as u64;

    fn read_all(file: &FileData, pages: &FakePages) -> std::vec::Vec<u8> {
        let mut buf = vec![0xEE; file.size() as usize + 10];
        let n = file.read(pages, 0, &mut buf);
        buf.truncate(n);
        buf
    }

    #[test]
    fn write_read_and_holes() {
        let mut pages = FakePages::default();
        let mut file = FileData::new(&mut pages).unwrap();
        assert_eq!((file.size(), pages.open.len(), pages.resident()), (0, 0, 0));
        assert_eq!(file.write(&mut pages, 0, b"hello").unwrap(), 5);
        assert_eq!((file.size(), pages.open.len(), pages.resident()), (5, 1, 1));
        // A write far out leaves a hole that reads as zero and holds no memory.
        assert_eq!(file.write(&mut pages, 3 * PAGE + 10, b"xy").unwrap(), 2);
        assert_eq!((file.size(), pages.open.len(), pages.resident()), (3 * PAGE + 12, 4, 2));
        let all = read_all(&file, &pages);
        assert_eq!(&all[..5], b"hello");
        assert!(all[5..3 * PAGE as usize + 10].iter().all(|&b| b == 0));
        assert_eq!(&all[3 * PAGE as usize + 10..], b"xy");
        let mut buf = [0u8; 4];
        assert_eq!(file.read(&pages, 3 * PAGE + 11, &mut buf), 1);
        assert_eq!(file.read(&pages, 100 * PAGE, &mut buf), 0);
        file.release(&mut pages);
        assert!(pages.reserved.is_empty() && pages.open.is_empty() && pages.data.is_empty());
    }

    #[test]
    fn shrink_zeroes_the_tail_and_gives_pages_back() {
        let mut pages = FakePages::default();
        let mut file = FileData::new(&mut pages).unwrap();
        file.write(&mut pages, 0, &vec![0xAB; 3 * PAGE_BYTES]).unwrap();
        assert_eq!((pages.open.len(), pages.resident()), (3, 3));
        file.set_len(&mut pages, PAGE + 100).unwrap();
        assert_eq!((file.size(), pages.open.len(), pages.resident()), (PAGE + 100, 2, 2));
        // Growing again shows zeroes past the old end, in the kept page too.
        file.set_len(&mut pages, 3 * PAGE).unwrap();
        let all = read_all(&file, &pages);
        assert!(all[..PAGE as usize + 100].iter().all(|&b| b == 0xAB));
        assert!(all[PAGE as usize + 100..].iter().all(|&b| b == 0), "the tail reads zero");
        assert_eq!((pages.open.len(), pages.resident()), (3, 2), "new pages hold nothing");
        file.set_len(&mut pages, 0).unwrap();
        assert_eq!((pages.open.len(), pages.resident()), (0, 0));
    }

    #[test]
    fn shrinking_a_hole_writes_nothing() {
        let mut pages = FakePages::default();
        let mut file = FileData::new(&mut pages).unwrap();
        file.set_len(&mut pages, 10 * PAGE).unwrap();
        file.set_len(&mut pages, 5 * PAGE + 7).unwrap();
        assert_eq!((pages.open.len(), pages.resident()), (6, 0));
    }

    #[test]
    fn the_limit() {
        let mut pages = FakePages::default();
        let mut file = FileData::new(&mut pages).unwrap();
        assert_eq!(file.write(&mut pages, MAX_FILE_BYTES, b"x"), Err(Error::new(EFBIG)));
        assert_eq!(file.write(&mut pages, MAX_FILE_BYTES, b""), Ok(0));
        assert_eq!(file.set_len(&mut pages, MAX_FILE_BYTES + 1), Err(Error::new(EFBIG)));
        assert_eq!(file.write(&mut pages, MAX_FILE_BYTES - 2, b"abcd"), Ok(2), "a short write up to the limit");
        assert_eq!(file.size(), MAX_FILE_BYTES);
        assert_eq!(pages.open.len() as u64, MAX_FILE_BYTES / PAGE);
        assert_eq!(pages.resident(), 1);
        file.set_len(&mut pages, 0).unwrap();
        assert_eq!(pages.open.len(), 0);
    }
}
