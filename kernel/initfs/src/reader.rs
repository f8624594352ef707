//! The allocation-free reader: [`InitFs::parse`] validates an archive once;
//! afterwards lookups and iteration only read what parsing proved in bounds.

use core::cmp::Ordering;

use crate::error::{EntryProblem, ParseError};
use crate::format::{
    ENTRY_SIZE, FORMAT_VERSION, HEADER_SIZE, KIND_DIRECTORY, KIND_FILE, MAGIC, MODE_MAX, PAGE_SIZE, RawEntry,
    RawHeader, page_align_up,
};
use crate::path::{parent, validate_path};

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: its bytes are [`Entry::data`].
    File,
    /// A directory: its entries are [`InitFs::children`]; it has no data.
    Directory,
}

/// One file or directory of the archive, borrowed from the archive bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The full path, e.g. `bin/init`.
    pub path: &'a str,
    pub kind: Kind,
    /// Permission bits (`0o7777` at most).
    pub mode: u16,
    /// The file's bytes (empty for a directory).
    pub data: &'a [u8],
    /// Where [`Self::data`] starts in the archive: a multiple of 4096 for a
    /// non-empty file (0 otherwise), so its pages can be mapped in place.
    pub data_offset: usize,
}

impl<'a> Entry<'a> {
    /// The last component of the path (`init` for `bin/init`).
    pub fn name(&self) -> &'a str {
        match self.path.rfind('/') {
            Some(slash) => &self.path[slash + 1..],
            None => self.path,
        }
    }
}

/// A validated archive. Cheap to copy: it only borrows the bytes.
#[derive(Clone, Copy, Debug)]
pub struct InitFs<'a> {
    /// The archive, cut to its total size.
    bytes: &'a [u8],
    /// The entry table: `count * ENTRY_SIZE` bytes.
    table: &'a [u8],
    strings: &'a [u8],
}

fn truncated(what: &'static str, needed_bytes: u64, available_bytes: usize) -> ParseError {
    ParseError::Truncated { what, needed_bytes, available_bytes }
}

