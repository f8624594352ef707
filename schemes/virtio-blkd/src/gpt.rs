//! The GUID Partition Table (UEFI 2.10 §5.3): reading it from a disk and,
//! for the host tool `mkgpt` and the tests, writing one.
//!
//! Written here rather than taken from the `gpt` crate, which needs `std`
//! (files, `uuid`'s std features): the part a driver needs is the 92-byte
//! header and the 128-byte entries with their two CRC32s.
//!
//! Reading ([`read`]): the primary header (LBA 1) is used when its
//! signature, revision, size, CRC32, own LBA and entry array (size, count,
//! CRC32) check; otherwise the backup header (the header's alternate LBA,
//! or the disk's last LBA) the same way; if neither checks, [`GptError`]
//! says why and the disk has no partitions. An entry is a partition when
//! its type GUID is not all zeroes and its LBAs lie inside the header's
//! usable range (first <= last); other non-empty entries are reported as
//! [`Entry::bad`] and not served.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Bytes per logical block: GPT on a 512-byte-sector disk (virtio-blk's).
pub const SECTOR: usize = 512;
/// "EFI PART".
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
const REVISION: u32 = 0x0001_0000;
const HEADER_BYTES: usize = 92;
const ENTRY_BYTES: usize = 128;
/// The entry count this module writes (16 KiB of entries, the minimum).
pub const ENTRIES: usize = 128;
/// The sectors the entry array takes when written here.
const ENTRY_SECTORS: u64 = (ENTRIES * ENTRY_BYTES / SECTOR) as u64;
/// At most this many entries are read (a header asking for more is bad).
const MAX_ENTRIES: u32 = 1024;

/// One partition (a used entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based index in the entry array: the `N` of `disk:0pN`.
    pub number: u32,
    pub first_lba: u64,
    /// Inclusive.
    pub last_lba: u64,
    pub name: String,
    /// Outside the usable range or reversed: listed, not served.
    pub bad: bool,
}

impl Entry {
    /// Sectors in the partition.
    pub fn sectors(&self) -> u64 {
        self.last_lba + 1 - self.first_lba
    }
}

/// Why a disk's GPT was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GptError {
    /// No "EFI PART" at the header's LBA.
    Signature,
    /// Revision, header size, own LBA or entry size/count out of range.
    Header,
    /// The header's CRC32 does not match.
    HeaderCrc,
    /// The entry array's CRC32 does not match.
    EntriesCrc,
    /// The disk could not be read there.
    Read,
}

/// A GPT as found: which header was used and the partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// False when the primary header was bad and the backup was used.
    pub primary: bool,
    pub entries: Vec<Entry>,
}

/// CRC-32 (IEEE 802.3, reflected, as UEFI and zlib).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(v)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Reads the GPT of a disk of `sectors` sectors through `read(lba, buf)`,
/// which fills `buf` (a multiple of [`SECTOR`]) from `lba`.
pub fn read<E>(sectors: u64, mut read: impl FnMut(u64, &mut [u8]) -> Result<(), E>) -> Result<Table, GptError> {
    let primary = header_at(sectors, 1, &mut read);
    let (header, is_primary) = match primary {
        Ok(h) => (h, true),
        Err(first) => {
            // The backup header sits at the disk's last LBA.
            match sectors.checked_sub(1).filter(|&l| l > 1).map(|last| header_at(sectors, last, &mut read)) {
                Some(Ok(h)) => (h, false),
                _ => return Err(first),
            }
        }
    };
    Ok(Table { primary: is_primary, entries: header.entries })
}

struct Header {
    entries: Vec<Entry>,
}

