//! The initfs: the read-only archive of programs and configuration the
//! loader hands to the kernel at boot, and from which the kernel starts
//! `init` (served to user space as the `initfs:` scheme).
//!
//! The reader ([`InitFs`]) is `no_std` and allocation-free so the kernel can
//! use it on the blob in place. The builder ([`Builder`], and the `mkinitfs`
//! tool that packs a directory) needs the `std` feature.
//!
//! # Format (version 1, all integers little-endian)
//! ```text
//!   offset 0     header           32 bytes
//!   offset 32    entry table      entry_count × 32 bytes, sorted by path
//!   then         string table     strings_len bytes: the paths, not NUL-terminated
//!   then         zero padding     up to the next 4096-byte boundary
//!   then         file data        each file starts on a 4096-byte boundary,
//!                                 in entry order; the rest of its last page is zero
//!   total_size   end              a multiple of 4096
//! ```
//! Header:
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"TINITFS1"` |
//! | 8 | 4 | version, `1` |
//! | 12 | 4 | entry count |
//! | 16 | 8 | total size of the archive in bytes (a multiple of 4096) |
//! | 24 | 4 | string table length in bytes |
//! | 28 | 4 | reserved, `0` |
//!
//! Entry:
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | path offset into the string table |
//! | 4 | 4 | path length in bytes |
//! | 8 | 8 | data offset from the start of the archive (`0` for directories and empty files) |
//! | 16 | 8 | data length in bytes (`0` for directories) |
//! | 24 | 2 | kind: `1` file, `2` directory |
//! | 26 | 2 | permission bits (`0o7777` at most; the file type comes from the kind) |
//! | 28 | 4 | reserved, `0` |
//!
//! Paths are relative UTF-8, `/`-separated, with no leading or trailing `/`,
//! no empty, `.` or `..` component and no NUL ([`validate_path`]). Entries
//! are sorted by the bytes of their path, with no duplicate, so a lookup is a
//! binary search and a directory's descendants are one contiguous run. Every
//! parent of an entry is itself listed as a directory entry, so listing a
//! directory never needs to invent one. The root is implicit (path `""`).
//!
//! Why the page alignment: a file's data is a run of whole pages of the
//! archive, with zeros after its end. The loader places the archive on a
//! page boundary, so the kernel can later map initfs files straight from the
//! archive's frames (bytes past end-of-file read as zero, as `mmap` requires).
//!
//! [`InitFs::parse`] checks all of this (bounds, order, alignment, overlap,
//! padding, UTF-8, parents) once; malformed input is a [`ParseError`], never
//! a panic. Bytes after `total_size` are ignored, so a loader may round the
//! blob up.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]

mod error;
mod format;
mod path;
mod reader;

#[cfg(any(test, feature = "std"))]
mod builder;

#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "std"))]
pub use builder::{BuildError, Builder};
pub use error::{EntryProblem, ParseError};
pub use format::{FORMAT_VERSION, MAGIC, PAGE_SIZE};
pub use path::{PathError, validate_path};
pub use reader::{Children, Entries, Entry, InitFs, Kind};
