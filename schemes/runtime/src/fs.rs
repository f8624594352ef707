//! Directories: [`read_dir`], a whole listing through `getdents`.
//!
//! The calls themselves are in [`crate::sys`]: `mkdir`, `unlinkat` /
//! `unlink` / `rmdir`, `getdents`, `frename`. A path without a scheme is
//! `file:`'s (`/a/b` is `file:/a/b`).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_abi::dirent::{self, DirentKind};
use tessera_abi::error::EIO;
use tessera_abi::flag::{O_DIRECTORY, O_RDONLY};
use tessera_abi::{Error, O_CLOEXEC, Result};

use crate::sys;

/// Bytes asked of each `getdents`.
const LISTING_CHUNK_BYTES: usize = 4096;

/// What a directory entry is, from its record's `DirentKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    Regular,
    /// Another `DirentKind` (its number); 0: the scheme did not say.
    Other(u8),
}

impl From<DirentKind> for EntryKind {
    fn from(kind: DirentKind) -> Self {
        match kind {
            DirentKind::Directory => Self::Directory,
            DirentKind::Regular => Self::Regular,
            other => Self::Other(other as u8),
        }
    }
}

/// The entries of the directory `path`, in the scheme's order, without
/// `.` and `..`; names that are not UTF-8 are converted lossily.
///
/// Errors: those of `sys::open` (`ENOENT`, `ENOTDIR`, `ENODEV`…) and
/// `sys::getdents`; `EIO` a record that does not parse (the kernel checks
/// a user scheme's records, so only a kernel bug gives it) or a listing
/// that does not advance.
pub fn read_dir(path: &str) -> Result<Vec<(String, EntryKind)>> {
    let fd = sys::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)?;
    let listing = list_fd(fd);
    let _ = sys::close(fd);
    listing
}

/// The entries of the directory open on `fd`, as [`read_dir`] gives them.
pub fn list_fd(fd: usize) -> Result<Vec<(String, EntryKind)>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; LISTING_CHUNK_BYTES];
    let mut opaque = 0;
    loop {
        let n = sys::getdents(fd, &mut buf, opaque)?;
        if n == 0 {
            return Ok(out);
        }
        let start = opaque;
        for entry in dirent::entries(&buf[..n]) {
            let entry = entry.map_err(|_| Error::new(EIO))?;
            opaque = entry.next_opaque_id;
            if entry.name != b"." && entry.name != b".." {
                out.push((String::from_utf8_lossy(entry.name).into_owned(), entry.kind.into()));
            }
        }
        if opaque == start {
            // A scheme that sends the reader back where it was would make
            // this loop forever.
            return Err(Error::new(EIO));
        }
    }
}