fn header_at<E>(
    sectors: u64,
    lba: u64,
    read: &mut impl FnMut(u64, &mut [u8]) -> Result<(), E>,
) -> Result<Header, GptError> {
    let mut block = [0u8; SECTOR];
    read(lba, &mut block).map_err(|_| GptError::Read)?;
    if &block[..8] != SIGNATURE {
        return Err(GptError::Signature);
    }
    let size = u32_at(&block, 12) as usize;
    if u32_at(&block, 8) != REVISION || !(HEADER_BYTES..=SECTOR).contains(&size) || u64_at(&block, 24) != lba {
        return Err(GptError::Header);
    }
    let mut copy = block;
    copy[16..20].fill(0);
    if crc32(&copy[..size]) != u32_at(&block, 16) {
        return Err(GptError::HeaderCrc);
    }
    let (first_usable, last_usable) = (u64_at(&block, 40), u64_at(&block, 48));
    let (array_lba, count, entry_size) = (u64_at(&block, 72), u32_at(&block, 80), u32_at(&block, 84) as usize);
    if count > MAX_ENTRIES || entry_size < ENTRY_BYTES || !entry_size.is_power_of_two() || entry_size > SECTOR {
        return Err(GptError::Header);
    }
    let bytes = count as usize * entry_size;
    let array_sectors = bytes.div_ceil(SECTOR) as u64;
    if array_lba.checked_add(array_sectors).is_none_or(|end| end > sectors) || last_usable >= sectors {
        return Err(GptError::Header);
    }
    let mut array = vec![0u8; array_sectors as usize * SECTOR];
    read(array_lba, &mut array).map_err(|_| GptError::Read)?;
    if crc32(&array[..bytes]) != u32_at(&block, 88) {
        return Err(GptError::EntriesCrc);
    }
    let entries = array[..bytes]
        .chunks_exact(entry_size)
        .enumerate()
        .filter(|(_, e)| e[..16].iter().any(|&b| b != 0))
        .map(|(i, e)| {
            let (first_lba, last_lba) = (u64_at(e, 32), u64_at(e, 40));
            let units: Vec<u16> =
                e[56..128].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|&u| u != 0).collect();
            Entry {
                number: i as u32 + 1,
                first_lba,
                last_lba,
                name: String::from_utf16_lossy(&units),
                bad: first_lba > last_lba || first_lba < first_usable || last_lba > last_usable,
            }
        })
        .collect();
    Ok(Header { entries })
}

/// A partition to write: name, first and last LBA (inclusive).
pub struct NewPartition<'a> {
    pub name: &'a str,
    pub first_lba: u64,
    pub last_lba: u64,
}

/// The "Linux filesystem data" type GUID (0FC63DAF-8483-4772-8E79-3D69D8477DE4),
/// in its on-disk byte order: every partition written here has it.
const LINUX_DATA: [u8; 16] =
    [0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4];

