//! Why an archive was rejected by [`crate::InitFs::parse`].

use core::fmt;

use crate::path::PathError;

/// A malformed archive. Each variant names the rule the input broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The input ends before a part the header says is there (`what`).
    Truncated { what: &'static str, needed_bytes: u64, available_bytes: usize },
    /// The first eight bytes are not `TINITFS1`.
    BadMagic,
    /// A format version this reader does not know.
    UnsupportedVersion(u32),
    /// The header's reserved field is not zero.
    HeaderReservedNotZero,
    /// The total size is not a multiple of 4096, or smaller than the header,
    /// entry table and string table together.
    BadTotalSize(u64),
    /// Entry `index` breaks a rule.
    Entry { index: usize, problem: EntryProblem },
}

/// What is wrong with one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryProblem {
    /// Its reserved field is not zero.
    ReservedNotZero,
    /// The kind is neither 1 (file) nor 2 (directory).
    BadKind(u16),
    /// The mode has bits above `0o7777`.
    BadMode(u16),
    /// The path's offset and length reach past the string table.
    PathOutOfBounds,
    /// The path is not UTF-8.
    PathNotUtf8,
    /// The path breaks a path rule.
    InvalidPath(PathError),
    /// The path sorts before the previous entry's.
    NotSorted,
    /// The path equals the previous entry's.
    Duplicate,
    /// The parent directory has no directory entry.
    MissingParent,
    /// A directory, or an empty file, has a non-zero data offset or length.
    UnexpectedData,
    /// The data does not start on a 4096-byte boundary.
    DataMisaligned,
    /// The data starts inside the metadata or before the previous file's
    /// data ends (file data must follow entry order).
    DataOverlaps,
    /// The data reaches past the archive's total size.
    DataOutOfBounds,
    /// The bytes after the data, up to the next page boundary, are not zero.
    NonZeroPadding,
}

impl fmt::Display for EntryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedNotZero => f.write_str("reserved field is not zero"),
            Self::BadKind(kind) => write!(f, "unknown kind {kind} (1 = file, 2 = directory)"),
            Self::BadMode(mode) => write!(f, "mode {mode:#o} has bits above 0o7777"),
            Self::PathOutOfBounds => f.write_str("path reaches past the string table"),
            Self::PathNotUtf8 => f.write_str("path is not UTF-8"),
            Self::InvalidPath(why) => write!(f, "invalid path: {why}"),
            Self::NotSorted => f.write_str("path sorts before the previous entry's"),
            Self::Duplicate => f.write_str("path equals the previous entry's"),
            Self::MissingParent => f.write_str("parent directory has no directory entry"),
            Self::UnexpectedData => f.write_str("directory or empty file with a data offset or length"),
            Self::DataMisaligned => f.write_str("data does not start on a 4096-byte boundary"),
            Self::DataOverlaps => f.write_str("data overlaps the metadata or the previous file's data"),
            Self::DataOutOfBounds => f.write_str("data reaches past the end of the archive"),
            Self::NonZeroPadding => f.write_str("padding after the data is not zero"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { what, needed_bytes, available_bytes } => {
                write!(f, "truncated initfs: the {what} needs {needed_bytes} bytes, {available_bytes} available")
            }
            Self::BadMagic => f.write_str("not an initfs (bad magic)"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported initfs version {v}"),
            Self::HeaderReservedNotZero => f.write_str("initfs header: reserved field is not zero"),
            Self::BadTotalSize(size) => {
                write!(f, "initfs total size {size} is not a multiple of 4096 or is smaller than its metadata")
            }
            Self::Entry { index, problem } => write!(f, "initfs entry {index}: {problem}"),
        }
    }
}

#[cfg(any(test, feature = "std"))]
impl std::error::Error for ParseError {}
