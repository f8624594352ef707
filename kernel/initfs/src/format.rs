//! The on-disk layout: constants, and the raw header and entry records with
//! their little-endian encoding. Shared by the reader and the builder; the
//! crate doc has the tables.

/// The first eight bytes of every archive.
pub const MAGIC: [u8; 8] = *b"TINITFS1";
/// The format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// File data alignment and the unit of the archive's total size.
pub const PAGE_SIZE: usize = 4096;

pub(crate) const HEADER_SIZE: usize = 32;
pub(crate) const ENTRY_SIZE: usize = 32;

pub(crate) const KIND_FILE: u16 = 1;
pub(crate) const KIND_DIRECTORY: u16 = 2;
/// The largest permission value (`rwx` for user, group, other plus
/// set-uid, set-gid and sticky).
pub(crate) const MODE_MAX: u16 = 0o7777;

/// The header, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub magic: [u8; 8],
    pub version: u32,
    pub entry_count: u32,
    pub total_size_bytes: u64,
    pub strings_len_bytes: u32,
    pub reserved: u32,
}

/// One entry-table record, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub path_offset: u32,
    pub path_len: u32,
    pub data_offset: u64,
    pub data_len: u64,
    pub kind: u16,
    pub mode: u16,
    pub reserved: u32,
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

impl RawHeader {
    /// Decodes the header from exactly [`HEADER_SIZE`] bytes.
    pub fn decode(bytes: &[u8; HEADER_SIZE]) -> Self {
        let mut magic = [0; 8];
        magic.copy_from_slice(&bytes[0..8]);
        Self {
            magic,
            version: u32_at(bytes, 8),
            entry_count: u32_at(bytes, 12),
            total_size_bytes: u64_at(bytes, 16),
            strings_len_bytes: u32_at(bytes, 24),
            reserved: u32_at(bytes, 28),
        }
    }

    #[cfg(any(test, feature = "std"))]
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0; HEADER_SIZE];
        out[0..8].copy_from_slice(&self.magic);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..16].copy_from_slice(&self.entry_count.to_le_bytes());
        out[16..24].copy_from_slice(&self.total_size_bytes.to_le_bytes());
        out[24..28].copy_from_slice(&self.strings_len_bytes.to_le_bytes());
        out[28..32].copy_from_slice(&self.reserved.to_le_bytes());
        out
    }
}

impl RawEntry {
    /// Decodes one record from exactly [`ENTRY_SIZE`] bytes.
    pub fn decode(bytes: &[u8; ENTRY_SIZE]) -> Self {
        Self {
            path_offset: u32_at(bytes, 0),
            path_len: u32_at(bytes, 4),
            data_offset: u64_at(bytes, 8),
            data_len: u64_at(bytes, 16),
            kind: u16_at(bytes, 24),
            mode: u16_at(bytes, 26),
            reserved: u32_at(bytes, 28),
        }
    }

    #[cfg(any(test, feature = "std"))]
    pub fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut out = [0; ENTRY_SIZE];
        out[0..4].copy_from_slice(&self.path_offset.to_le_bytes());
        out[4..8].copy_from_slice(&self.path_len.to_le_bytes());
        out[8..16].copy_from_slice(&self.data_offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.data_len.to_le_bytes());
        out[24..26].copy_from_slice(&self.kind.to_le_bytes());
        out[26..28].copy_from_slice(&self.mode.to_le_bytes());
        out[28..32].copy_from_slice(&self.reserved.to_le_bytes());
        out
    }
}

/// `value` rounded up to a multiple of [`PAGE_SIZE`], or `None` on overflow.
pub(crate) fn page_align_up(value: usize) -> Option<usize> {
    Some(value.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}