/// A whole disk image of `sectors` sectors with a protective MBR, both GPT
/// headers and entry arrays, and `parts` (at most [`ENTRIES`]; each must
/// lie within the usable range, LBA 34 to `sectors - 34`). GUIDs are
/// derived from `seed` so the image is deterministic. `None` when the
/// disk is too small or a partition does not fit.
pub fn build(sectors: u64, parts: &[NewPartition<'_>], seed: u64) -> Option<Vec<u8>> {
    let first_usable = 2 + ENTRY_SECTORS;
    let last_usable = sectors.checked_sub(2 + ENTRY_SECTORS)?;
    if last_usable < first_usable
        || parts.len() > ENTRIES
        || parts.iter().any(|p| p.first_lba < first_usable || p.last_lba > last_usable || p.first_lba > p.last_lba)
    {
        return None;
    }
    let mut disk = vec![0u8; usize::try_from(sectors).ok()?.checked_mul(SECTOR)?];
    // Protective MBR: one partition of type 0xEE over the disk.
    let mbr = &mut disk[..SECTOR];
    mbr[446 + 4] = 0xEE;
    mbr[446 + 2] = 0x02;
    mbr[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
    mbr[446 + 12..446 + 16].copy_from_slice(&u32::try_from(sectors - 1).unwrap_or(u32::MAX).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    let guid = |n: u64| {
        let mut g = [0u8; 16];
        g[..8].copy_from_slice(&seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n).to_le_bytes());
        g[8..].copy_from_slice(&n.wrapping_mul(0xBF58_476D_1CE4_E5B9).to_le_bytes());
        g[7] = (g[7] & 0x0F) | 0x40; // version 4
        g[8] = (g[8] & 0x3F) | 0x80; // variant
        g
    };
    let mut array = vec![0u8; ENTRIES * ENTRY_BYTES];
    for (i, (p, e)) in parts.iter().zip(array.chunks_exact_mut(ENTRY_BYTES)).enumerate() {
        e[..16].copy_from_slice(&LINUX_DATA);
        e[16..32].copy_from_slice(&guid(i as u64 + 1));
        e[32..40].copy_from_slice(&p.first_lba.to_le_bytes());
        e[40..48].copy_from_slice(&p.last_lba.to_le_bytes());
        for (unit, slot) in p.name.encode_utf16().take(36).zip(e[56..128].chunks_exact_mut(2)) {
            slot.copy_from_slice(&unit.to_le_bytes());
        }
    }
    let array_crc = crc32(&array);
    let last = sectors - 1;
    for (my, alternate, array_lba) in [(1, last, 2), (last, 1, last - ENTRY_SECTORS)] {
        let mut h = [0u8; HEADER_BYTES];
        h[..8].copy_from_slice(SIGNATURE);
        h[8..12].copy_from_slice(&REVISION.to_le_bytes());
        h[12..16].copy_from_slice(&(HEADER_BYTES as u32).to_le_bytes());
        h[24..32].copy_from_slice(&my.to_le_bytes());
        h[32..40].copy_from_slice(&alternate.to_le_bytes());
        h[40..48].copy_from_slice(&first_usable.to_le_bytes());
        h[48..56].copy_from_slice(&last_usable.to_le_bytes());
        h[56..72].copy_from_slice(&guid(0));
        h[72..80].copy_from_slice(&array_lba.to_le_bytes());
        h[80..84].copy_from_slice(&(ENTRIES as u32).to_le_bytes());
        h[84..88].copy_from_slice(&(ENTRY_BYTES as u32).to_le_bytes());
        h[88..92].copy_from_slice(&array_crc.to_le_bytes());
        let crc = crc32(&h);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        let at = my as usize * SECTOR;
        disk[at..at + HEADER_BYTES].copy_from_slice(&h);
        let at = array_lba as usize * SECTOR;
        disk[at..at + array.len()].copy_from_slice(&array);
    }
    Some(disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(disk: &[u8]) -> impl FnMut(u64, &mut [u8]) -> Result<(), ()> + '_ {
        move |lba, buf| {
            let at = lba as usize * SECTOR;
            let src = disk.get(at..at + buf.len()).ok_or(())?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    fn sample() -> Vec<u8> {
        let parts = [
            NewPartition { name: "alpha", first_lba: 2048, last_lba: 6143 },
            NewPartition { name: "beta", first_lba: 6144, last_lba: 14335 },
        ];
        build(16384, &parts, 7).expect("fits")
    }

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip() {
        let disk = sample();
        assert_eq!(&disk[SECTOR..SECTOR + 8], SIGNATURE);
        assert_eq!(&disk[510..512], &[0x55, 0xAA]);
        let table = read(16384, reader(&disk)).expect("valid");
        assert!(table.primary);
        assert_eq!(table.entries.len(), 2);
        assert_eq!(
            table.entries[0],
            Entry { number: 1, first_lba: 2048, last_lba: 6143, name: "alpha".into(), bad: false }
        );
        assert_eq!(table.entries[1].name, "beta");
        assert_eq!(table.entries[1].sectors(), 8192);
    }

    #[test]
    fn bad_primary_falls_back_to_backup() {
        let mut disk = sample();
        disk[SECTOR + 40] ^= 1; // header CRC now wrong
        let table = read(16384, reader(&disk)).expect("backup");
        assert!(!table.primary);
        assert_eq!(table.entries.len(), 2);
    }

    #[test]
    fn both_headers_bad() {
        let mut disk = sample();
        disk[SECTOR] = b'X';
        let last = 16383 * SECTOR;
        disk[last] = b'X';
        assert_eq!(read(16384, reader(&disk)), Err(GptError::Signature));
        let mut disk = sample();
        disk[2 * SECTOR + 100] ^= 1; // primary entries
        let end = (16383 - ENTRY_SECTORS as usize) * SECTOR;
        disk[end + 100] ^= 1; // backup entries
        assert_eq!(read(16384, reader(&disk)), Err(GptError::EntriesCrc));
        assert_eq!(read(16384, |_, _: &mut [u8]| Err::<(), ()>(())), Err(GptError::Read));
        assert_eq!(read(1, |_, _: &mut [u8]| Err::<(), ()>(())), Err(GptError::Read));
    }

    #[test]
    fn entries_outside_the_usable_range_are_bad() {
        let mut disk = sample();
        let e = 2 * SECTOR + ENTRY_BYTES; // entry 2
        disk[e + 40..e + 48].copy_from_slice(&20000u64.to_le_bytes());
        let crc = crc32(&disk[2 * SECTOR..2 * SECTOR + ENTRIES * ENTRY_BYTES]);
        disk[SECTOR + 88..SECTOR + 92].copy_from_slice(&crc.to_le_bytes());
        let mut h = [0u8; HEADER_BYTES];
        h.copy_from_slice(&disk[SECTOR..SECTOR + HEADER_BYTES]);
        h[16..20].fill(0);
        let crc = crc32(&h);
        disk[SECTOR + 16..SECTOR + 20].copy_from_slice(&crc.to_le_bytes());
        let table = read(16384, reader(&disk)).expect("valid");
        assert!(table.primary);
        assert!(!table.entries[0].bad);
        assert!(table.entries[1].bad);
    }

    #[test]
    fn build_refuses_what_does_not_fit() {
        assert!(build(16384, &[NewPartition { name: "x", first_lba: 10, last_lba: 100 }], 0).is_none());
        assert!(build(16384, &[NewPartition { name: "x", first_lba: 2048, last_lba: 16383 }], 0).is_none());
        assert!(build(40, &[], 0).is_none());
    }
}