impl<'a> InitFs<'a> {
    /// Checks every rule of the format (see the crate doc) and returns the
    /// archive, or the first broken rule. Never panics, whatever `bytes` is.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let header: &[u8; HEADER_SIZE] = bytes
            .get(..HEADER_SIZE)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| truncated("header", HEADER_SIZE as u64, bytes.len()))?;
        let header = RawHeader::decode(header);
        if header.magic != MAGIC {
            return Err(ParseError::BadMagic);
        }
        if header.version != FORMAT_VERSION {
            return Err(ParseError::UnsupportedVersion(header.version));
        }
        if header.reserved != 0 {
            return Err(ParseError::HeaderReservedNotZero);
        }

        let bad_total = ParseError::BadTotalSize(header.total_size_bytes);
        let total = usize::try_from(header.total_size_bytes).map_err(|_| bad_total)?;
        if total % PAGE_SIZE != 0 {
            return Err(bad_total);
        }
        let count = header.entry_count as usize;
        let table_end = count.checked_mul(ENTRY_SIZE).and_then(|t| t.checked_add(HEADER_SIZE)).ok_or(bad_total)?;
        let strings_end = table_end.checked_add(header.strings_len_bytes as usize).ok_or(bad_total)?;
        if strings_end > total {
            return Err(bad_total);
        }
        let bytes = bytes.get(..total).ok_or_else(|| truncated("archive", header.total_size_bytes, bytes.len()))?;
        let fs = Self { bytes, table: &bytes[HEADER_SIZE..table_end], strings: &bytes[table_end..strings_end] };
        let data_start = page_align_up(strings_end).ok_or(bad_total)?;
        fs.validate_entries(data_start)?;
        Ok(fs)
    }

    /// The per-entry rules, in table order. `data_start` is the first byte
    /// file data may use (the page after the string table).
    fn validate_entries(&self, data_start: usize) -> Result<(), ParseError> {
        let mut previous: Option<&str> = None;
        // Where the next file's data may start: file data follows entry order.
        let mut next_data = data_start;
        for index in 0..self.len() {
            let fail = |problem| ParseError::Entry { index, problem };
            let raw = self.raw(index).ok_or(fail(EntryProblem::PathOutOfBounds))?;
            if raw.reserved != 0 {
                return Err(fail(EntryProblem::ReservedNotZero));
            }
            if raw.kind != KIND_FILE && raw.kind != KIND_DIRECTORY {
                return Err(fail(EntryProblem::BadKind(raw.kind)));
            }
            if raw.mode > MODE_MAX {
                return Err(fail(EntryProblem::BadMode(raw.mode)));
            }

            let path = self.path_of(&raw).map_err(fail)?;
            validate_path(path).map_err(|why| fail(EntryProblem::InvalidPath(why)))?;
            if let Some(previous) = previous {
                match path.as_bytes().cmp(previous.as_bytes()) {
                    Ordering::Less => return Err(fail(EntryProblem::NotSorted)),
                    Ordering::Equal => return Err(fail(EntryProblem::Duplicate)),
                    Ordering::Greater => {}
                }
            }
            previous = Some(path);
            // A parent is a prefix, so it sorts before: search the entries so far.
            if let Some(parent) = parent(path) {
                match self.find(parent, index) {
                    Some(p) if self.raw(p).is_some_and(|r| r.kind == KIND_DIRECTORY) => {}
                    _ => return Err(fail(EntryProblem::MissingParent)),
                }
            }

            if raw.kind == KIND_DIRECTORY || raw.data_len == 0 {
                if raw.data_offset != 0 || raw.data_len != 0 {
                    return Err(fail(EntryProblem::UnexpectedData));
                }
                continue;
            }
            let offset = usize::try_from(raw.data_offset).map_err(|_| fail(EntryProblem::DataOutOfBounds))?;
            let len = usize::try_from(raw.data_len).map_err(|_| fail(EntryProblem::DataOutOfBounds))?;
            if offset % PAGE_SIZE != 0 {
                return Err(fail(EntryProblem::DataMisaligned));
            }
            if offset < next_data {
                return Err(fail(EntryProblem::DataOverlaps));
            }
            let end = offset.checked_add(len).filter(|&end| end <= self.bytes.len());
            let end = end.ok_or(fail(EntryProblem::DataOutOfBounds))?;
            // The total size is a page multiple, so the padded end is in bounds too.
            let padded_end = page_align_up(end).filter(|&p| p <= self.bytes.len());
            let padded_end = padded_end.ok_or(fail(EntryProblem::DataOutOfBounds))?;
            if self.bytes[end..padded_end].iter().any(|&b| b != 0) {
                return Err(fail(EntryProblem::NonZeroPadding));
            }
            next_data = padded_end;
        }
        Ok(())
    }

    /// The number of entries (directories included; the root has none).
    pub fn len(&self) -> usize {
        self.table.len() / ENTRY_SIZE
    }

    /// Whether the archive has no entries at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The archive's total size in bytes (a multiple of 4096).
    pub fn total_size_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The raw record of entry `index`.
    fn raw(&self, index: usize) -> Option<RawEntry> {
        let start = index.checked_mul(ENTRY_SIZE)?;
        let record = self.table.get(start..start.checked_add(ENTRY_SIZE)?)?;
        Some(RawEntry::decode(record.try_into().ok()?))
    }

    fn path_of(&self, raw: &RawEntry) -> Result<&'a str, EntryProblem> {
        let start = raw.path_offset as usize;
        let end = start.checked_add(raw.path_len as usize).ok_or(EntryProblem::PathOutOfBounds)?;
        let bytes = self.strings.get(start..end).ok_or(EntryProblem::PathOutOfBounds)?;
        core::str::from_utf8(bytes).map_err(|_| EntryProblem::PathNotUtf8)
    }

    /// Entry `index`, or `None` past the end.
    pub fn entry(&self, index: usize) -> Option<Entry<'a>> {
        let raw = self.raw(index)?;
        let path = self.path_of(&raw).ok()?;
        let kind = if raw.kind == KIND_DIRECTORY { Kind::Directory } else { Kind::File };
        let data_offset = usize::try_from(raw.data_offset).ok()?;
        let end = data_offset.checked_add(usize::try_from(raw.data_len).ok()?)?;
        let data = self.bytes.get(data_offset..end)?;
        Some(Entry { path, kind, mode: raw.mode, data, data_offset })
    }

    /// The path of entry `index`, for searching.
    fn path_at(&self, index: usize) -> Option<&'a str> {
        self.path_of(&self.raw(index)?).ok()
    }

    /// The index of `path` among the first `limit` entries (binary search).
    fn find(&self, path: &str, limit: usize) -> Option<usize> {
        let (mut low, mut high) = (0, limit.min(self.len()));
        while low < high {
            let mid = low + (high - low) / 2;
            match self.path_at(mid)?.as_bytes().cmp(path.as_bytes()) {
                Ordering::Less => low = mid + 1,
                Ordering::Greater => high = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The first index whose path sorts at or after `dir` + `/`.
    fn lower_bound_below(&self, dir: &str) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            let below = self.path_at(mid).is_some_and(|p| p.bytes().lt(dir.bytes().chain(Some(b'/'))));
            if below {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// The entry at `path` (canonical form: `bin/init`, no leading `/`).
    pub fn get(&self, path: &str) -> Option<Entry<'a>> {
        self.entry(self.find(path, self.len())?)
    }

    /// Every entry, in path order.
    pub fn entries(&self) -> Entries<'a> {
        Entries { fs: *self, next: 0 }
    }

    /// The direct children of directory `dir`, in path order; `""` is the
    /// root. `None` when `dir` is not a directory.
    pub fn children(&self, dir: &str) -> Option<Children<'a>> {
        if dir.is_empty() {
            return Some(Children { fs: *self, dir: "", next: 0 });
        }
        let dir = self.get(dir).filter(|d| d.kind == Kind::Directory)?.path;
        Some(Children { fs: *self, dir, next: self.lower_bound_below(dir) })
    }
}

/// Iterator over all entries ([`InitFs::entries`]).
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    fs: InitFs<'a>,
    next: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let entry = self.fs.entry(self.next)?;
        self.next += 1;
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.fs.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

/// Iterator over a directory's direct children ([`InitFs::children`]).
///
/// Walks the contiguous run of paths under `dir/` and skips grandchildren.
#[derive(Clone, Debug)]
pub struct Children<'a> {
    fs: InitFs<'a>,
    /// The directory's path (`""` for the root, whose children are the
    /// top-level entries anywhere in the table).
    dir: &'a str,
    next: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        loop {
            let entry = self.fs.entry(self.next)?;
            self.next += 1;
            if self.dir.is_empty() {
                if !entry.path.contains('/') {
                    return Some(entry);
                }
                continue;
            }
            // The run starts at the lower bound; the first path not under
            // the directory ends it.
            let rest = entry.path.strip_prefix(self.dir)?.strip_prefix('/')?;
            if !rest.contains('/') {
                return Some(entry);
            }
        }
    }
}
